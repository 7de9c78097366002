// Shared plumbing for the API-server fidelity tests: one in-process sim per spec file,
// a kubectl runner, raw HTTPS, and ApiException unpacking. Fixture loading is the admission tests'.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { expect } from '@playwright/test';
import type { SimSettings } from '../../src/sim/cluster.ts';
import { writeKubeconfig } from '../../src/sim/kubeconfig.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import type { Cause, KObject } from '../../src/sim/api/types.ts';

export { INVALID_DIR, SEED_DIR, headers, loadObjects, yamlFiles } from '../admission/helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = resolve(here, '..', '..', 'test-results', 'api');

export const KUBECTL = '/usr/bin/kubectl';
export const hasKubectl = existsSync(KUBECTL);
export const NO_KUBECTL = `kubectl not installed: ${KUBECTL} is missing, so the kubectl half of this check cannot run`;

export interface TestSim {
  handle: SimHandle;
  kc: k8s.KubeConfig;
  objects: k8s.KubernetesObjectApi;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  /** A scratch directory for temp manifests, per sim. */
  dir: string;
  stop(): Promise<void>;
}

/** Starts a control-plane-only sim with its own kubeconfig under test-results/api/<name>/. */
export async function startTestSim(name: string, settings?: Partial<SimSettings>): Promise<TestSim> {
  const dir = join(RESULTS_DIR, name);
  mkdirSync(dir, { recursive: true });
  // API semantics only: no controller writes VM status behind the tests' backs.
  const handle = await startSim({ dataPlane: false, workloadControllers: false, kubeconfig: join(dir, 'kubeconfig'), settings });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(handle.kubeconfig);
  return {
    handle, kc, dir,
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    stop: () => handle.stop(),
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs kubectl against the sim. Always asynchronous: the sim serves from this very process,
 * so a synchronous child would block the event loop the server needs to answer it.
 * A discovery cache per sim spares each call the discovery round trips.
 */
export function kubectl(sim: TestSim, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  // test-results/ is shared with other suites that may clear it while this one runs.
  if (!existsSync(sim.handle.kubeconfig)) writeKubeconfig(sim.handle.kubeconfig, sim.handle.server, sim.handle.token, sim.handle.caPem);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', sim.handle.kubeconfig, '--cache-dir', join(sim.dir, 'kube-cache'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // SIGINT, like `timeout`, so a watch ends cleanly with what it printed so far.
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGINT'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** kubectl against the spec's sim (made in beforeAll, hence the getter): `k` runs it, `ok` also expects exit 0 and returns stdout. */
export function kubectlOn(sim: () => TestSim): { k: (...args: string[]) => Promise<RunResult>; ok: (...args: string[]) => Promise<string> } {
  const k = (...args: string[]) => kubectl(sim(), args);
  const ok = async (...args: string[]) => {
    const r = await k(...args);
    expect(r.code, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  return { k, ok };
}

/** Writes a scratch file (a temp manifest) next to the sim's kubeconfig and returns its path. */
export function scratchFile(sim: TestSim, name: string, content: string): string {
  mkdirSync(sim.dir, { recursive: true });
  const path = join(sim.dir, name);
  writeFileSync(path, content);
  return path;
}

export interface RawResponse {
  status: number;
  body: string;
  json(): Record<string, unknown>;
}

/** A bare HTTPS request that trusts the sim's CA; `token: null` sends no Authorization header. */
export function rawRequest(sim: TestSim, method: string, path: string, opts: { token?: string | null; body?: string | Buffer; contentType?: string | null } = {}): Promise<RawResponse> {
  const server = new URL(sim.handle.server);
  const token = opts.token === undefined ? sim.handle.token : opts.token;
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (opts.body !== undefined && opts.contentType !== null) headers['Content-Type'] = opts.contentType ?? 'application/json';
  // Node sends a DELETE body unframed unless told its length.
  if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
  return new Promise((resolvePromise, reject) => {
    // The path goes on the wire as given (no URL normalisation), so malformed escapes reach the server.
    const req = https.request({ host: server.hostname, port: server.port, path, method, ca: sim.handle.caPem, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface StatusBody {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: { causes?: Cause[] };
}

/** The code and Status body of a failed client-node call (generated APIs hand the body over as text). */
export function apiError(e: unknown): { code: number; status: StatusBody } {
  if (!(e instanceof k8s.ApiException)) throw e;
  const raw: unknown = e.body;
  let status: StatusBody = {};
  if (typeof raw === 'string') {
    try { status = JSON.parse(raw) as StatusBody; } catch { status = { message: raw }; }
  } else if (raw && typeof raw === 'object') status = raw as StatusBody;
  return { code: e.code, status };
}

/** Awaits a call that must fail and returns its error code and Status. */
export async function expectApiError(p: Promise<unknown>): Promise<{ code: number; status: StatusBody }> {
  try {
    await p;
  } catch (e) {
    return apiError(e);
  }
  throw new Error('expected the API call to fail, it succeeded');
}

/** Polls until `fn` returns a truthy value (controllers such as the GC run asynchronously). */
type Falsy = false | 0 | '' | null | undefined;
export async function eventually<T>(fn: () => Promise<T | Falsy> | T | Falsy, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A manifest both client-node (KubernetesObject) and the sim's types (KObject) accept. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: k8s.V1OwnerReference[] };
  spec?: Record<string, unknown>;
};

/** A minimal VM that passes admission: one masquerade NIC on the pod network. */
export function vm(name: string, namespace: string, labels?: Record<string, string>): Manifest {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: {
      runStrategy: 'Halted',
      template: { spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }] } },
    },
  };
}

export function namespace(name: string): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/** The VM custom-object coordinates for CustomObjectsApi calls. */
export const VM_GVR = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;
