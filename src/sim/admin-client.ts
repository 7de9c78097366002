// Self-tests' handle on a running sim's faults (over its admin unix socket).
import http from 'node:http';
import { adminSocketPath, readAdminToken } from './admin.ts';
import type { FaultName, FaultSpec } from './faults.ts';

export class SimAdmin {
  constructor(private readonly stateDir: string) {}

  private call(method: string, path: string, body?: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let token: string;
      try {
        token = readAdminToken(this.stateDir);
      } catch (e) {
        return reject(new Error(`sim admin: cannot read the admin token: ${(e as Error).message}`));
      }
      const req = http.request({ socketPath: adminSocketPath(this.stateDir), method, path, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } }, (res) => {
        let raw = '';
        res.on('data', (c: Buffer) => (raw += c));
        res.on('end', () => {
          const parsed = raw ? JSON.parse(raw) : {};
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`sim admin ${method} ${path}: ${(parsed as { error?: string }).error ?? res.statusCode}`));
          else resolve(parsed);
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  inject(name: FaultName, spec: FaultSpec = {}): Promise<unknown> {
    return this.call('PUT', `/faults/${name}`, spec);
  }

  clear(name: FaultName): Promise<unknown> {
    return this.call('DELETE', `/faults/${name}`);
  }

  /** POST to one of the data plane's self-test routes (e.g. /node-side/migrate). */
  post(path: string, body: unknown): Promise<unknown> {
    return this.call('POST', path, body);
  }

  active(): Promise<unknown> {
    return this.call('GET', '/faults');
  }
}
