// Guest downtime seen by a peer: a background iputils ping every 10 ms from the peer to the target
// (`ping -D -O`: receive timestamps, and a line for each request still unanswered when the next
// goes out), started on `Guest.stream` and stopped by closing its stdin. Its output is held in the
// peer until stop (as heldOutput), so no SSH traffic rides along the measurement. The result is a
// per-request timeline and the outages in it: runs of requests that got no reply.
import type { ClientChannel } from 'ssh2';
import { shellLine } from '../guest/os.ts';
import { summarize, type Stats } from './stats.ts';
import { excerpt, isIpv6Literal, targetName, type Exec } from './target.ts';

/** A peer that can run a long command with its stdin held open (a `Guest`). */
export interface StreamingPeer extends Exec {
  stream(cmd: string, onOpen?: (ch: ClientChannel) => void): Promise<ClientChannel>;
}

export interface DowntimeOptions {
  /** Milliseconds between requests. Default 10 (iputils lets a non-root user go down to 2). */
  intervalMs?: number;
  /** ping's -w: it ends by itself after this long even if stop is never called. Default 600 s. */
  maxDurationS?: number;
  /** How long start waits for the target's first reply (the positive control). Default 10 s. */
  readyTimeoutMs?: number;
  /** Requests sent this close to the end with no reply yet are dropped as undecided, not lost. Default 200 ms. */
  settleMs?: number;
}

export interface DowntimeSample {
  seq: number;
  /** When the request was sent, ms after the first request (the peer's clock). */
  tMs: number;
  /** The same instant as a Unix time in ms on the peer's clock, to line up with other events. */
  atMs: number;
  ok: boolean;
  /** Round trip of the reply, when there was one. */
  rttMs?: number;
}

export interface Outage {
  /** First request with no reply, ms on the timeline. */
  startMs: number;
  /** First request answered after it (or, for an outage still open at stop, one interval past the last request). */
  endMs: number;
  durationMs: number;
  lost: number;
  /** Still going when the sampler stopped. */
  open: boolean;
}

export interface Downtime {
  /** The longest outage: from its first unanswered request to the first answered one after it; 0 without loss. */
  longestGapMs: number;
  /** All outages added up. */
  totalMs: number;
  lostCount: number;
  sent: number;
  outages: Outage[];
  /**
   * The longest time no reply arrived, less one interval: requests held up (a queue waiting for
   * ARP, a link being moved) and answered late in a burst count here, not as lost.
   */
  longestSilenceMs: number;
  /** What a user of the path saw: the larger of longestGapMs and longestSilenceMs. */
  interruptionMs: number;
}

export interface DowntimeResult {
  target: string;
  command: string;
  intervalMs: number;
  /** RTTs of the answered requests, in seq order. */
  samples: number[];
  rtt: Stats;
  timeline: DowntimeSample[];
  downtime(): Downtime;
}

export interface DowntimeSampler {
  /** End the ping and collect its timeline. */
  stop(): Promise<DowntimeResult>;
  /** Bounded poll in the peer until ping has sent `n` requests (a reference window of known length). */
  waitSent(n: number, timeoutMs: number): Promise<void>;
}

let seq = 0;

export function downtimePingCommand(target: string, intervalMs: number, maxDurationS: number): string[] {
  // -W 1: a reply later than a second is an outage anyway, and ping's deadline does not wait longer.
  return ['ping', '-n', '-D', '-O', '-i', (intervalMs / 1000).toFixed(3), '-W', '1', '-w', String(maxDurationS), ...(isIpv6Literal(target) ? ['-6'] : []), target];
}

/**
 * Start pinging `target` from `peer`; resolves once the target has answered once, so a sampler
 * that starts is measuring a path that works. Throws (after stopping the ping) when it never does.
 */
export async function startDowntimeSampler(peer: StreamingPeer, target: string, opts: DowntimeOptions = {}): Promise<DowntimeSampler> {
  const intervalMs = opts.intervalMs ?? 10;
  const maxDurationS = opts.maxDurationS ?? 600;
  const log = `/tmp/kvnet-downtime-${process.pid}-${++seq}.log`;
  const ping = shellLine(downtimePingCommand(target, intervalMs, maxDurationS));
  // ping runs in the background into the log; the shell waits for stdin to close, then stops ping
  // with SIGINT (its summary still printed) and hands the log back.
  const script = `${ping} >${log} 2>&1 </dev/null & p=$!; echo STARTED; read _; kill -INT $p 2>/dev/null; wait $p; rc=$?; cat ${log}; rm -f ${log}; exit $rc`;
  const out: Buffer[] = [];
  let channel: ClientChannel | undefined;
  let failed: Error | undefined;
  let started!: () => void;
  const startedP = new Promise<void>((res) => (started = res));
  const closed = new Promise<void>((resolve) => {
    void peer.stream(script, (ch) => {
      // The first stdout is STARTED: ping is running (the rest comes only at stop).
      ch.on('data', (d: Buffer) => { out.push(d); started(); });
      ch.stderr.on('data', (d: Buffer) => out.push(d));
      ch.on('close', () => { started(); resolve(); });
    }).then((ch) => { channel = ch; }, (e: Error) => { failed = e; started(); resolve(); });
  });
  await startedP;
  if (failed) throw failed;

  const stop = async (): Promise<DowntimeResult> => {
    channel?.end();
    await closed;
    const text = Buffer.concat(out).toString('utf8').replace(/^STARTED\n/, '');
    const timeline = settled(parseDowntimePing(text, intervalMs), opts.settleMs ?? 200);
    if (timeline.length === 0) throw new Error(`downtime sampler on ${targetName(peer)}: '${ping}' sent nothing: ${excerpt(text)}`);
    return result(target, ping, intervalMs, timeline);
  };

  // The positive control: one reply in the log within the bound, checked by one polling exec.
  const readyMs = opts.readyTimeoutMs ?? 10_000;
  const tries = Math.max(1, Math.ceil(readyMs / 50));
  const poll = `i=0; until grep -q 'bytes from' ${log} 2>/dev/null; do i=$((i+1)); [ $i -ge ${tries} ] && { echo NOREPLY; exit 4; }; sleep 0.05; done; echo READY`;
  const r = await peer.exec(poll, { timeoutMs: readyMs + 15_000 }).catch((e: Error) => ({ code: null, stdout: e.message, stderr: '' }));
  if (r.code !== 0 || !r.stdout.includes('READY')) {
    const got = await stop().then((x) => `${x.timeline.length} requests, none answered`, (e: Error) => e.message);
    throw new Error(`downtime sampler on ${targetName(peer)}: ${target} did not answer within ${readyMs}ms (${got})`);
  }
  const waitSent = async (n: number, timeoutMs: number): Promise<void> => {
    // Each request leaves one stamped line: its reply or "no answer yet" (-O).
    const polls = Math.max(1, Math.ceil(timeoutMs / 50));
    const w = await peer.exec(`i=0; until [ "$(grep -c 'icmp_seq=' ${log} 2>/dev/null)" -ge ${Math.ceil(n)} ]; do i=$((i+1)); [ $i -ge ${polls} ] && { echo SHORT; exit 4; }; sleep 0.05; done; echo SENT`, { timeoutMs: timeoutMs + 15_000 });
    if (w.code !== 0 || !w.stdout.includes('SENT')) throw new Error(`downtime sampler on ${targetName(peer)}: ping to ${target} did not send ${n} requests within ${timeoutMs}ms`);
  };
  return { stop, waitSent };
}

/**
 * A sampler that outlives the SSH session it was started from: ping runs detached in `from`
 * (nohup, into a log in the guest), so a sampler inside a VM that live-migrates keeps its timeline
 * while its port-forward moves to the new launcher pod. `stop` takes the exec to read it back with
 * (the reconnected guest). Resolves once `target` has answered once (the positive control).
 */
export async function startDetachedSampler(from: Exec, target: string, opts: DowntimeOptions = {}): Promise<{ stop(via: Exec): Promise<DowntimeResult> }> {
  const intervalMs = opts.intervalMs ?? 10;
  const maxDurationS = opts.maxDurationS ?? 600;
  const log = `/tmp/kvnet-downtime-detached-${process.pid}-${++seq}.log`;
  const ping = shellLine(downtimePingCommand(target, intervalMs, maxDurationS));
  const readyMs = opts.readyTimeoutMs ?? 10_000;
  const tries = Math.max(1, Math.ceil(readyMs / 50));
  const r = await from.exec(`nohup ${ping} >${log} 2>&1 </dev/null & echo $! >${log}.pid; i=0; until grep -q 'bytes from' ${log} 2>/dev/null; do i=$((i+1)); [ $i -ge ${tries} ] && { kill -INT $(cat ${log}.pid); echo NOREPLY; exit 4; }; sleep 0.05; done; echo READY`, { timeoutMs: readyMs + 15_000 });
  if (r.code !== 0 || !r.stdout.includes('READY')) throw new Error(`detached downtime sampler on ${targetName(from)}: ${target} did not answer within ${readyMs}ms: ${excerpt(r.stdout + r.stderr)}`);
  return {
    async stop(via: Exec): Promise<DowntimeResult> {
      const out = await via.exec(`p=$(cat ${log}.pid); kill -INT $p 2>/dev/null; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do i=$((i+1)); sleep 0.05; done; cat ${log}; rm -f ${log} ${log}.pid`, { timeoutMs: 30_000 });
      const timeline = settled(parseDowntimePing(out.stdout, intervalMs), opts.settleMs ?? 200);
      if (timeline.length === 0) throw new Error(`detached downtime sampler on ${targetName(via)}: '${ping}' sent nothing: ${excerpt(out.stdout)}`);
      return result(target, ping, intervalMs, timeline);
    },
  };
}

const STAMP = /^\[(\d+(?:\.\d+)?)\]\s+(.*)$/;
const REPLY = /bytes from .*?icmp_seq=(\d+).*? time[=<]\s*([\d.]+)\s*ms/;
const NO_ANSWER = /no answer yet for icmp_seq=(\d+)/;
const SENT = /(\d+) packets transmitted/;

/**
 * The per-request timeline of `ping -D -O` output. A reply gives its request's send time (receive
 * stamp − RTT); a "no answer yet for N" line is printed as request N+1 goes out. Requests with
 * neither are placed between their neighbours. Duplicates and ICMP errors are not replies.
 */
export function parseDowntimePing(text: string, intervalMs: number): DowntimeSample[] {
  const sendAt = new Map<number, number>();
  const rtt = new Map<number, number>();
  let sent = 0;
  for (const line of text.split('\n')) {
    const s = SENT.exec(line);
    if (s) sent = Number(s[1]);
    const m = STAMP.exec(line.trim());
    if (!m) continue;
    const at = Number(m[1]) * 1000;
    const reply = REPLY.exec(m[2]);
    if (reply && !/\(DUP!\)/.test(m[2])) {
      const n = Number(reply[1]);
      if (rtt.has(n)) continue;
      rtt.set(n, Number(reply[2]));
      sent = Math.max(sent, n);
      sendAt.set(n, at - Number(reply[2]));
      continue;
    }
    const na = NO_ANSWER.exec(m[2]);
    if (na) {
      const next = Number(na[1]) + 1;
      sent = Math.max(sent, next);
      if (!sendAt.has(next)) sendAt.set(next, at);
    }
  }
  if (sent === 0 || sendAt.size === 0) return [];
  const known = [...sendAt.keys()].sort((a, b) => a - b);
  const timeAt = (n: number): number => {
    const t = sendAt.get(n);
    if (t !== undefined) return t;
    const before = known.filter((k) => k < n).at(-1);
    const after = known.find((k) => k > n);
    if (before !== undefined && after !== undefined) {
      const tb = sendAt.get(before) as number;
      return tb + ((sendAt.get(after) as number) - tb) * (n - before) / (after - before);
    }
    if (before !== undefined) return (sendAt.get(before) as number) + (n - before) * intervalMs;
    return (sendAt.get(after as number) as number) - ((after as number) - n) * intervalMs;
  };
  const t0 = timeAt(1);
  const out: DowntimeSample[] = [];
  for (let n = 1; n <= sent; n++) {
    const at = timeAt(n);
    const r = rtt.get(n);
    out.push({ seq: n, tMs: round(at - t0), atMs: round(at), ok: r !== undefined, ...(r !== undefined ? { rttMs: r } : {}) });
  }
  return out;
}

/** The timeline without its unanswered tail of the last `settleMs`: those replies may still have been on their way. */
export function settled(timeline: DowntimeSample[], settleMs: number): DowntimeSample[] {
  const last = timeline.at(-1)?.tMs ?? 0;
  let end = timeline.length;
  while (end > 0 && !timeline[end - 1].ok && timeline[end - 1].tMs > last - settleMs) end--;
  return timeline.slice(0, end);
}

/** Outages of a timeline (exported for tests and for charts). */
export function downtimeOf(timeline: readonly DowntimeSample[], intervalMs: number): Downtime {
  const outages: Outage[] = [];
  let i = 0;
  while (i < timeline.length) {
    if (timeline[i].ok) { i++; continue; }
    let j = i;
    while (j < timeline.length && !timeline[j].ok) j++;
    const open = j === timeline.length;
    const startMs = timeline[i].tMs;
    const endMs = open ? timeline[j - 1].tMs + intervalMs : timeline[j].tMs;
    outages.push({ startMs, endMs, durationMs: round(endMs - startMs), lost: j - i, open });
    i = j;
  }
  const arrivals = timeline.filter((x) => x.ok).map((x) => x.tMs + (x.rttMs as number)).sort((a, b) => a - b);
  let silence = 0;
  for (let k = 1; k < arrivals.length; k++) silence = Math.max(silence, arrivals[k] - arrivals[k - 1] - intervalMs);
  const longestGapMs = outages.reduce((m, o) => Math.max(m, o.durationMs), 0);
  return {
    longestSilenceMs: round(silence), interruptionMs: round(Math.max(longestGapMs, silence)),
    longestGapMs,
    totalMs: round(outages.reduce((s, o) => s + o.durationMs, 0)),
    lostCount: outages.reduce((s, o) => s + o.lost, 0),
    sent: timeline.length,
    outages,
  };
}

function result(target: string, command: string, intervalMs: number, timeline: DowntimeSample[]): DowntimeResult {
  const samples = timeline.filter((s) => s.ok).map((s) => s.rttMs as number);
  return {
    target, command, intervalMs, samples, timeline,
    rtt: summarize(samples, { sent: timeline.length }),
    downtime: () => downtimeOf(timeline, intervalMs),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
