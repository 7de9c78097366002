// TCP request/response timings: connect, read what the server sends until it closes, repeat.
// From a guest (one exec, socat in a loop, timed in the guest) or from the harness itself (node:net),
// which is how a client outside the cluster reaches NodePort and LoadBalancer Services.
import net from 'node:net';
import { summarize, type Stats } from './stats.ts';
import { shellLine } from '../guest/os.ts';
import { excerpt, socatHost, type Exec } from './target.ts';

export interface RequestsOptions {
  /** Requests to make. Default 20. */
  count?: number;
  /** Per-request timeout. Default 3000. */
  timeoutMs?: number;
}

export interface RequestsResult {
  target: string;
  /** ms per successful request (from a guest: includes socat's process start). */
  samples: number[];
  /** What each successful request read, trimmed (a responder's name tells which backend answered). */
  replies: string[];
  failures: number;
  /** Over samples; lossPct = failed requests / count. */
  stats: Stats;
  /** Replies counted by text. */
  distribution: Record<string, number>;
  tool: 'socat' | 'node:net';
}

function tally(replies: string[]): Record<string, number> {
  const d: Record<string, number> = {};
  for (const r of replies) d[r] = (d[r] ?? 0) + 1;
  return d;
}

export async function tcpRequests(from: Exec, host: string, port: number, opts: RequestsOptions = {}): Promise<RequestsResult> {
  const count = opts.count ?? 20;
  const t = ((opts.timeoutMs ?? 3000) / 1000).toFixed(3);
  const socat = shellLine(['socat', '-T', t, '-u', `TCP:${socatHost(host)}:${port},connect-timeout=${t}`, 'STDOUT']);
  // rc is socat's own status (a pipeline would report its last command's): a request that
  // printed part of a reply and then failed counts as failed.
  const cmd = [
    `i=0; while [ $i -lt ${count} ]; do`,
    `  s=$(date +%s%N); out=$(${socat} 2>/dev/null); rc=$?; e=$(date +%s%N); out=$(printf %s "$out" | tr -d '\\n')`,
    `  [ -z "$out" ] && rc=1; echo "R $rc $((e-s)) $out"`,
    `  i=$((i+1))`,
    `done`,
  ].join('\n');
  const r = await from.exec(cmd, { timeoutMs: count * (opts.timeoutMs ?? 3000) + 10_000 });
  const samples: number[] = [];
  const replies: string[] = [];
  let failures = 0;
  let n = 0;
  for (const line of r.stdout.split('\n')) {
    const m = /^R (\d+) (\d+) ?(.*)$/.exec(line);
    if (!m) continue;
    n++;
    if (m[1] === '0') {
      samples.push(Number(m[2]) / 1e6);
      replies.push(m[3].trim());
    } else failures++;
  }
  if (n !== count) throw new Error(`tcpRequests: expected ${count} results, parsed ${n}: ${excerpt(r.stdout + r.stderr)}`);
  return { target: `${host}:${port}`, samples, replies, failures, stats: summarize(samples, { sent: count }), distribution: tally(replies), tool: 'socat' };
}

function oneRequest(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    let data = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)); }, timeoutMs);
    s.setEncoding('utf8').on('data', (d: string) => (data += d));
    s.on('connect', () => s.end());
    s.on('end', () => { clearTimeout(timer); resolve(data.trim()); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** The same, from the harness process: a client outside the cluster. */
export async function tcpRequestsFromHarness(host: string, port: number, opts: RequestsOptions = {}): Promise<RequestsResult & { errors: string[] }> {
  const count = opts.count ?? 20;
  const samples: number[] = [];
  const replies: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    try {
      const reply = await oneRequest(host, port, opts.timeoutMs ?? 3000);
      if (!reply) throw new Error(`${host}:${port} closed without a reply`);
      samples.push(performance.now() - t0);
      replies.push(reply);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return { target: `${host}:${port}`, samples, replies, failures: errors.length, errors, stats: summarize(samples, { sent: count }), distribution: tally(replies), tool: 'node:net' };
}
