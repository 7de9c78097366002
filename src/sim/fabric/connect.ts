// TCP streams opened from inside a netns, as Node Duplexes. A worker shell starts socat in the netns
// listening on a unix socket (path-bound unix sockets reach across netns); it dials the target when
// we connect. Spawning from the sim's own process instead forks a large Node heap: ~30 ms of a
// blocked event loop per connection.
import { readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { netnsPath, q, scratchDir, sh } from './exec.ts';

const LISTEN_TIMEOUT_MS = 5000;
let seq = 0;

interface Listener {
  sock: string;
  log: string;
  /** socat's pid (nsenter execs it), for a forking listener that outlives one connection. */
  pid?: number;
}

function socatTarget(host: string, port: number): string {
  return host.includes(':') ? `TCP6:[${host}]:${port},nodelay` : `TCP4:${host}:${port},nodelay`;
}

/** Start socat in `netns` on a fresh unix socket: one connection, or (fork) one per connection. */
async function listen(netns: string, host: string, port: number, fork: boolean): Promise<Listener> {
  const id = `c${process.pid}-${++seq}`;
  const l: Listener = { sock: join(scratchDir(), `${id}.sock`), log: join(scratchDir(), `${id}.log`) };
  const opts = fork ? 'unlink-early,fork' : `unlink-early,accept-timeout=${LISTEN_TIMEOUT_MS / 1000}`;
  const r = await sh(`nsenter --net=${q(netnsPath(netns))} -- socat -lu UNIX-LISTEN:${q(l.sock)},${opts} ${q(socatTarget(host, port))} </dev/null >/dev/null 2>${q(l.log)} &\necho $!`);
  l.pid = Number(r.stdout.trim()) || undefined;
  return l;
}

function safeRead(path: string, from = 0): string {
  try { return readFileSync(path, 'utf8').slice(from); } catch { return ''; }
}

function logSize(path: string): number {
  try { return statSync(path).size; } catch { return 0; }
}

/**
 * A Duplex over the listener's unix socket, connected once `listener` resolves (retrying until
 * socat is listening). A connection that ends before any byte with a socat error in the log is
 * the dial failing: the stream errors with socat's reason ("Connection refused").
 */
function streamVia(what: string, listener: Promise<Listener>, onClose?: (l: Listener) => void): Duplex {
  let upstream: net.Socket | undefined;
  let pending: Array<() => void> = [];
  let lst: Listener | undefined;
  const stream = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (upstream) upstream.write(chunk, cb);
      else pending.push(() => upstream?.write(chunk, cb));
    },
    final(cb) {
      if (upstream) upstream.end(cb);
      else pending.push(() => upstream?.end(cb));
    },
    read() {
      upstream?.resume();
    },
    destroy(err, cb) {
      upstream?.destroy();
      if (lst) onClose?.(lst);
      cb(err);
    },
  });
  const failure = (from: number) => {
    const line = safeRead((lst as Listener).log, from).split('\n').find((l) => / E /.test(l))?.replace(/^.* E /, '');
    return line ? new Error(`${what} failed: ${line}`) : undefined;
  };
  const attach = (s: net.Socket, logFrom: number) => {
    upstream = s;
    s.setNoDelay(true);
    let got = 0;
    s.on('data', (d: Buffer) => { got += d.length; if (!stream.push(d)) s.pause(); });
    s.on('error', (e) => stream.destroy(e));
    s.on('end', () => {
      const err = got === 0 ? failure(logFrom) : undefined;
      if (err) stream.destroy(err);
      else stream.push(null);
    });
    const queued = pending;
    pending = [];
    queued.forEach((f) => f());
  };
  const started = Date.now();
  const dial = (l: Listener) => {
    lst = l;
    const logFrom = logSize(l.log);
    const s = net.connect(l.sock);
    s.once('connect', () => { s.removeAllListeners('error'); attach(s, logFrom); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      s.destroy();
      if ((e.code === 'ENOENT' || e.code === 'ECONNREFUSED') && Date.now() - started < LISTEN_TIMEOUT_MS) setTimeout(() => dial(l), 2);
      else stream.destroy(failure(0) ?? new Error(`${what}: ${e.message}`));
    });
  };
  listener.then(dial, (e: Error) => stream.destroy(e));
  return stream;
}

/** One stream from inside `netns` to host:port (a one-shot socat). */
export function connectFrom(netns: string, host: string, port: number): Duplex {
  return streamVia(`connect ${host}:${port} from netns ${netns}`, listen(netns, host, port, false), (l) => {
    rmSync(l.sock, { force: true });
    rmSync(l.log, { force: true });
  });
}

/**
 * Streams from inside a netns through listeners that stay up per (netns, host, port), the way a
 * virt-launcher keeps its domain's sockets: after the first, a connection costs no process start.
 */
export class NetnsDialer {
  private readonly listeners = new Map<string, Promise<Listener>>();

  /** Start the listener for host:port now, so the first connection finds it up. */
  open(netns: string, host: string, port: number): Promise<void> {
    return this.listener(netns, host, port).then(() => undefined);
  }

  connect(netns: string, host: string, port: number): Duplex {
    return streamVia(`connect ${host}:${port} from netns ${netns}`, this.listener(netns, host, port));
  }

  /** Stop every listener in a netns (its pod is going away). */
  async close(netns: string): Promise<void> {
    const prefix = `${netns}|`;
    const gone = [...this.listeners.entries()].filter(([k]) => k.startsWith(prefix));
    for (const [k] of gone) this.listeners.delete(k);
    await Promise.all(gone.map(async ([, p]) => {
      const l = await p.catch(() => undefined);
      if (!l) return;
      if (l.pid) { try { process.kill(l.pid, 'SIGKILL'); } catch { /* already gone */ } }
      rmSync(l.sock, { force: true });
      rmSync(l.log, { force: true });
    }));
  }

  private listener(netns: string, host: string, port: number): Promise<Listener> {
    const key = `${netns}|${host}|${port}`;
    let p = this.listeners.get(key);
    if (!p) {
      p = listen(netns, host, port, true);
      p.catch(() => this.listeners.delete(key));
      this.listeners.set(key, p);
    }
    return p;
  }
}
