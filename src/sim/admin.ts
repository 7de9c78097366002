// The sim's admin endpoint: a unix socket in the run's state dir, never a TCP port, so only
// the project's self-tests (which know the path) reach it. Suites never do. The socket is the
// owner's only (0600, in a 0700 dir), and each request must carry the token from admin.token, a
// 0600 file: a fault is a change to the cluster, and no other local user may make one.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { FaultSpec, Faults } from './faults.ts';

export const ADMIN_SOCKET = 'admin.sock';
export const ADMIN_TOKEN = 'admin.token';

export function adminSocketPath(stateDir: string): string {
  return join(stateDir, ADMIN_SOCKET);
}

export function adminTokenPath(stateDir: string): string {
  return join(stateDir, ADMIN_TOKEN);
}

/** The admin token, for a client that is the sim's owner. */
export function readAdminToken(stateDir: string): string {
  return readFileSync(adminTokenPath(stateDir), 'utf8').trim();
}

function authorized(req: http.IncomingMessage, token: Buffer): boolean {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const got = Buffer.from(m?.[1] ?? '');
  return got.length === token.length && timingSafeEqual(got, token);
}

/** Extra POST routes for self-tests (path → handler of the JSON body). */
export type AdminRoutes = Record<string, (body: unknown) => Promise<unknown>>;

export async function serveAdmin(stateDir: string, faults: Faults, routes: AdminRoutes = {}): Promise<http.Server> {
  const token = randomBytes(24).toString('base64url');
  writeFileSync(adminTokenPath(stateDir), `${token}\n`, { mode: 0o600 });
  chmodSync(adminTokenPath(stateDir), 0o600);
  const want = Buffer.from(token);
  const server = http.createServer((req, res) => {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!authorized(req, want)) return reply(401, { error: `unauthorized: send "Authorization: Bearer <token>" with the token in ${ADMIN_TOKEN}` });
    const route = routes[req.url ?? ''];
    if (route) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        if (req.method !== 'POST') return reply(405, { error: 'use POST' });
        route(body ? JSON.parse(body) : {}).then((r) => reply(200, r), (e: Error) => reply(400, { error: e.message }));
      });
      return;
    }
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
  chmodSync(adminSocketPath(stateDir), 0o600);
  return server;
}
