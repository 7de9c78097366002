// The sim's admin endpoint: a unix socket in the run's state dir, never a TCP port, so only
// the project's self-tests (which know the path) reach it. Suites never do.
import http from 'node:http';
import { join } from 'node:path';
import type { FaultSpec, Faults } from './faults.ts';

export const ADMIN_SOCKET = 'admin.sock';

export function adminSocketPath(stateDir: string): string {
  return join(stateDir, ADMIN_SOCKET);
}

export async function serveAdmin(stateDir: string, faults: Faults): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/faults(?:\/([a-z-]+))?$/.exec(req.url ?? '');
    if (!m) return reply(404, { error: 'unknown path; use /faults or /faults/<name>' });
    const name = m[1];
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'GET') return reply(200, { active: faults.list(), known: faults.known() });
        if (!name || !(name in faults.known())) return reply(404, { error: `unknown fault "${name}"; known: ${Object.keys(faults.known()).join(', ')}` });
        if (req.method === 'PUT') await faults.set(name, raw ? (JSON.parse(raw) as FaultSpec) : {});
        else if (req.method === 'DELETE') await faults.clear(name);
        else return reply(405, { error: 'use GET, PUT or DELETE' });
        reply(200, { active: faults.list() });
      })().catch((e: Error) => reply(400, { error: e.message }));
    });
  });
  await new Promise<void>((r) => server.listen(adminSocketPath(stateDir), r));
  return server;
}
