// Path MTU by binary search over DF ping payload sizes.
import { shellLine } from '../guest/os.ts';
import { excerpt, type Exec, type IpFamily } from './target.ts';

export interface PathMtuOptions {
  family?: IpFamily;
  /** Smallest payload tried; must pass or pathMtu throws. Default 1200. */
  lo?: number;
  /** Largest payload tried; if it passes the result is capped at it. Default 9000. */
  hi?: number;
  /**
   * Attempts per size before calling it failed, so one lost packet does not shrink the MTU.
   * A local "message too long" is not retried. Default 2.
   */
  attempts?: number;
}

export interface PathMtuResult {
  /** Largest ICMP payload (ping -s) that crossed with DF set. */
  maxPayload: number;
  /** maxPayload + 28 (IPv4 20 + ICMP 8) or + 48 (IPv6 40 + ICMPv6 8). */
  pathMtu: number;
  /** True when `hi` itself passed: the real path MTU may be larger. */
  capped: boolean;
  /** Every size tried, in order (one entry per size, after retries). */
  probes: { size: number; ok: boolean }[];
  family: IpFamily;
  command: string;
  tool: 'iputils ping';
}

export const headerBytes = (family: IpFamily): number => (family === 6 ? 48 : 28);

export function dfPingCommand(target: string, size: number, family: IpFamily): string {
  return shellLine(['ping', '-n', `-${family}`, '-M', 'do', '-s', String(size), '-c', '1', '-W', '1', target]);
}

/**
 * One DF echo of `size` payload bytes. true: a reply came back. false: no reply or
 * "message too long" (exit 1). Throws when ping cannot run at all (exit ≥ 2 or
 * signal: unknown host, network unreachable, invalid size).
 */
export async function dfPing(from: Exec, target: string, size: number, family: IpFamily = 4): Promise<boolean> {
  return (await dfProbe(from, target, size, family)).ok;
}

async function dfProbe(from: Exec, target: string, size: number, family: IpFamily): Promise<{ ok: boolean; tooBig: boolean }> {
  const cmd = dfPingCommand(target, size, family);
  const r = await from.exec(cmd, { timeoutMs: 15_000 });
  if (r.code === 0) return { ok: /bytes from/.test(r.stdout), tooBig: false };
  // "local error: message too long" is the kernel's known (P)MTU: definitive, no retry needed.
  if (r.code === 1) return { ok: false, tooBig: /message too long/i.test(r.stderr + r.stdout) };
  throw new Error(`dfPing: '${cmd}' ${r.code === null ? 'was killed' : `exited ${r.code}`}: ${excerpt(r.stderr || r.stdout)}`);
}

/** Throws if even `lo` does not pass (target unreachable or MTU below lo). */
export async function pathMtu(from: Exec, target: string, opts: PathMtuOptions = {}): Promise<PathMtuResult> {
  const family = opts.family ?? 4;
  let lo = opts.lo ?? 1200;
  let hi = opts.hi ?? 9000;
  const attempts = Math.max(1, opts.attempts ?? 2);
  if (lo > hi) throw new RangeError(`pathMtu: lo ${lo} > hi ${hi}`);
  const probes: { size: number; ok: boolean }[] = [];
  const passes = async (size: number): Promise<boolean> => {
    let ok = false;
    for (let i = 0; i < attempts && !ok; i++) {
      const p = await dfProbe(from, target, size, family);
      ok = p.ok;
      if (p.tooBig) break;
    }
    probes.push({ size, ok });
    return ok;
  };
  const done = (maxPayload: number, capped: boolean): PathMtuResult => ({
    maxPayload, pathMtu: maxPayload + headerBytes(family), capped, probes, family,
    command: dfPingCommand(target, maxPayload, family), tool: 'iputils ping',
  });
  if (!(await passes(lo))) {
    throw new Error(`pathMtu: a ${lo}-byte DF ping to ${target} got no reply (unreachable, or MTU below ${lo + headerBytes(family)}); probes: ${JSON.stringify(probes)}`);
  }
  if (await passes(hi)) return done(hi, true);
  // Invariant: lo passes, hi fails.
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await passes(mid)) lo = mid;
    else hi = mid;
  }
  return done(lo, false);
}

export interface FullMtuResult {
  /** The largest DF payload equal to mtu − headers got a reply. */
  full: boolean;
  mtu: number;
  /** Largest payload that got a reply (binary search from `lo`); undefined when even `lo` got none. */
  largestPayload?: number;
  detail: string;
}

/**
 * Whether the path to `target` carries a full `mtu`-byte packet with DF set; when not, how much it
 * carries (DF probes between `lo` and mtu − headers): a PMTU black hole shows as a number, not a timeout.
 */
export async function carriesMtu(from: Exec, target: string, mtu: number, opts: { family?: IpFamily; lo?: number; attempts?: number } = {}): Promise<FullMtuResult> {
  const family = opts.family ?? 4;
  const full = mtu - headerBytes(family);
  if (await dfPing(from, target, full, family)) return { full: true, mtu, largestPayload: full, detail: `a ${full}-byte DF payload (${mtu}-byte packet) crossed` };
  const lo = Math.min(opts.lo ?? 1200, full);
  try {
    const r = await pathMtu(from, target, { family, lo, hi: full, attempts: opts.attempts });
    return { full: r.capped, mtu, largestPayload: r.maxPayload, detail: `the path carries ${r.pathMtu}-byte packets, not ${mtu} (largest DF payload ${r.maxPayload})` };
  } catch (e) {
    return { full: false, mtu, detail: `not even a ${lo}-byte DF payload crossed: ${(e as Error).message}` };
  }
}
