// API server latency against an in-process sim (control plane only) over HTTPS.
// Main path: raw node:https with a keep-alive agent, one request at a time, the body read in
// full but not parsed: that is the server's latency plus TLS, which is what the targets are about.
// client-node rows are for information (they add its own (de)serialization on top).
// Reference: a bare https server in this process answering a fixed JSON body of the same size as
// the sim's GET, so the ratio shows what the sim adds over Node's own HTTPS stack.
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { Bench } from 'tinybench';
import { makeServingCert } from '../src/sim/tls.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const N = 1000;
const NS = 'bench';
const TARGETS = { 'list 1000': 20, get: 2 } as const; // p99 ms, from the issue

const sim = await startSim({ dataPlane: false, kubeconfig: join(root, 'test-results', 'bench', 'kubeconfig') });
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: sim.caPem });

interface Reply { status: number; body: string }
function request(base: string, method: string, path: string, body?: string, auth = true): Promise<Reply> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (auth) headers.Authorization = `Bearer ${sim.token}`;
    if (body) headers['Content-Type'] = 'application/json';
    const req = https.request(new URL(path, base), { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', fail);
    req.end(body);
  });
}
const api = (method: string, path: string, body?: unknown) => request(sim.server, method, path, body === undefined ? undefined : JSON.stringify(body));
async function must(p: Promise<Reply>, want: number): Promise<Reply> {
  const r = await p;
  if (r.status !== want) throw new Error(`expected HTTP ${want}, got ${r.status}: ${r.body.slice(0, 300)}`);
  return r;
}

const configMap = (name: string, i: number) => ({
  apiVersion: 'v1', kind: 'ConfigMap',
  metadata: { name, labels: { app: 'bench', shard: String(i % 10) }, annotations: { 'kvnet.io/purpose': 'api benchmark' } },
  data: { index: String(i), 'config.yaml': `# item ${i}\n${'key: value\n'.repeat(20)}` },
});

// ---- setup: 1,000 stored ConfigMaps, plus a namespace for the creates so the list stays at 1,000.
for (const ns of [NS, `${NS}-create`]) await must(api('POST', '/api/v1/namespaces', { metadata: { name: ns } }), 201);
for (let i = 0; i < N; i++) await must(api('POST', `/api/v1/namespaces/${NS}/configmaps`, configMap(`cm-${String(i).padStart(4, '0')}`, i)), 201);
const listPath = `/api/v1/namespaces/${NS}/configmaps`;
const listed = await must(api('GET', listPath), 200);
const count = (JSON.parse(listed.body) as { items: unknown[] }).items.length;
if (count !== N) throw new Error(`expected ${N} ConfigMaps, listed ${count}`);
const sample = await must(api('GET', `${listPath}/cm-0500`), 200);

// ---- the reference: same process, same TLS, a fixed body of the GET's size.
const tls = makeServingCert();
const fixed = Buffer.from(sample.body);
const fixedList = Buffer.from(listed.body);
const ref = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
  const body = req.url === '/list' ? fixedList : fixed;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
});
ref.keepAliveTimeout = 30_000;
await new Promise<void>((r) => ref.listen(0, '127.0.0.1', r));
const refBase = `https://127.0.0.1:${(ref.address() as AddressInfo).port}`;
const refAgent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: tls.caPem });
const refGet = (path: string) => () => new Promise<void>((done, fail) => {
  https.get(new URL(path, refBase), { agent: refAgent }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => { Buffer.concat(chunks).toString(); done(); });
  }).on('error', fail);
});

const kc = new k8s.KubeConfig();
kc.loadFromFile(sim.kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);

let created = 0;
const rand = () => `cm-${String(Math.floor(Math.random() * N)).padStart(4, '0')}`;
const bench = new Bench({ time: 3000, warmupTime: 500 });
bench
  .add('create', async () => { await must(api('POST', `/api/v1/namespaces/${NS}-create/configmaps`, configMap(`new-${created++}`, created)), 201); })
  .add('get', async () => { await must(api('GET', `${listPath}/${rand()}`), 200); })
  .add('list 1000', async () => { await must(api('GET', listPath), 200); })
  .add('reference get (bare https)', refGet('/get'))
  .add('reference list (bare https)', refGet('/list'))
  .add('get (client-node)', async () => { await core.readNamespacedConfigMap({ namespace: NS, name: rand() }); })
  .add('list 1000 (client-node)', async () => { await core.listNamespacedConfigMap({ namespace: NS }); });
await bench.run();

interface Row { task: string; samples: number; mean: number; p50: number; p99: number; opsPerSec: number }
const rows: Row[] = bench.tasks.map((t) => {
  const r = t.result;
  if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}${'error' in r ? ` ${String(r.error)}` : ''}`);
  return { task: t.name, samples: r.latency.samplesCount, mean: r.latency.mean, p50: r.latency.p50, p99: r.latency.p99, opsPerSec: r.throughput.mean };
});
const byName = (n: string) => rows.find((r) => r.task === n) as Row;
const f = (n: number) => n.toFixed(3);
console.log(`\nsim ${sim.server}, ${N} ConfigMaps stored, GET body ${fixed.length} B, LIST body ${listed.body.length} B`);
console.table(rows.map((r) => ({ task: r.task, samples: r.samples, 'mean ms': f(r.mean), 'p50 ms': f(r.p50), 'p99 ms': f(r.p99), 'ops/s': Math.round(r.opsPerSec) })));

const verdicts = Object.entries(TARGETS).map(([task, limit]) => {
  const p99 = byName(task).p99;
  return { task, target: `p99 <= ${limit} ms`, p99: Number(f(p99)), verdict: p99 <= limit ? 'PASS' : 'MISS' };
});
for (const v of verdicts) console.log(`${v.verdict}  ${v.task}: p99 ${v.p99} ms (target ${v.target})`);
const ratio = { p50: byName('get').p50 / byName('reference get (bare https)').p50, p99: byName('get').p99 / byName('reference get (bare https)').p99 };
const listRatio = { p50: byName('list 1000').p50 / byName('reference list (bare https)').p50, p99: byName('list 1000').p99 / byName('reference list (bare https)').p99 };
console.log(`sim GET vs bare https GET of the same size: ${ratio.p50.toFixed(2)}x at p50, ${ratio.p99.toFixed(2)}x at p99`);
console.log(`sim LIST vs bare https body of the same size: ${listRatio.p50.toFixed(2)}x at p50, ${listRatio.p99.toFixed(2)}x at p99`);
const load = os.loadavg()[0];
console.log(`load average ${load.toFixed(2)} on ${os.cpus().length} CPUs${load > os.cpus().length / 2 ? ' (busy machine: percentiles are noisy)' : ''}`);

const out = join(root, 'reports', 'bench', 'api.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({
  when: new Date().toISOString(), node: process.version, transport: 'https keep-alive (raw node:https, 1 socket); client-node rows for information',
  stored: N, getBytes: fixed.length, listBytes: listed.body.length, rows, targets: verdicts, getVsReference: ratio, listVsReference: listRatio, loadAverage: os.loadavg(), cpus: os.cpus().length,
}, null, 2)}\n`);
console.log(`wrote ${out}`);

agent.destroy();
refAgent.destroy();
await new Promise<void>((r) => { ref.closeAllConnections(); ref.close(() => r()); });
await sim.stop();
