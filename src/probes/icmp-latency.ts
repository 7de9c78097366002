// ICMP echo latency with iputils ping, one sample per reply line (not just the summary).
import { summarize, type Stats } from './stats.ts';
import { shellLine } from '../guest/os.ts';
import { excerpt, type Exec, type IpFamily, heldOutput } from './target.ts';

export interface IcmpLatencyOptions {
  /** Echo requests to send. Default 20. */
  count?: number;
  /** Seconds between requests. Default 0.2 — real ping needs root below 0.2. */
  intervalS?: number;
  family?: IpFamily;
  /** ICMP payload bytes (-s). */
  size?: number;
  /** Exec timeout. Default count·interval + 15 s. */
  timeoutMs?: number;
}

export interface IcmpReply {
  seq: number;
  ttl?: number;
  timeMs: number;
  /** A duplicate reply for a seq already answered ("(DUP!)"). */
  dup: boolean;
}

export interface IcmpLatencyResult {
  target: string;
  /** The address ping resolved the target to (from its "PING x (addr)" header). */
  address?: string;
  /** Requests sent, from ping's summary. */
  sent: number;
  /** Distinct seqs answered (duplicates excluded). */
  received: number;
  duplicates: number;
  /** ICMP errors ping counted (e.g. "local error: message too long", unreachable). */
  errors: number;
  /** RTT in ms, one per distinct answered seq, in seq order. */
  samples: number[];
  /** Every reply line parsed, duplicates included, in arrival order. */
  replies: IcmpReply[];
  /** Seqs 1..sent with no reply. */
  lostSeqs: number[];
  /** Over samples; lossPct = 100·(sent - received)/sent. */
  stats: Stats;
  exitCode: number;
  command: string;
  tool: 'iputils ping';
}

export function pingCommand(target: string, o: { count: number; intervalS: number; family?: IpFamily; size?: number }): string {
  // -W 2: with no reply at all ping lingers 10 s after its last request; a reply later than 2 s is loss here anyway.
  const args = ['ping', '-n', '-c', String(o.count), '-i', String(o.intervalS), '-W', '2'];
  if (o.family) args.push(`-${o.family}`);
  if (o.size !== undefined) args.push('-s', String(o.size));
  args.push(target);
  return shellLine(args);
}

/**
 * Throws when ping could not run (unknown host, bad option: exit ≥ 2, signal, or
 * output it does not understand). Exit 1 with missing replies is a result, with loss.
 */
export async function icmpLatency(from: Exec, target: string, opts: IcmpLatencyOptions = {}): Promise<IcmpLatencyResult> {
  const count = opts.count ?? 20;
  const intervalS = opts.intervalS ?? 0.2;
  const command = pingCommand(target, { count, intervalS, family: opts.family, size: opts.size });
  const timeoutMs = opts.timeoutMs ?? Math.ceil(count * intervalS * 1000) + 15_000;
  const r = await from.exec(heldOutput(command), { timeoutMs });
  if (r.code !== 0 && r.code !== 1) {
    throw new Error(`icmpLatency: '${command}' ${r.code === null ? 'was killed' : `exited ${r.code}`}: ${excerpt(r.stderr || r.stdout)}`);
  }
  return { ...parsePing(r.stdout, r.stderr, command), target, exitCode: r.code, command, tool: 'iputils ping' };
}

const REPLY = /^\d+ bytes from .+?: (?:icmp_)?seq=(\d+)(?: ttl=(\d+))?.*? time[=<]\s*([\d.]+)\s*ms(.*)$/;
const HEADER = /^PING \S+?\s?\(([^)]+)\)/;

/** Parse iputils ping stdout. Exported for tests. */
export function parsePing(stdout: string, stderr = '', command = 'ping'): Omit<IcmpLatencyResult, 'target' | 'exitCode' | 'command' | 'tool'> {
  const replies: IcmpReply[] = [];
  const firstBySeq = new Map<number, number>();
  let address: string | undefined;
  let summary: { sent: number; received: number; errors: number } | undefined;
  for (const line of stdout.split('\n')) {
    const l = line.trim();
    const h = HEADER.exec(l);
    if (h && address === undefined) address = h[1];
    const m = REPLY.exec(l);
    if (m) {
      const seq = Number(m[1]);
      const timeMs = Number(m[3]);
      const dup = /\(DUP!\)/.test(m[4]) || firstBySeq.has(seq);
      replies.push({ seq, ...(m[2] ? { ttl: Number(m[2]) } : {}), timeMs, dup });
      if (!firstBySeq.has(seq)) firstBySeq.set(seq, timeMs);
      continue;
    }
    const s = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(l);
    if (s) {
      summary = {
        sent: Number(s[1]),
        received: Number(s[2]),
        errors: Number(/\+(\d+) errors/.exec(l)?.[1] ?? 0),
      };
    }
  }
  if (!summary) {
    throw new Error(`icmpLatency: no summary line in output of '${command}': ${excerpt(stdout + '\n' + stderr)}`);
  }
  // ping's own count excludes duplicates; if it saw replies we did not parse, our regex is wrong.
  if (summary.received !== firstBySeq.size) {
    throw new Error(`icmpLatency: parsed ${firstBySeq.size} distinct replies but ping reports ${summary.received} received: ${excerpt(stdout)}`);
  }
  const seqs = [...firstBySeq.keys()].sort((a, b) => a - b);
  const samples = seqs.map((s) => firstBySeq.get(s) as number);
  const lostSeqs: number[] = [];
  for (let s = 1; s <= summary.sent; s++) if (!firstBySeq.has(s)) lostSeqs.push(s);
  return {
    ...(address !== undefined ? { address } : {}),
    sent: summary.sent,
    received: firstBySeq.size,
    duplicates: replies.filter((r) => r.dup).length,
    errors: summary.errors,
    samples,
    replies,
    lostSeqs,
    stats: summarize(samples, { sent: summary.sent }),
  };
}
