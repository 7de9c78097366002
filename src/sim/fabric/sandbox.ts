// The rootless sandbox: user + net + mount + pid namespaces. tini is pid 1 of its pid namespace and
// reaps every orphan (a daemonized responder whose shell exited, a killed guest tool); the sandbox main
// is its only child, and when the main exits tini exits with its code, the kernel kills everything
// else in the namespace, and all netns vanish.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const READY_LINE = 'fabric-ready';
export const SANDBOX_ENV = 'KVNET_SANDBOX';
export const STATE_DIR_ENV = 'KVNET_STATE_DIR';

export interface SandboxOptions {
  /** TypeScript/JS entry run with `node --import tsx`. */
  entry: string;
  args: string[];
  /** Shared with the host (the sandbox sees the same filesystem except /run); created if missing. */
  stateDir: string;
  env?: NodeJS.ProcessEnv;
  /** Where the child's stderr goes (default: inherited). */
  stderr?: 'inherit' | 'pipe';
  /** Reject `ready` after this long (default 60 s). */
  readyTimeoutMs?: number;
}

export interface SandboxProcess<T = unknown> {
  /** The host-side `unshare` process. */
  child: ChildProcess;
  /** Resolves with the JSON payload of the ready line (see signalReady). */
  ready: Promise<T>;
  /** Resolves with the exit code once the sandbox is gone. */
  exited: Promise<number | null>;
  /** Every stdout line except the ready line, as it arrives. */
  onLine(fn: (line: string) => void): void;
  /** All stdout lines seen so far. */
  readonly lines: readonly string[];
  /** Close stdin (the main stops in order on EOF), then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL now, synchronously (for a process `exit` hook); the kernel takes the whole namespace. */
  kill(): void;
}

function tsxImport(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

/** The init that reaps the sandbox's orphans (Debian package `tini`). */
export const SANDBOX_INIT = 'tini';

/** The argv that starts the sandbox; exported for tests and for `kvnet sim up` diagnostics. */
export function sandboxCommand(entry: string, args: string[]): string[] {
  const script = 'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/netns && ip link set lo up && exec "$@"';
  return [
    'unshare', '--user', '--map-root-user', '--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc',
    // tini as pid 1 (no -s: a pid 1 needs no subreaper flag; no -g: nothing outside signals it, and
    // the main stops its own children in order). Its child runs in a process group of its own.
    SANDBOX_INIT, '--',
    'sh', '-c', script, 'kvnet-sandbox',
    process.execPath, '--import', tsxImport(), resolve(entry), ...args,
  ];
}

export function startSandbox<T = unknown>(opts: SandboxOptions): SandboxProcess<T> {
  mkdirSync(opts.stateDir, { recursive: true });
  const cmd = sandboxCommand(opts.entry, opts.args);
  const child = spawn(cmd[0], cmd.slice(1), {
    stdio: ['pipe', 'pipe', opts.stderr ?? 'inherit'],
    // A session of its own: a signal to the host's process group (Ctrl-C in a terminal, `kill -TERM
    // -pgid` by CI) must not reach the sandbox; only stop() (stdin EOF) or kill() ends it.
    detached: true,
    env: { ...process.env, ...opts.env, [SANDBOX_ENV]: '1', [STATE_DIR_ENV]: resolve(opts.stateDir) },
  });
  child.stdin!.on('error', () => undefined);
  const lines: string[] = [];
  const listeners: Array<(l: string) => void> = [];
  const exited = new Promise<number | null>((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : null))));
  const ready = new Promise<T>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`sandbox not ready after ${opts.readyTimeoutMs ?? 60000} ms`)), opts.readyTimeoutMs ?? 60000);
    timer.unref();
    child.on('error', (e) => { clearTimeout(timer); rej(e); });
    void exited.then((code) => { clearTimeout(timer); rej(new Error(`sandbox exited (code ${code}) before it was ready`)); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === READY_LINE || line.startsWith(`${READY_LINE} `)) {
        clearTimeout(timer);
        const payload = line.slice(READY_LINE.length).trim();
        res((payload ? JSON.parse(payload) : {}) as T);
        return;
      }
      lines.push(line);
      for (const fn of listeners) fn(line);
    });
  });
  ready.catch(() => undefined); // callers that only stop() must not see an unhandled rejection
  return {
    child, ready, exited, lines,
    onLine: (fn) => { listeners.push(fn); },
    async stop(timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // unshare ignores SIGTERM while it waits for its child, so EOF is the orderly stop and
      // SIGKILL (unshare --kill-child then kills pid 1) the last resort.
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** True in the main of a sandbox started by startSandbox: the only child of its pid 1 (tini). */
export function inSandbox(): boolean {
  return process.env[SANDBOX_ENV] === '1' && process.ppid === 1;
}

/** Exit when the host parent goes away (our stdin reaches EOF), however it died. */
export function watchParent(onGone?: () => void | Promise<void>): void {
  const bye = () => {
    void Promise.resolve(onGone?.()).finally(() => process.exit(0));
  };
  process.stdin.on('end', bye);
  process.stdin.on('close', bye);
  process.stdin.on('error', bye);
  process.stdin.resume();
}

/** Tell the host we are up; `info` is delivered as the value of `ready`. */
export function signalReady(info?: object): void {
  process.stdout.write(info ? `${READY_LINE} ${JSON.stringify(info)}\n` : `${READY_LINE}\n`);
}

export interface SandboxMainOptions {
  /** Keep running after main resolves, until the parent goes away (servers). Default false. */
  keepAlive?: boolean;
  /** Best-effort cleanup on SIGTERM/SIGINT/parent exit; the kernel reaps the rest anyway. */
  onExit?: () => void | Promise<void>;
}

/** Run `main` as the sandbox's pid 1: parent watch, signals, exit codes. */
export function sandboxMain(main: () => Promise<void>, opts: SandboxMainOptions = {}): void {
  if (!inSandbox()) {
    process.stderr.write('this entry must run inside the kvnet sandbox (use startSandbox)\n');
    process.exit(2);
  }
  let exiting = false;
  const finish = (code: number) => {
    if (exiting) return;
    exiting = true;
    const t = setTimeout(() => process.exit(code), 3000);
    void Promise.resolve(opts.onExit?.()).catch(() => undefined).finally(() => { clearTimeout(t); process.exit(code); });
  };
  watchParent(() => finish(0));
  // The same orderly stop on a signal (tini passes on what pid 1 receives).
  process.on('SIGTERM', () => finish(143));
  process.on('SIGINT', () => finish(130));
  process.on('SIGHUP', () => finish(129));
  main().then(
    () => { if (!opts.keepAlive) finish(0); },
    (e: unknown) => {
      process.stderr.write(`sandbox main failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      finish(1);
    },
  );
}
