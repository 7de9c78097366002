// TCP/UDP throughput with iperf3 -J between two targets.
import { startBackground } from './background.ts';
import { summarize, type Stats } from './stats.ts';
import { shellLine } from '../guest/os.ts';
import { excerpt, type Exec, type IpFamily } from './target.ts';

export interface ThroughputOptions {
  /** Test length (-t). Default 3. */
  seconds?: number;
  /** Parallel streams (-P). Default 1. */
  parallel?: number;
  /** Server sends, client receives (-R). */
  reverse?: boolean;
  family?: IpFamily;
  /** Server port. Default 5201. */
  port?: number;
  /** Seconds per reported interval (-i, at least 0.1). Default 1. */
  intervalS?: number;
}

export interface UdpThroughputOptions extends ThroughputOptions {
  /** Target rate (-b), iperf3 syntax: "500M", "1G". Default "500M". */
  bitrate?: string;
}

export interface ThroughputResult {
  protocol: 'tcp' | 'udp';
  /** Receiver-side rate in bits/s (end.sum_received); the number to assert on. */
  bitsPerSecond: number;
  /** Sender-side rate in bits/s (end.sum_sent). */
  sentBitsPerSecond: number;
  /** TCP only: retransmits counted by the sender. */
  retransmits?: number;
  /** UDP only: datagrams lost, percent, as the receiver saw them. */
  lossPct?: number;
  lostPackets?: number;
  packets?: number;
  /** UDP only: receiver jitter, ms. */
  jitterMs?: number;
  /** Per-interval (1 s by default) rates in bits/s, from intervals[].sum — measured on the client side. */
  intervals: number[];
  /** The same intervals with their span, seconds after the test started. */
  spans: { startS: number; endS: number; bitsPerSecond: number }[];
  /** With `intervalS`: when the client started, Unix ms on its clock (to line intervals up with other events). */
  startedAtMs?: number;
  /** Over intervals (bits/s); lossPct is always 0 here. */
  stats: Stats;
  /** iperf3's version string, e.g. "iperf 3.12". */
  version?: string;
  command: string;
  serverCommand: string;
  tool: 'iperf3';
}

export function tcpThroughput(client: Exec, server: Exec, serverAddr: string, opts: ThroughputOptions = {}): Promise<ThroughputResult> {
  return runIperf(client, server, serverAddr, opts, undefined);
}

export function udpThroughput(client: Exec, server: Exec, serverAddr: string, opts: UdpThroughputOptions = {}): Promise<ThroughputResult> {
  return runIperf(client, server, serverAddr, opts, opts.bitrate ?? '500M');
}

export function iperfClientCommand(addr: string, o: ThroughputOptions & { bitrate?: string }): string {
  // A bounded connect: an unreachable server is a fast, readable failure, not a TCP SYN back-off.
  const args = ['iperf3', '-c', addr.replace(/^\[|\]$/g, ''), '-p', String(o.port ?? 5201), '-J', '-t', String(o.seconds ?? 3), '--connect-timeout', '3000'];
  if (o.family) args.push(`-${o.family}`);
  if (o.bitrate !== undefined) args.push('-u', '-b', o.bitrate);
  if ((o.parallel ?? 1) > 1) args.push('-P', String(o.parallel));
  if (o.reverse) args.push('-R');
  if (o.intervalS !== undefined) args.push('-i', String(o.intervalS));
  return shellLine(args);
}

/**
 * Starts a one-off server (-s -1), runs the client, parses its JSON and always
 * stops the server. Throws on iperf3 errors ("error" in the JSON) with iperf3's text.
 */
async function runIperf(client: Exec, server: Exec, serverAddr: string, opts: ThroughputOptions, bitrate: string | undefined): Promise<ThroughputResult> {
  const port = opts.port ?? 5201;
  const seconds = opts.seconds ?? 3;
  // Not -D: a daemon forks, so $! would not be its pid; startBackground's nohup keeps it.
  const serverCommand = `iperf3 -s -1 -p ${port}`;
  const command = iperfClientCommand(serverAddr, { ...opts, port, seconds, bitrate });
  const srv = await startBackground(server, serverCommand, { port, proto: 'tcp' });
  try {
    // With intervals asked for, the client's clock at start goes to stderr, so they can be placed in time.
    const stamp = opts.intervalS !== undefined ? 'echo "kvnet-t0=$(date +%s%N)" >&2; ' : '';
    const r = await client.exec(`${stamp}${command}`, { timeoutMs: seconds * 1000 + 30_000 });
    const t0 = /kvnet-t0=(\d+)/.exec(r.stderr);
    const parsed = parseIperf3(r.stdout, r.stderr.replace(/kvnet-t0=\d+\n?/, ''), command);
    return { ...parsed, ...(t0 ? { startedAtMs: Number(t0[1]) / 1e6 } : {}), command, serverCommand, tool: 'iperf3' };
  } finally {
    await srv.stop();
  }
}

let seq = 0;

/**
 * TCP iperf3 that runs until `stop()`: the client runs detached in `client` into a log, and stop
 * interrupts it (iperf3 still reports what it measured on SIGINT), so the run lasts exactly as long
 * as whatever it is measured around. `maxSeconds` bounds it if stop never comes (default 600).
 */
export async function startTcpThroughput(client: Exec, server: Exec, serverAddr: string, opts: Omit<ThroughputOptions, 'seconds'> & { maxSeconds?: number } = {}): Promise<{ stop(): Promise<ThroughputResult> }> {
  const port = opts.port ?? 5201;
  const serverCommand = `iperf3 -s -1 -p ${port}`;
  const command = iperfClientCommand(serverAddr, { ...opts, port, seconds: opts.maxSeconds ?? 600 });
  const log = `/tmp/kvnet-iperf-${process.pid}-${++seq}`;
  const srv = await startBackground(server, serverCommand, { port, proto: 'tcp' });
  const r = await client.exec(`nohup sh -c ${shellLine([`echo "kvnet-t0=$(date +%s%N)" >&2; exec ${command}`])} >${log}.json 2>${log}.err </dev/null & echo $! >${log}.pid; echo STARTED`, { timeoutMs: 15_000 });
  if (!r.stdout.includes('STARTED')) { await srv.stop(); throw new Error(`iperf3: '${command}' did not start: ${excerpt(r.stdout + r.stderr)}`); }
  return {
    async stop(): Promise<ThroughputResult> {
      try {
        const out = await client.exec(`p=$(cat ${log}.pid); kill -INT $p 2>/dev/null; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 200 ]; do i=$((i+1)); sleep 0.05; done; cat ${log}.json; echo; echo kvnet-stderr; cat ${log}.err; rm -f ${log}.json ${log}.err ${log}.pid`, { timeoutMs: 30_000 });
        const [json, err = ''] = out.stdout.split('\nkvnet-stderr\n');
        const t0 = /kvnet-t0=(\d+)/.exec(err);
        // The interrupt is how this run ends, not an error of the measurement.
        let text = json;
        try {
          const j = JSON.parse(json) as IperfJson;
          if (j.error?.startsWith('interrupt - ')) { delete j.error; text = JSON.stringify(j); }
        } catch { /* parseIperf3 names it */ }
        const parsed = parseIperf3(text, err.replace(/kvnet-t0=\d+\n?/, ''), command);
        return { ...parsed, ...(t0 ? { startedAtMs: Number(t0[1]) / 1e6 } : {}), command, serverCommand, tool: 'iperf3' };
      } finally {
        await srv.stop();
      }
    },
  };
}

interface IperfSum {
  bits_per_second?: number;
  retransmits?: number;
  jitter_ms?: number;
  lost_percent?: number;
  lost_packets?: number;
  packets?: number;
}

interface IperfJson {
  error?: string;
  start?: { version?: string; test_start?: { protocol?: string } };
  intervals?: { sum?: IperfSum & { start?: number; end?: number } }[];
  end?: { sum?: IperfSum; sum_sent?: IperfSum; sum_received?: IperfSum };
}

/** Parse `iperf3 -J` client output. Exported for tests. */
export function parseIperf3(stdout: string, stderr = '', command = 'iperf3'): Omit<ThroughputResult, 'command' | 'serverCommand' | 'tool'> {
  let j: IperfJson;
  try {
    j = JSON.parse(stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3: '${command}' did not print JSON: ${excerpt(stderr || stdout)}`);
  }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const protocol = j.start?.test_start?.protocol === 'UDP' ? 'udp' : 'tcp';
  const end = j.end ?? {};
  // Old iperf3 UDP output has only end.sum; newer has sum_sent/sum_received too.
  const sent = end.sum_sent ?? end.sum;
  const received = end.sum_received ?? end.sum;
  if (sent?.bits_per_second === undefined || received?.bits_per_second === undefined) {
    throw new Error(`iperf3: no end.sum_sent/sum_received in JSON of '${command}'`);
  }
  const sums = (j.intervals ?? []).map((i) => i.sum).filter((x): x is IperfSum & { start?: number; end?: number } => typeof x?.bits_per_second === 'number');
  const intervals = sums.map((x) => x.bits_per_second as number);
  const spans = sums.map((x) => ({ startS: x.start ?? 0, endS: x.end ?? 0, bitsPerSecond: x.bits_per_second as number }));
  const udp = protocol === 'udp' ? (end.sum_received ?? end.sum ?? {}) : undefined;
  return {
    protocol,
    bitsPerSecond: received.bits_per_second,
    sentBitsPerSecond: sent.bits_per_second,
    ...(protocol === 'tcp' && sent.retransmits !== undefined ? { retransmits: sent.retransmits } : {}),
    ...(udp?.lost_percent !== undefined ? { lossPct: udp.lost_percent } : {}),
    ...(udp?.lost_packets !== undefined ? { lostPackets: udp.lost_packets } : {}),
    ...(udp?.packets !== undefined ? { packets: udp.packets } : {}),
    ...(udp?.jitter_ms !== undefined ? { jitterMs: udp.jitter_ms } : {}),
    intervals,
    spans,
    stats: summarize(intervals),
    ...(j.start?.version ? { version: j.start.version } : {}),
  };
}
