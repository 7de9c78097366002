// The sim's side of spawner-main.ts: long-lived children (guest agents) started by a small helper
// process, seen here as ChildProcess-like handles.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleEntry } from './bundle.ts';

export type SpawnerRequest =
  | { t: 'spawn'; id: number; cmd: string[]; env: NodeJS.ProcessEnv }
  | { t: 'end'; id: number; data?: string }
  | { t: 'kill'; id: number; signal: NodeJS.Signals };

export type SpawnerReply =
  | { t: 'spawned'; id: number; pid: number }
  | { t: 'stdout' | 'stderr'; id: number; data: string }
  | { t: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null; error?: string };

/** What the sim uses of a child: its exit, stdin once, stdout/stderr text, and signals. */
export class SpawnedProcess extends EventEmitter {
  pid = 0;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdout = new EventEmitter();
  readonly stderr = new EventEmitter();

  constructor(private readonly id: number, private readonly spawner: Spawner) {
    super();
  }

  /** Write `data` (if any) to the child's stdin and close it. */
  end(data?: string): void {
    this.spawner.request({ t: 'end', id: this.id, data });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exitCode !== null || this.signalCode !== null) return false;
    this.spawner.request({ t: 'kill', id: this.id, signal });
    return true;
  }
}

export class Spawner {
  private readonly helper: ChildProcess;
  private readonly live = new Map<number, SpawnedProcess>();
  private seq = 0;

  constructor(stateDir: string) {
    const script = bundleEntry(join(dirname(fileURLToPath(import.meta.url)), 'spawner-main.ts'), join(stateDir, 'spawner.cjs'));
    this.helper = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    this.helper.on('message', (m: SpawnerReply) => this.reply(m));
    // A helper that died (killed by a signal, say) makes IPC writes fail with EPIPE; that is the
    // 'exit' below, not a crash of the sim.
    this.helper.on('error', () => undefined);
    this.helper.on('exit', () => this.gone());
  }

  spawn(cmd: string[], env: NodeJS.ProcessEnv = process.env): SpawnedProcess {
    const id = ++this.seq;
    const p = new SpawnedProcess(id, this);
    this.live.set(id, p);
    if (!this.request({ t: 'spawn', id, cmd, env }) && this.live.delete(id)) queueMicrotask(() => this.exited(p, 127, null, 'the spawner is gone'));
    return p;
  }

  /** The helper's pid (diagnostics and tests). */
  get helperPid(): number | undefined {
    return this.helper.pid;
  }

  /** Send `m` to the helper; false when it is gone (its children are then reported exited). */
  request(m: SpawnerRequest): boolean {
    if (!this.helper.connected) return false;
    try {
      // With a callback, a failed write is reported here instead of as an 'error' event.
      this.helper.send(m, (e) => { if (e) this.gone(); });
    } catch {
      this.gone();
      return false;
    }
    return true;
  }

  close(): void {
    if (this.helper.connected) this.helper.disconnect();
  }

  /** The helper is gone or unreachable: every child it held went with it (it SIGKILLs them on disconnect). */
  private gone(): void {
    const orphans = [...this.live.values()];
    this.live.clear();
    // Later, not inside the request() that noticed: its caller may not be listening yet.
    queueMicrotask(() => { for (const p of orphans) this.exited(p, null, 'SIGKILL'); });
  }

  private reply(m: SpawnerReply): void {
    const p = this.live.get(m.id);
    if (!p) return;
    if (m.t === 'spawned') p.pid = m.pid;
    else if (m.t !== 'exit') p[m.t].emit('data', m.data);
    else {
      this.live.delete(m.id);
      this.exited(p, m.code, m.signal, m.error);
    }
  }

  private exited(p: SpawnedProcess, code: number | null, signal: NodeJS.Signals | null, error?: string): void {
    p.exitCode = code;
    p.signalCode = signal;
    if (error) p.stderr.emit('data', `${error}\n`);
    p.emit('exit', code, signal);
  }
}
