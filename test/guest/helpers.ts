// Test fixtures: a guest agent process outside any netns, and a tiny
// KubeVirt-like port-forward websocket endpoint in front of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { KubeConfig } from '@kubernetes/client-node';
import { bundleGuestAgent } from '../../src/sim/guest/bundle.ts';
import { lineSplitter, parseReportLine, type GuestConfig, type GuestInterfaceStatus, type GuestReady } from '../../src/sim/guest/config.ts';
import { guestRootCommand } from '../../src/sim/guest/root.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}

export interface AgentHandle {
  port: number;
  config: GuestConfig;
  ready: GuestReady;
  /** The agent's interface reports, in order. */
  statuses: GuestInterfaceStatus[][];
  startMs: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A scratch directory under test-results (the host's /tmp stays as it was). */
export function scratchDir(prefix: string): string {
  const base = join(ROOT, 'test-results', 'guest-scratch');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, prefix));
}

let bundled: string | undefined;
/** The agent bundled as the sim bundles it (once per test process). */
export function agentScript(): string {
  if (bundled) return bundled;
  // Under test-results, not the host's /tmp: a self-test leaves nothing there.
  const dir = join(ROOT, 'test-results', `guest-agent-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  bundled = bundleGuestAgent(dir);
  return bundled;
}

/**
 * Starts an agent in its own root as the sim does (root.ts), in a user namespace of its own and
 * the host's network, so a test reaches its sshd on 127.0.0.1. `wrap` puts a command before it
 * (e.g. `unshare -Urn sh -c ...` for a netns of its own; the root then needs no user namespace).
 */
export async function startAgent(partial: Partial<GuestConfig>, wrap?: { argv: string[]; sysfs: boolean }): Promise<AgentHandle> {
  const port = partial.sshPort ?? await freePort();
  const config: GuestConfig = {
    name: 'vm1', namespace: 'ns1', hostname: 'vm1', sshPort: port, sshListen: '127.0.0.1',
    authorizedKeys: [], defaultUser: 'fedora', users: [], passwordAuth: false, disableRoot: true,
    dhcpLeases: {}, defaultInterfaces: [], resolvConf: 'nameserver 10.96.0.10\n',
    skipNetwork: true,
    ...partial,
  };
  const cmd = wrap ? [...wrap.argv, ...guestRootCommand(agentScript(), [], { sysfs: wrap.sysfs })] : guestRootCommand(agentScript(), [], { userns: true, sysfs: false });
  const t0 = performance.now();
  const proc = spawn(cmd[0], cmd.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const statuses: GuestInterfaceStatus[][] = [];
  const ready = await new Promise<GuestReady>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`agent not ready in 20s: ${stderr}`)); }, 20_000);
    proc.stdout?.setEncoding('utf8').on('data', lineSplitter((line) => {
      const r = parseReportLine(line);
      if (r?.t === 'status') statuses.push(r.interfaces);
      if (r?.t === 'ready') { clearTimeout(timer); resolve(r.ready); }
    }));
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`agent exited ${code}: ${stderr}`)); });
    proc.stdin?.end(`${JSON.stringify(config)}\n`);
  });
  const startMs = performance.now() - t0;
  return {
    port, config, ready, statuses, startMs, proc,
    stop: () => new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGKILL'); // the guest's init gets SIGTERM (unshare --kill-child)
    }),
  };
}

export interface FakeApi {
  kubeconfig: KubeConfig;
  kubeconfigPath: string;
  url: string;
  requests: string[];
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string): string =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

/**
 * Port-forward endpoint like virt-api: bearer token check, VMI "missing" → 404,
 * "stopped" → 409, everything else piped to the agent sshd at `sshPort`.
 */
export async function startFakeApi(sshPort: number, token = 'tok-123'): Promise<FakeApi> {
  const requests: string[] = [];
  const http: HttpServer = createHttpServer((_req, res) => { res.writeHead(404); res.end(); });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('plain.kubevirt.io') ? 'plain.kubevirt.io' : false) });
  http.on('upgrade', (req, socket, head) => {
    requests.push(req.url ?? '');
    const reply = (code: number, text: string, body: string): void => {
      socket.end(`HTTP/1.1 ${code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (req.headers.authorization !== `Bearer ${token}`) return reply(401, 'Unauthorized', status(401, 'Unauthorized', 'Unauthorized'));
    const m = /^\/apis\/subresources\.kubevirt\.io\/v1\/namespaces\/([^/]+)\/virtualmachineinstances\/([^/]+)\/portforward\/(\d+)\/tcp$/.exec(req.url ?? '');
    if (!m) return reply(404, 'Not Found', status(404, 'NotFound', 'the server could not find the requested resource'));
    if (m[2] === 'missing') return reply(404, 'Not Found', status(404, 'NotFound', `virtualmachineinstance.kubevirt.io "${m[2]}" not found`));
    if (m[2] === 'stopped') return reply(409, 'Conflict', status(409, 'Conflict', `Unable to connect to VirtualMachineInstance because phase is Succeeded instead of Running`));
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      const tcp = netConnect({ port: Number(m[3]) === 22 ? sshPort : Number(m[3]), host: '127.0.0.1', noDelay: true });
      stream.pipe(tcp).pipe(stream);
      tcp.on('error', () => stream.destroy());
      stream.on('error', () => tcp.destroy());
      tcp.on('close', () => stream.destroy());
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const a = http.address();
  const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  const kcYaml = `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: ${token}}}]
contexts: [{name: fake, context: {cluster: fake, user: u}}]
current-context: fake
`;
  const dir = scratchDir('kvnet-kc-');
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kcYaml);
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromString(kcYaml);
  return {
    kubeconfig, kubeconfigPath, url, requests,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      http.closeAllConnections();
      http.close(() => r());
    }),
  };
}
