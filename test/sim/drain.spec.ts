// Node drain on a control-plane sim (real API server, real kubectl, a packet-free node side): the
// pods/eviction subresource, virt-api's launcher eviction webhook (429 and status.evacuationNodeName),
// the evacuation controller's kubevirt-evacuation-* migration, the drain taint, and
// `kubectl drain --ignore-daemonsets --delete-emptydir-data` moving a VM off a cordoned node.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/sim/api/types.ts';
import { DEFAULT_SETTINGS } from '../../src/sim/cluster.ts';
import { writeKubeconfig } from '../../src/sim/kubeconfig.ts';
import { Sim } from '../../src/sim/sim.ts';
import { makeServingCert } from '../../src/sim/tls.ts';
import type { MigrationPlan, MigrationProgress, NodeSide } from '../../src/sim/virt/node-side.ts';
import { hasKubectl, KUBECTL } from './helpers.ts';
import { until, EVENT, KUBEVIRT, NAMESPACE, NODE, POD, VM, VMI, VMIM } from './registry.ts';

test.describe.configure({ mode: 'serial' });

const NS = 'drain';
const WEBHOOK = 'admission webhook "virt-launcher-eviction-interceptor.kubevirt.io" denied the request';

/** Settles at once, or holds migrate() until released; a VMI named in `pinned` is not migratable. */
class FakeNodeSide implements NodeSide {
  hold = false;
  pinned = new Set<string>();
  private held: (() => void)[] = [];
  constructor(private readonly addressOf: (node: string) => string) {}
  async prepareTarget(plan: MigrationPlan): Promise<{ targetNodeAddress: string }> {
    return { targetNodeAddress: this.addressOf(plan.targetNode) };
  }
  async migrate(plan: MigrationPlan, _a: string, onProgress: (p: MigrationProgress) => void, signal: AbortSignal): Promise<void> {
    if (this.hold) await new Promise<void>((res) => this.held.push(res));
    if (signal.aborted) throw new Error('aborted');
    onProgress({ dataTotalBytes: plan.memoryBytes, dataProcessedBytes: plan.memoryBytes, dataRemainingBytes: 0 });
  }
  async abortTarget(): Promise<void> {}
  migratable(_ns: string, vmi: string): true | string {
    return this.pinned.has(vmi) ? 'interface sriov: cannot migrate an SR-IOV VF in this sim' : true;
  }
  release(): void {
    this.hold = false;
    this.held.splice(0).forEach((r) => r());
  }
}

let sim: Sim;
let fake: FakeNodeSide;
let dir: string;
let kubeconfig: string;
let token: string;
let caPem: string;
const api = () => sim.cluster.registry;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvnet-drain-'));
  token = 'drain-token';
  const tls = makeServingCert();
  caPem = tls.caPem;
  sim = await Sim.start({ settings: { ...DEFAULT_SETTINGS, nodes: 3 }, token, tls, listen: 0, stateDir: dir, dataPlane: false });
  kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, `https://${sim.api.address}`, token, caPem);
  const internalIP = (node: string) => ((api().get(NODE, undefined, node).status as { addresses: { type: string; address: string }[] }).addresses.find((a) => a.type === 'InternalIP') as { address: string }).address;
  fake = new FakeNodeSide(internalIP);
  sim.migrations.setNodeSide(fake);
  // The stand-in virt-handler: a Scheduled VMI runs (the migration controller then writes LiveMigratable).
  api().store.subscribe((e) => {
    if (e.kind !== VMI || e.type === 'DELETED' || (e.object.status as { phase?: string } | undefined)?.phase !== 'Scheduled') return;
    const { namespace, name } = e.object.metadata;
    setImmediate(() => {
      const cur = api().tryGet(VMI, namespace, name as string);
      if (!cur || (cur.status as { phase?: string }).phase !== 'Scheduled') return;
      cur.status = { ...(cur.status as object), phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: new Date().toISOString() }] };
      api().update(VMI, namespace, name as string, cur, { subresource: 'status' });
    });
  });
  api().create(NAMESPACE, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
});

test.afterAll(async () => {
  fake?.release();
  await sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});


/** POST .../pods/<name>/eviction over HTTPS, as kubectl drain sends it (policy/v1, empty deleteOptions). */
function evict(pod: string, ns = NS): Promise<{ code: number; body: { message?: string; status?: string; code?: number } }> {
  const payload = JSON.stringify({ kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: pod, namespace: ns }, deleteOptions: {} });
  const [host, port] = sim.api.address.split(':');
  return new Promise((res, rej) => {
    const req = https.request({ host, port: Number(port), method: 'POST', path: `/api/v1/namespaces/${ns}/pods/${pod}/eviction`, ca: caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } }, (r) => {
      let text = '';
      r.on('data', (d: Buffer) => (text += d));
      r.on('end', () => res({ code: r.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', rej);
    req.end(payload);
  });
}

function kubectl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const c = spawn(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'kube-cache'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (out += d));
    c.on('error', rej);
    c.on('close', (code) => res({ code, out }));
  });
}

async function startVm(name: string, evictionStrategy?: string): Promise<KObject> {
  api().create(VM, NS, {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: NS },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/domain': name } },
        spec: {
          ...(evictionStrategy ? { evictionStrategy } : {}),
          domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] }, resources: { requests: { memory: '256Mi' } } },
          networks: [{ name: 'default', pod: {} }],
        },
      },
    },
  });
  return until(`VMI ${name} Running and LiveMigratable known`, () => {
    const v = api().tryGet(VMI, NS, name);
    const st = v?.status as { phase?: string; conditions?: { type: string }[] } | undefined;
    return st?.phase === 'Running' && st.conditions?.some((c) => c.type === 'LiveMigratable') && v;
  });
}

async function stopVm(name: string): Promise<void> {
  api().delete(VM, NS, name);
  await until(`${name}'s pods gone`, () => !api().store.list(POD, NS).some((p) => p.metadata.annotations?.['kubevirt.io/domain'] === name));
  // The stand-in virt-handler's teardown: its finalizer goes, and with it the VMI.
  const vmi = api().tryGet(VMI, NS, name);
  if (vmi) { vmi.metadata.finalizers = []; api().update(VMI, NS, name, vmi); }
  await until(`VMI ${name} gone`, () => !api().tryGet(VMI, NS, name));
}

const statusOf = (name: string) => api().get(VMI, NS, name).status as { nodeName: string; evacuationNodeName?: string; migrationState?: { completed?: boolean } };
const launcherOf = (vmi: KObject) => api().store.list(POD, NS).find((p) => p.metadata.annotations?.['kubevirt.io/domain'] === vmi.metadata.name && (p.spec as { nodeName?: string }).nodeName === (vmi.status as { nodeName: string }).nodeName && !p.metadata.deletionTimestamp) as KObject;
const migrationsOf = (vmi: string) => api().store.list(VMIM, NS).filter((m) => (m.spec as { vmiName: string }).vmiName === vmi);

test('pods/eviction: a plain pod is evicted (201); a LiveMigrate launcher is refused with 429, marked, and moved by a kubevirt-evacuation migration', async () => {
  // Positive control on the same route: a pod no webhook cares about is deleted.
  api().create(POD, NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: NS }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  const plain = await evict('plain');
  expect(plain).toEqual({ code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } });
  expect(api().tryGet(POD, NS, 'plain')).toBeUndefined();
  expect((await evict('plain')).code, 'a pod that is gone: 404').toBe(404);

  const vmi = await startVm('mover', 'LiveMigrate');
  const source = launcherOf(vmi);
  const node = (vmi.status as { nodeName: string }).nodeName;
  fake.hold = true;
  const first = await evict(source.metadata.name as string);
  expect(first.code).toBe(429);
  expect(first.body.message).toBe(`${WEBHOOK}: Eviction triggered evacuation of VMI "${NS}/mover"`);
  expect(statusOf('mover').evacuationNodeName).toBe(node);
  const again = await evict(source.metadata.name as string);
  expect(again.code).toBe(429);
  expect(again.body.message).toBe(`${WEBHOOK}: Evacuation in progress: Eviction triggered evacuation of VMI "${NS}/mover"`);
  expect(api().tryGet(POD, NS, source.metadata.name as string), 'a refused eviction deletes nothing').toBeDefined();

  const m = await until('the evacuation migration', () => migrationsOf('mover')[0]);
  expect(m.metadata.generateName).toBe('kubevirt-evacuation-');
  expect(m.metadata.name).toMatch(/^kubevirt-evacuation-[a-z0-9]{5}$/);
  expect(m.metadata.annotations?.['kubevirt.io/evacuationMigration']).toBe(node);
  expect((m.spec as { priority?: string }).priority).toBe('system-critical');
  const events = api().store.list(EVENT, NS).filter((e) => (e.involvedObject as { uid?: string }).uid === vmi.metadata.uid && e.reason === 'SuccessfulCreate');
  expect(events.map((e) => e.message)).toContain(`Created Migration ${m.metadata.name}`);
  expect(events.find((e) => e.message === `Created Migration ${m.metadata.name}`)?.source).toEqual({ component: 'evacuation-controller' });

  // While the migration runs, the target pod is refused too.
  const target = await until('the target pod bound', () => api().store.list(POD, NS).find((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID'] === m.metadata.uid && (p.spec as { nodeName?: string }).nodeName));
  expect((await evict(target.metadata.name as string)).body.message).toBe(`${WEBHOOK}: Evacuation in progress: Eviction triggered evacuation of VMI "${NS}/mover"`);
  fake.release();

  await until('the migration Succeeded', () => (api().get(VMIM, NS, m.metadata.name as string).status as { phase?: string }).phase === 'Succeeded');
  await until('the mark cleared after the move', () => statusOf('mover').nodeName !== node && !statusOf('mover').evacuationNodeName);
  await until('the source pod gone', () => !api().tryGet(POD, NS, source.metadata.name as string));
  expect(migrationsOf('mover'), 'one migration, not one per eviction').toHaveLength(1);
  await stopVm('mover');
});

test('the target pod of a user migration is refused with "Eviction request for target Pod"', async () => {
  const vmi = await startVm('user', 'LiveMigrate');
  fake.hold = true;
  api().create(VMIM, NS, { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'by-hand', namespace: NS }, spec: { vmiName: 'user' } });
  const m = api().get(VMIM, NS, 'by-hand');
  const target = await until('the target pod bound', () => api().store.list(POD, NS).find((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID'] === m.metadata.uid && (p.spec as { nodeName?: string }).nodeName));
  const r = await evict(target.metadata.name as string);
  expect(r.code).toBe(429);
  expect(r.body.message).toBe(`${WEBHOOK}: Eviction request for target Pod`);
  expect(statusOf('user').evacuationNodeName, 'the target pod\'s eviction marks nothing').toBeUndefined();
  fake.release();
  await until('the migration Succeeded', () => (api().get(VMIM, NS, 'by-hand').status as { phase?: string }).phase === 'Succeeded');
  expect(statusOf('user').nodeName).not.toBe((vmi.status as { nodeName: string }).nodeName);
  await stopVm('user');
});

test('eviction strategies: LiveMigrate on a VMI that cannot migrate is refused; LiveMigrateIfPossible lets it go; the KubeVirt CR sets the default', async () => {
  // Positive control: the cluster-wide strategy makes a migratable VMI without its own strategy move.
  const kv = api().get(KUBEVIRT, 'openshift-cnv', 'kubevirt-kubevirt-hyperconverged');
  const spec = kv.spec as { configuration?: Record<string, unknown> };
  kv.spec = { ...spec, configuration: { ...spec.configuration, evictionStrategy: 'LiveMigrate' } };
  api().update(KUBEVIRT, 'openshift-cnv', kv.metadata.name as string, kv);
  const ok = await startVm('cluster-default');
  const okEv = await evict(launcherOf(ok).metadata.name as string);
  expect(okEv.body.message).toBe(`${WEBHOOK}: Eviction triggered evacuation of VMI "${NS}/cluster-default"`);

  fake.pinned.add('pinned').add('if-possible');
  const pinned = await startVm('pinned', 'LiveMigrate');
  expect((pinned.status as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === 'LiveMigratable')?.status).toBe('False');
  const denied = await evict(launcherOf(pinned).metadata.name as string);
  expect(denied.code).toBe(429);
  expect(denied.body.message).toBe(`${WEBHOOK}: VMI pinned is configured with an eviction strategy but is not live-migratable`);
  expect(statusOf('pinned').evacuationNodeName).toBeUndefined();
  expect(api().tryGet(POD, NS, launcherOf(pinned).metadata.name as string)).toBeDefined();

  const ifPossible = await startVm('if-possible', 'LiveMigrateIfPossible');
  const pod = launcherOf(ifPossible).metadata.name as string;
  const allowed = await evict(pod);
  expect(allowed.code, 'LiveMigrateIfPossible, not migratable: evicted, the VM shuts down').toBe(201);
  expect(api().tryGet(POD, NS, pod)).toBeUndefined();
  expect(migrationsOf('if-possible')).toHaveLength(0);
  expect(migrationsOf('pinned')).toHaveLength(0);

  await until('cluster-default moved', () => migrationsOf('cluster-default').some((m) => (m.status as { phase?: string } | undefined)?.phase === 'Succeeded'));
  const kv2 = api().get(KUBEVIRT, 'openshift-cnv', kv.metadata.name as string);
  delete (kv2.spec as { configuration: Record<string, unknown> }).configuration.evictionStrategy;
  api().update(KUBEVIRT, 'openshift-cnv', kv2.metadata.name as string, kv2);
  fake.pinned.clear();
  await Promise.all(['cluster-default', 'pinned', 'if-possible'].map(stopVm));
});

test('a node tainted kubevirt.io/drain:NoSchedule has its LiveMigrate VMIs migrated', async () => {
  const vmi = await startVm('tainted', 'LiveMigrate');
  const node = (vmi.status as { nodeName: string }).nodeName;
  const n = api().get(NODE, undefined, node);
  n.spec = { ...(n.spec as object), taints: [{ key: 'kubevirt.io/drain', effect: 'NoSchedule' }] };
  api().update(NODE, undefined, node, n);
  try {
    const m = await until('the evacuation migration', () => migrationsOf('tainted')[0]);
    expect(m.metadata.annotations?.['kubevirt.io/evacuationMigration']).toBe(node);
    await until('moved off the tainted node', () => statusOf('tainted').nodeName !== node);
  } finally {
    const cur = api().get(NODE, undefined, node);
    cur.spec = { ...(cur.spec as object), taints: [] };
    api().update(NODE, undefined, node, cur);
  }
  await stopVm('tainted');
});

test('kubectl drain --ignore-daemonsets --delete-emptydir-data moves a LiveMigrate VM off the cordoned node; uncordon lets pods back', async () => {
  test.skip(!hasKubectl, `kubectl not installed: ${KUBECTL} is missing`);
  test.setTimeout(180_000);
  const vmi = await startVm('drainee', 'LiveMigrate');
  const node = (vmi.status as { nodeName: string }).nodeName;
  const source = launcherOf(vmi).metadata.name as string;
  const pinnedPod = (name: string) => api().create(POD, NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS }, spec: { nodeSelector: { 'kubernetes.io/hostname': node }, containers: [{ name: 'c', image: 'busybox' }] } });
  const nodeOf = (name: string) => (api().tryGet(POD, NS, name)?.spec as { nodeName?: string } | undefined)?.nodeName;
  // Positive control: before the cordon a pod asking for this node gets it.
  pinnedPod('before');
  await until('the pod bound before the cordon', () => nodeOf('before') === node);
  api().delete(POD, NS, 'before');

  const drain = await kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s']);
  expect(drain.out).toContain(`node/${node} cordoned`);
  expect(drain.out).toContain(`evicting pod ${NS}/${source}`);
  expect(drain.out).toContain(`error when evicting pods/"${source}" -n "${NS}" (will retry after 5s): ${WEBHOOK}: Eviction triggered evacuation of VMI "${NS}/drainee"`);
  expect(drain.out).toContain(`node/${node} drained`);
  expect(drain.code, drain.out).toBe(0);
  expect(api().tryGet(POD, NS, source)).toBeUndefined();
  const st = api().get(VMI, NS, 'drainee').status as { phase: string; nodeName: string };
  expect(st.phase).toBe('Running');
  expect(st.nodeName).not.toBe(node);
  expect(migrationsOf('drainee').map((m) => m.metadata.generateName)).toEqual(['kubevirt-evacuation-']);
  expect((api().get(NODE, undefined, node).spec as { unschedulable?: boolean }).unschedulable).toBe(true);

  // The scheduler keeps new pods off the cordoned node.
  pinnedPod('after');
  const refused = await until('the scheduler\'s refusal', () => ((api().get(POD, NS, 'after').status as { conditions?: { type: string; status: string; message?: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False'));
  expect(refused.message).toContain('node(s) were unschedulable');
  const un = await kubectl(['uncordon', node]);
  expect(un.code, un.out).toBe(0);
  expect(un.out).toContain(`node/${node} uncordoned`);
  await until('the pod bound after uncordon', () => nodeOf('after') === node);
  api().delete(POD, NS, 'after');
  await stopVm('drainee');
});
