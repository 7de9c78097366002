// A small process that starts long-lived children for the sim. Forking the sim's own large Node
// process blocks its event loop ~30 ms per child; forking this one costs a few ms, off that loop.
// Protocol (child_process IPC): see spawner.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import type { SpawnerReply, SpawnerRequest } from './spawner.ts';

const children = new Map<number, ChildProcess>();
const send = (m: SpawnerReply) => process.send?.(m);

process.on('message', (m: SpawnerRequest) => {
  if (m.t === 'spawn') {
    const child = spawn(m.cmd[0], m.cmd.slice(1), { env: m.env, stdio: 'pipe' });
    children.set(m.id, child);
    child.stdin.on('error', () => undefined);
    child.stdout.setEncoding('utf8').on('data', (data: string) => send({ t: 'stdout', id: m.id, data }));
    child.stderr.setEncoding('utf8').on('data', (data: string) => send({ t: 'stderr', id: m.id, data }));
    child.on('error', (e) => send({ t: 'exit', id: m.id, code: 127, signal: null, error: e.message }));
    child.on('exit', (code, signal) => {
      children.delete(m.id);
      send({ t: 'exit', id: m.id, code, signal });
    });
    send({ t: 'spawned', id: m.id, pid: child.pid ?? 0 });
  } else {
    const c = children.get(m.id);
    if (!c) return;
    if (m.t === 'end') c.stdin?.end(m.data);
    else if (m.t === 'kill') c.kill(m.signal);
  }
});
// The sim went away or closed us: so do the children.
process.on('disconnect', () => {
  for (const c of children.values()) c.kill('SIGKILL');
  process.exit(0);
});
