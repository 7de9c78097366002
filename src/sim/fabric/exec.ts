// Running commands: one process per call, batched where the tool allows, because
// process spawn dominates plumbing time.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { inSandbox } from './sandbox.ts';

export interface RunOptions {
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** Run inside this `ip netns` namespace (via nsenter: cheaper than `ip netns exec`). */
  netns?: string;
  timeoutMs?: number;
  /** Resolve instead of rejecting on a nonzero exit. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class CommandError extends Error {
  constructor(readonly cmd: string[], readonly result: RunResult, readonly input?: string) {
    const shown = input && input.length < 4000 ? `\n--- input ---\n${input}` : '';
    super(`command failed (exit ${result.code}): ${cmd.join(' ')}\n${result.stderr.trim()}${shown}`);
    this.name = 'CommandError';
  }
}

export function netnsPath(netns: string): string {
  return `/run/netns/${netns}`;
}

/** Prefix a command so that it runs in the given netns. */
export function inNetns(netns: string | undefined, cmd: string[]): string[] {
  return netns ? ['nsenter', `--net=${netnsPath(netns)}`, '--', ...cmd] : cmd;
}

export function run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = inNetns(opts.netns, cmd);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new Error(`cannot run ${full.join(' ')}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const result = { stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr, code: code ?? 128 };
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError(full, result, opts.input));
      else resolve(result);
    });
    child.stdin.on('error', () => undefined); // the command may exit before reading stdin
    child.stdin.end(opts.input ?? '');
  });
}

// Spawning from Node costs ~2x a fork/exec from a shell here, so plumbing goes through a small
// pool of persistent `sh` workers that run whole scripts (heredocs feed the batch tools).

const POOL_SIZE = 4;
const DONE = '__kvnet_done';

class ShWorker {
  private readonly proc: ChildProcess;
  private readonly pending = new Map<number, (code: number) => void>();
  busy = 0;
  constructor(private readonly dir: string) {
    this.proc = spawn('sh', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdin!.on('error', () => undefined);
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const m = new RegExp(`^${DONE} (\\d+) (\\d+)$`).exec(line);
      if (!m) return;
      const cb = this.pending.get(Number(m[1]));
      this.pending.delete(Number(m[1]));
      cb?.(Number(m[2]));
    });
    this.proc.on('exit', () => {
      for (const cb of this.pending.values()) cb(255);
      this.pending.clear();
      workers.splice(workers.indexOf(this), 1);
    });
    this.proc.unref();
  }

  async exec(id: number, script: string): Promise<RunResult> {
    const out = join(this.dir, `${id}.out`);
    const err = join(this.dir, `${id}.err`);
    this.busy++;
    try {
      const code = await new Promise<number>((res) => {
        this.pending.set(id, res);
        this.proc.stdin!.write(`(\nset -e\n${script}\n) >${out} 2>${err} </dev/null; echo "${DONE} ${id} $?"\n`);
      });
      const read = (f: string) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } };
      const result = { stdout: read(out), stderr: read(err), code };
      rmSync(out, { force: true });
      rmSync(err, { force: true });
      return result;
    } finally {
      this.busy--;
    }
  }
}

const workers: ShWorker[] = [];
let workDir: string | undefined;
let jobSeq = 0;

/** Scratch space for worker jobs: inside the sandbox /run is a private tmpfs; elsewhere a temp dir. */
export function scratchDir(): string {
  if (!workDir) {
    if (inSandbox()) {
      workDir = '/run/kvnet-sh';
      mkdirSync(workDir, { recursive: true });
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'kvnet-sh-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      workDir = dir;
    }
  }
  return workDir;
}

function pickWorker(): ShWorker {
  scratchDir();
  const idle = workers.find((w) => w.busy === 0);
  if (idle) return idle;
  if (workers.length < POOL_SIZE) {
    const w = new ShWorker(scratchDir());
    workers.push(w);
    return w;
  }
  return workers.reduce((a, b) => (b.busy < a.busy ? b : a));
}

/** Run a shell script (set -e) on a persistent worker; rejects with the script and stderr on failure. */
export async function sh(script: string, opts: { allowFail?: boolean } = {}): Promise<RunResult> {
  const r = await pickWorker().exec(++jobSeq, script);
  if (r.code !== 0 && !opts.allowFail) throw new CommandError(['sh', '-c', '<script>'], r, script);
  return r;
}

/** Quote one word for sh. */
export function q(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A heredoc feeding `cmd` with `lines` (quoted delimiter: no expansion). */
export function heredoc(cmd: string, text: string): string {
  const tag = `__KVNET_EOF_${++heredocSeq}`; // unique, so heredocs can nest
  return `${cmd} <<'${tag}'\n${text.replace(/\n?$/, '\n')}${tag}`;
}
let heredocSeq = 0;

/** Script fragments, so callers can fold several steps into one worker job. */
export const frag = {
  ip(lines: string[], netns?: string): string {
    return lines.length ? heredoc(netns ? `ip -n ${q(netns)} -batch -` : 'ip -batch -', lines.join('\n')) : ':';
  },
  bridge(lines: string[], netns?: string): string {
    return lines.length ? heredoc(netns ? `bridge -n ${q(netns)} -batch -` : 'bridge -batch -', lines.join('\n')) : ':';
  },
  /** nsenter into the netns once, write sysctls with shell builtins, then run the rest there. */
  inNetns(netns: string, sysctls: Record<string, string | number>, body?: string): string {
    const writes = sysctlWrites(sysctls);
    const inner = [...writes, ...(body ? [body] : [])].join('\n');
    return heredoc(`nsenter --net=${q(netnsPath(netns))} -- sh -e`, inner);
  },
  nft(script: string): string {
    return heredoc('nft -f -', script);
  },
};

/** Shell lines writing sysctls; a key starting with '?' is written only where it exists. */
function sysctlWrites(values: Record<string, string | number>): string[] {
  return Object.entries(values).map(([k, v]) => {
    const path = `/proc/sys/${k.replace(/^\?/, '').replace(/\./g, '/')}`;
    return k.startsWith('?') ? `if [ -e ${path} ]; then echo ${v} > ${path}; fi` : `echo ${v} > ${path}`;
  });
}

/** Many `ip` commands in one process (`ip [-n NS] -batch -`). */
export async function ipBatch(lines: string[], netns?: string): Promise<void> {
  if (lines.length) await sh(frag.ip(lines, netns));
}

/** Many `bridge` commands (fdb, vlan) in one process. */
export async function bridgeBatch(lines: string[], netns?: string): Promise<void> {
  if (lines.length) await sh(frag.bridge(lines, netns));
}

/** Apply an nft script atomically (one transaction). */
export async function nft(script: string, netns?: string): Promise<void> {
  await sh(netns ? frag.inNetns(netns, {}, frag.nft(script)) : frag.nft(script));
}

/** Write sysctls (`net.ipv4.ip_forward` style keys) inside a netns with one nsenter. */
export async function sysctl(values: Record<string, string | number>, netns?: string): Promise<void> {
  if (Object.keys(values).length === 0) return;
  const writes = sysctlWrites(values).join('\n');
  await sh(netns ? frag.inNetns(netns, values) : writes);
}

/** A long-lived process inside a netns; the caller owns its lifetime. */
export function spawnIn(netns: string | undefined, cmd: string[], opts: SpawnOptions = {}): ChildProcess {
  const full = inNetns(netns, cmd);
  return spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}
