// A VM guest reached by SSH tunnelled over the VMI port-forward subresource,
// like `virtctl ssh`. Works unchanged against a real cluster and the sim.
import type { Duplex } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { openPortForward } from './portforward.ts';

export interface GuestConnectOptions {
  kc: KubeConfig;
  namespace: string;
  vmi: string;
  user: string;
  privateKey: string | Buffer;
  /** Total time to keep retrying (VMI not yet running, sshd not yet up, keys not yet in). Default 120 s. */
  timeoutMs?: number;
  /** Guest SSH port. Default 22. */
  port?: number;
}

export interface ExecOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. */
  stdin?: string | Buffer;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the command died from a signal (then signal is e.g. "SIGKILL"). */
  code: number | null;
  signal: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Guest {
  private closed = false;

  private constructor(
    readonly namespace: string,
    readonly vmi: string,
    private readonly client: ssh2.Client,
    private readonly opts: GuestConnectOptions,
  ) {
    client.on('close', () => { this.closed = true; });
    client.on('error', () => { this.closed = true; });
  }

  get id(): string {
    return `${this.namespace}/${this.vmi}`;
  }

  get connected(): boolean {
    return !this.closed;
  }

  static async connect(opts: GuestConnectOptions): Promise<Guest> {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const port = opts.port ?? 22;
    const start = Date.now();
    let lastErr = 'no attempt made';
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      const left = timeoutMs - (Date.now() - start);
      if (left <= 0) break;
      let sock: Duplex | undefined;
      try {
        sock = await openPortForward(opts.kc, opts.namespace, opts.vmi, port, 'tcp', { timeoutMs: Math.max(1000, Math.min(left, 20_000)) });
        const client = await sshHandshake(sock, opts.user, opts.privateKey, Math.max(1000, Math.min(timeoutMs - (Date.now() - start), 20_000)));
        return new Guest(opts.namespace, opts.vmi, client, opts);
      } catch (e) {
        sock?.destroy();
        lastErr = `attempt ${attempt}: ${(e as Error).message}`;
      }
      const remaining = timeoutMs - (Date.now() - start);
      if (remaining <= 0) break;
      await sleep(Math.min(delay, remaining));
      delay = Math.min(delay * 2, 2000);
    }
    throw new Error(`guest ${opts.namespace}/${opts.vmi}: SSH as ${opts.user} did not answer within ${Date.now() - start}ms (timeout ${timeoutMs}ms); last failure: ${lastErr}`);
  }

  /** A fresh Guest with the same options (e.g. after a live migration dropped the tunnel). */
  reconnect(timeoutMs?: number): Promise<Guest> {
    this.close();
    return Guest.connect({ ...this.opts, timeoutMs: timeoutMs ?? this.opts.timeoutMs });
  }

  /**
   * Start a command and hand back its channel, for long-running streams (ping during migration).
   * `onOpen` runs inside ssh2's callback: a fast command's exit-status can arrive in the same socket
   * read as the channel confirmation, and an 'exit' listener added after an await misses it.
   */
  stream(cmd: string, onOpen?: (ch: ClientChannel) => void): Promise<ClientChannel> {
    if (this.closed) return Promise.reject(new Error(`guest ${this.id}: SSH connection is closed`));
    return new Promise((resolve, reject) => {
      this.client.exec(cmd, (err, ch) => {
        if (err) return reject(new Error(`guest ${this.id}: exec '${cmd}': ${err.message}`));
        onOpen?.(ch);
        resolve(ch);
      });
    });
  }

  async exec(cmd: string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    let code: number | null = null;
    let signal: string | null = null;
    const ch = await this.stream(cmd, (c) => c.on('exit', (x: number | null, sig?: string) => {
      if (typeof x === 'number') code = x;
      else { code = null; signal = sig ?? null; }
    }));
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        // Kill the remote command, not just our view of it.
        try { ch.signal('KILL'); } catch { /* channel may be gone */ }
        ch.close();
        reject(new Error(`guest ${this.id}: '${cmd}' timed out after ${timeoutMs}ms`));
      }, timeoutMs);
      ch.on('data', (d: Buffer) => out.push(d));
      ch.stderr.on('data', (d: Buffer) => err.push(d));
      ch.on('close', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (code === null && signal === null && this.closed) {
          reject(new Error(`guest ${this.id}: connection lost while running '${cmd}'`));
          return;
        }
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code, signal });
      });
      if (options.stdin !== undefined) ch.end(options.stdin);
      else ch.end();
    });
  }

  /** exec that throws on a nonzero exit, with the command's stderr in the message. */
  async execOk(cmd: string, options: ExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, options);
    if (r.code !== 0) {
      const why = r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}`;
      throw new Error(`guest ${this.id}: '${cmd}' ${why}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
    }
    return r.stdout;
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }
}

function sshHandshake(sock: Duplex, username: string, privateKey: string | Buffer, readyTimeout: number): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const onError = (e: Error): void => {
      client.removeAllListeners('ready');
      client.end();
      reject(e);
    };
    client.once('error', onError);
    client.once('close', () => onError(new Error('connection closed during SSH handshake')));
    client.once('ready', () => {
      client.removeListener('error', onError);
      client.removeAllListeners('close');
      client.setNoDelay(true); // no-op on a websocket stream, matters on a plain socket
      client.on('error', () => { /* surfaced by Guest via closed state */ });
      resolve(client);
    });
    client.connect({ sock, username, privateKey, readyTimeout, keepaliveInterval: 15_000 });
  });
}
