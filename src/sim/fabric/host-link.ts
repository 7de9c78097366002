// The sandbox has its own loopback, so a TCP port opened inside it is invisible to the host.
// Path-bound unix sockets are not tied to a netns: a socket file in the shared stateDir links the two.
import { createConnection, createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';

export interface Link {
  close(): Promise<void>;
}

// noDelay: relayed protocols are request/response; Nagle plus delayed ACKs cost ~40 ms a turn.
function pipeServer(connect: () => ReturnType<typeof createConnection>): Server {
  return createServer({ noDelay: true }, (down) => {
    const up = connect();
    down.pipe(up).pipe(down);
    const end = () => { down.destroy(); up.destroy(); };
    up.on('error', end);
    down.on('error', end);
  });
}

/** Inside the sandbox: accept on unix socket `socketPath`, forward to `host:port` in the sandbox. */
export async function exposeToHost(socketPath: string, port: number, host = '127.0.0.1'): Promise<Link> {
  rmSync(socketPath, { force: true });
  const srv = pipeServer(() => createConnection({ host, port, noDelay: true }));
  await new Promise<void>((res, rej) => srv.once('error', rej).listen(socketPath, res));
  return { close: () => new Promise<void>((res) => srv.close(() => res())) };
}

/** On the host: a TCP port on 127.0.0.1 that reaches the sandbox through `socketPath`. */
export async function hostPortFor(socketPath: string, port = 0): Promise<Link & { port: number }> {
  const srv = pipeServer(() => createConnection({ path: socketPath }));
  await new Promise<void>((res, rej) => srv.once('error', rej).listen(port, '127.0.0.1', res));
  const addr = srv.address();
  if (!addr || typeof addr === 'string') throw new Error('no TCP address');
  return { port: addr.port, close: () => new Promise<void>((res) => srv.close(() => res())) };
}
