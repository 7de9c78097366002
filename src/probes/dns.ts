// Name resolution through the guest's resolver (getent → NSS → /etc/resolv.conf), timed in the guest.
import { summarize, type Stats } from './stats.ts';
import { shellLine } from '../guest/os.ts';
import { excerpt, type Exec, type IpFamily } from './target.ts';

export interface ResolveOptions {
  /** 4 → ahostsv4, 6 → ahostsv6, undefined → ahosts (both). */
  family?: IpFamily;
  /** Lookups to time. Default 1. */
  count?: number;
  /** Exec timeout for the whole loop. Default 10 s per lookup. */
  timeoutMs?: number;
  /**
   * Bound on each lookup in seconds (coreutils `timeout` in the guest): on a dead path the resolver
   * would otherwise try every search domain, attempts × timeout each, before it gives up.
   */
  limitS?: number;
}

export interface ResolveResult {
  name: string;
  /** Distinct addresses from all successful lookups, in first-seen order. */
  addresses: string[];
  /** ms per successful lookup (includes getent's process start). */
  samples: number[];
  /** Lookups where getent exited nonzero (2 = not found). */
  failures: number;
  /** Over samples; lossPct = failed lookups / count. */
  stats: Stats;
  command: string;
  tool: 'getent';
}

export function resolveCommand(name: string, family: IpFamily | undefined, count: number, limitS?: number): string {
  const db = family === 4 ? 'ahostsv4' : family === 6 ? 'ahostsv6' : 'ahosts';
  const lookup = [...(limitS ? ['timeout', String(Math.max(1, Math.ceil(limitS)))] : []), 'getent', db, name];
  // One exec for all samples: the SSH round-trip stays out of the timings.
  const loop = (now: string) => [
    `i=0; while [ $i -lt ${count} ]; do`,
    `  s=${now}; out=$(${shellLine(lookup)}); rc=$?; e=${now}`,
    `  echo "S $rc $((e-s))"; [ -n "$out" ] && printf '%s\\n' "$out" | sed 's/^/A /'`,
    `  i=$((i+1))`,
    `done`,
  ].join('\n');
  // bash's clock is a variable; plain sh needs a `date` process on each side of every lookup,
  // which on a busy machine was most of the time measured.
  return `if command -v bash >/dev/null 2>&1; then ${shellLine(['bash', '-c', loop('$((${EPOCHREALTIME//[!0-9]/} * 1000))')])}; else\n${loop('$(date +%s%N)')}\nfi`;
}

/** Throws only when the loop's output cannot be parsed (e.g. a date without %N). NXDOMAIN is a failure count. */
export async function resolve(from: Exec, name: string, opts: ResolveOptions = {}): Promise<ResolveResult> {
  const count = opts.count ?? 1;
  const command = resolveCommand(name, opts.family, count, opts.limitS);
  const r = await from.exec(command, { timeoutMs: opts.timeoutMs ?? count * 10_000 + 5_000 });
  return { ...parseResolve(r.stdout, count, command), name, command, tool: 'getent' };
}

/** Exported for tests. */
export function parseResolve(stdout: string, count: number, command = 'getent'): Omit<ResolveResult, 'name' | 'command' | 'tool'> {
  const samples: number[] = [];
  const addresses: string[] = [];
  let failures = 0;
  let lookups = 0;
  for (const line of stdout.split('\n')) {
    const s = /^S (\d+) (\d+)$/.exec(line.trim());
    if (s) {
      lookups++;
      if (s[1] === '0') samples.push(Number(s[2]) / 1e6);
      else failures++;
      continue;
    }
    const a = /^A (\S+)\s/.exec(line);
    if (a && !addresses.includes(a[1])) addresses.push(a[1]);
  }
  if (lookups !== count) throw new Error(`resolve: expected ${count} timed lookups, parsed ${lookups} from '${command}': ${excerpt(stdout)}`);
  return { addresses, samples, failures, stats: summarize(samples, { sent: count }) };
}
