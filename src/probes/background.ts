// Start a listener in the background on a target and wait until its port is bound.
// `nohup CMD </dev/null >LOG 2>&1 & echo $!`: every fd is redirected so the SSH exec
// returns at once, and $! is the listener's own pid (nohup execs it) so stop can kill it.
import { shellLine } from '../guest/os.ts';
import { excerpt, targetName, type Exec } from './target.ts';

export interface BackgroundProcess {
  pid: number;
  /** Kill the process (idempotent, never throws) and remove its log. */
  stop(): Promise<void>;
}

export interface StartBackgroundOptions {
  port: number;
  proto: 'tcp' | 'udp';
  /** How long to wait for the port to show up in `ss -l`. Default 10 s. */
  readyTimeoutMs?: number;
}

let seq = 0;

export async function startBackground(t: Exec, cmd: string, opts: StartBackgroundOptions): Promise<BackgroundProcess> {
  const log = `/tmp/kvnet-probe-${opts.port}-${process.pid}-${++seq}.log`;
  const started = await t.exec(`nohup ${cmd} </dev/null >${log} 2>&1 & echo $!`, { timeoutMs: 15_000 });
  const pid = Number.parseInt(started.stdout.trim(), 10);
  // A lost exit status (code null) with a pid printed is still a start; the readiness poll below decides.
  if ((started.code !== 0 && started.code !== null) || !Number.isInteger(pid)) {
    throw new Error(`${targetName(t)}: could not start '${cmd}' (exit ${started.code}): ${excerpt(started.stderr || started.stdout)}`);
  }
  const stop = async (): Promise<void> => {
    await t.exec(`kill ${pid} 2>/dev/null; rm -f ${log}`, { timeoutMs: 15_000 }).catch(() => undefined);
  };
  const readyMs = opts.readyTimeoutMs ?? 10_000;
  const tries = Math.max(1, Math.ceil(readyMs / 50));
  const ssFlags = opts.proto === 'tcp' ? '-ltn' : '-lun';
  // One exec polls every 50 ms; falls back to a fixed wait when ss is missing.
  const poll = [
    `if ! command -v ss >/dev/null 2>&1; then sleep 0.5; echo READY; exit 0; fi`,
    `i=0; while :; do`,
    `  if ss ${ssFlags} | awk '{print $4}' | ${shellLine(['grep', '-Eq', `:${opts.port}$`])}; then echo READY; exit 0; fi`,
    `  kill -0 ${pid} 2>/dev/null || { echo DIED; cat ${log}; exit 3; }`,
    `  i=$((i+1)); [ $i -ge ${tries} ] && { echo TIMEOUT; cat ${log}; exit 4; }`,
    `  sleep 0.05`,
    `done`,
  ].join('\n');
  let r;
  try {
    r = await t.exec(poll, { timeoutMs: readyMs + 15_000 });
  } catch (e) {
    await stop();
    throw e;
  }
  if (r.code !== 0 || !r.stdout.startsWith('READY')) {
    await stop();
    throw new Error(`${targetName(t)}: '${cmd}' is not listening on ${opts.proto}/${opts.port}: ${excerpt(r.stdout + r.stderr)}`);
  }
  return { pid, stop };
}
