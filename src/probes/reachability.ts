// TCP connect and UDP request/reply checks with socat, plus the responders they talk to.
import { startBackground } from './background.ts';
import { shellLine } from '../guest/os.ts';
import { excerpt, socatHost, type Exec, type IpFamily } from './target.ts';

export interface ReachabilityResult {
  reachable: boolean;
  /**
   * Wall time of the whole socat run in ms, measured in the guest with `date +%s%N`.
   * It includes socat's process start (several ms), so it is an upper bound on the
   * handshake/exchange time; use icmpLatency for RTT. Present only when reachable.
   */
  rttMs?: number;
  /** What the peer sent back (UDP reply, or the TCP responder's text with readReply). */
  reply?: string;
  /** socat's stderr (e.g. "Connection refused", "Connection timed out") when not reachable. */
  error?: string;
  command: string;
  tool: 'socat';
}

export interface TcpConnectOptions {
  /** Connect timeout; the exec gets this plus slack. Default 3000. */
  timeoutMs?: number;
  /** Read what the server sends until it closes (e.g. a startTcpResponder text). Default false: connect and close. */
  readReply?: boolean;
}

export interface UdpExchangeOptions {
  /** Datagram to send. Default "kvnet-ping". */
  payload?: string;
  /** How long to wait for the reply. Default 3000. */
  timeoutMs?: number;
  /** socat stops reading after this many reply bytes. Default payload length (an echo). */
  replyBytes?: number;
}

const secs = (ms: number): string => (ms / 1000).toFixed(3);

/** Wrap a command so its exit code and duration come back on the last stdout line. */
function timed(cmd: string): string {
  return `s=$(date +%s%N); ${cmd}; rc=$?; e=$(date +%s%N); echo; echo "KVNET rc=$rc ns=$((e-s))"`;
}

function parseTimed(stdout: string): { rc: number; ms: number; body: string } {
  const m = /\n?KVNET rc=(\d+) ns=(-?\d+)\s*$/.exec(stdout);
  if (!m) throw new Error(`reachability: could not parse timing trailer from ${JSON.stringify(excerpt(stdout, 300))}`);
  // timed() adds one newline before the trailer; strip exactly it.
  const body = stdout.slice(0, m.index).replace(/\n$/, '');
  return { rc: Number(m[1]), ms: Number(m[2]) / 1e6, body };
}

export async function tcpConnect(from: Exec, host: string, port: number, opts: TcpConnectOptions = {}): Promise<ReachabilityResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const addr = `TCP:${socatHost(host)}:${port},connect-timeout=${secs(timeoutMs)}`;
  // -u /dev/null: connect, send EOF, exit — no waiting for a server that never closes.
  const socat = shellLine(opts.readReply ? ['socat', '-T', secs(timeoutMs), '-u', addr, 'STDOUT'] : ['socat', '-u', '/dev/null', addr]);
  return run(from, socat, timeoutMs);
}

export async function udpExchange(from: Exec, host: string, port: number, opts: UdpExchangeOptions = {}): Promise<ReachabilityResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const payload = opts.payload ?? 'kvnet-ping';
  const replyBytes = opts.replyBytes ?? Buffer.byteLength(payload);
  // readbytes makes socat treat the reply as EOF and exit at once instead of idling for -t.
  const addr = `UDP:${socatHost(host)}:${port},readbytes=${replyBytes}`;
  const socat = `${shellLine(['printf', '%s', payload])} | ${shellLine(['socat', '-t', secs(timeoutMs), '-T', secs(timeoutMs), '-', addr])}`;
  const r = await run(from, socat, timeoutMs);
  // UDP has no handshake: no reply within the timeout is the "unreachable" signal.
  if (r.reachable && !r.reply) return { reachable: false, error: `no UDP reply within ${timeoutMs}ms`, command: r.command, tool: 'socat' };
  return r;
}

async function run(from: Exec, socat: string, timeoutMs: number): Promise<ReachabilityResult> {
  const command = timed(socat);
  const r = await from.exec(command, { timeoutMs: timeoutMs + 10_000 });
  const { rc, ms, body } = parseTimed(r.stdout);
  if (rc !== 0) return { reachable: false, error: excerpt(r.stderr) || `socat exited ${rc}`, command: socat, tool: 'socat' };
  return { reachable: true, rttMs: ms, ...(body ? { reply: body } : {}), command: socat, tool: 'socat' };
}

export interface ResponderOptions {
  /** Listen family: 4, 6, or undefined for dual-stack (IPv6 socket with ipv6only=0; needs IPv6 enabled in the guest). */
  family?: IpFamily;
}

function listenAddr(proto: 'TCP' | 'UDP', kind: 'LISTEN' | 'RECVFROM', port: number, family: IpFamily | undefined): string {
  const pf = family === 4 ? '4' : '6';
  const v6only = family === 6 ? ',ipv6only=1' : family === undefined ? ',ipv6only=0' : '';
  return `${proto}${pf}-${kind}:${port}${v6only},reuseaddr,fork`;
}

/** UDP echo server (each datagram is sent back to its sender). Returns the stop function. */
export async function startUdpEcho(guest: Exec, port: number, opts: ResponderOptions = {}): Promise<() => Promise<void>> {
  const cmd = shellLine(['socat', listenAddr('UDP', 'RECVFROM', port, opts.family), 'PIPE']);
  const bg = await startBackground(guest, cmd, { port, proto: 'udp' });
  return bg.stop;
}

/** TCP server that sends `text` to each client and closes. Returns the stop function. */
export async function startTcpResponder(guest: Exec, port: number, text: string, opts: ResponderOptions = {}): Promise<() => Promise<void>> {
  // Serve a file with -U (right-to-left only) so the text needs no escaping for socat's address parser.
  // Unique per call: parallel responders (and a sim's guests, which share the host's /tmp) must not share a file.
  const file = `/tmp/kvnet-resp-${port}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const w = await guest.exec(`${shellLine(['printf', '%s', text])} > ${file}`, { timeoutMs: 15_000 });
  if (w.code !== 0) throw new Error(`startTcpResponder: could not write ${file}: ${excerpt(w.stderr)}`);
  const cmd = shellLine(['socat', '-U', listenAddr('TCP', 'LISTEN', port, opts.family), `OPEN:${file}`]);
  const rm = async (): Promise<void> => {
    await guest.exec(`rm -f ${file}`, { timeoutMs: 15_000 }).catch(() => undefined);
  };
  const bg = await startBackground(guest, cmd, { port, proto: 'tcp' }).catch(async (e: unknown) => {
    await rm();
    throw e;
  });
  return async () => {
    await bg.stop();
    await rm();
  };
}
