// Write semantics through client-node: optimistic concurrency, the four patch types,
// /status, generateName, finalizers, garbage collection, namespace deletion, deletecollection.
import { test, expect } from '@playwright/test';
import * as k8s from '@kubernetes/client-node';
import type { KObject } from '../../src/sim/api/types.ts';
import { type TestSim, VM_GVR, eventually, expectApiError, namespace, startTestSim, vm } from './helpers.ts';

let sim: TestSim;
const NS = 'wr';
test.beforeAll(async () => {
  sim = await startTestSim('writes-client-node');
  await sim.objects.create(namespace(NS));
});
test.afterAll(async () => { await sim?.stop(); });

const contentType = (t: k8s.PatchStrategy) => k8s.setHeaderOptions('Content-Type', t);
const cm = (name: string, extra: Partial<k8s.V1ConfigMap> = {}): k8s.V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { a: '1' }, ...extra });
const svc = (name: string): k8s.V1Service => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
});
const gone = async (p: Promise<unknown>) => (await expectApiError(p)).code === 404;

test('replace with a stale resourceVersion → 409 Conflict', async () => {
  const created = await sim.core.createNamespacedConfigMap({ namespace: NS, body: cm('occ') });
  const stale = created.metadata?.resourceVersion;
  const updated = await sim.core.replaceNamespacedConfigMap({ namespace: NS, name: 'occ', body: { ...created, data: { a: '2' } } });
  expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(stale));
  const e = await expectApiError(sim.core.replaceNamespacedConfigMap({ namespace: NS, name: 'occ', body: { ...created, data: { a: '3' } } }));
  expect(e.code).toBe(409);
  expect(e.status).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });
  expect(e.status.message).toContain('the object has been modified');
  // A merge patch carrying the stale resourceVersion is refused too.
  const p = await expectApiError(sim.core.patchNamespacedConfigMap({ namespace: NS, name: 'occ', body: { metadata: { resourceVersion: stale }, data: { a: '4' } } }, contentType(k8s.PatchStrategy.MergePatch)));
  expect(p.code).toBe(409);
  expect((await sim.core.readNamespacedConfigMap({ namespace: NS, name: 'occ' })).data).toEqual({ a: '2' });
});

test.describe('patches on a Service', () => {
  test('JSON patch (RFC 6902)', async () => {
    await sim.core.createNamespacedService({ namespace: NS, body: svc('s-json') });
    const out = await sim.core.patchNamespacedService({
      namespace: NS, name: 's-json',
      body: [{ op: 'add', path: '/metadata/labels', value: { via: 'json' } }, { op: 'replace', path: '/spec/ports/0/port', value: 81 }, { op: 'test', path: '/spec/selector/app', value: 's-json' }],
    }, contentType(k8s.PatchStrategy.JsonPatch));
    expect(out.metadata?.labels).toEqual({ via: 'json' });
    expect(out.spec?.ports?.map((p) => p.port)).toEqual([81]);
    const failed = await expectApiError(sim.core.patchNamespacedService({ namespace: NS, name: 's-json', body: [{ op: 'test', path: '/spec/selector/app', value: 'other' }] }, contentType(k8s.PatchStrategy.JsonPatch)));
    expect(failed.code).toBe(422);
  });

  test('merge patch (RFC 7386) replaces lists and deletes with null', async () => {
    await sim.core.createNamespacedService({ namespace: NS, body: svc('s-merge') });
    const out = await sim.core.patchNamespacedService({
      namespace: NS, name: 's-merge',
      body: { metadata: { labels: { via: 'merge' } }, spec: { selector: null, ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] } },
    }, contentType(k8s.PatchStrategy.MergePatch));
    expect(out.metadata?.labels).toEqual({ via: 'merge' });
    expect(out.spec?.selector).toBeUndefined();
    expect(out.spec?.ports?.map((p) => p.port)).toEqual([443]);
  });

  test('strategic merge patch merges ports by `port`', async () => {
    await sim.core.createNamespacedService({ namespace: NS, body: svc('s-smp') });
    const added = await sim.core.patchNamespacedService({
      namespace: NS, name: 's-smp', body: { spec: { ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] } },
    }, contentType(k8s.PatchStrategy.StrategicMergePatch));
    expect(added.spec?.ports?.map((p) => `${p.name}:${p.port}`)).toEqual(['http:80', 'https:443']);
    const changed = await sim.core.patchNamespacedService({
      namespace: NS, name: 's-smp', body: { spec: { ports: [{ port: 80, targetPort: 9090 }] } },
    }, contentType(k8s.PatchStrategy.StrategicMergePatch));
    expect(changed.spec?.ports?.map((p) => `${p.name}:${p.port}>${p.targetPort}`)).toEqual(['http:80>9090', 'https:443>8443']);
    const deleted = await sim.core.patchNamespacedService({
      namespace: NS, name: 's-smp', body: { spec: { ports: [{ port: 443, $patch: 'delete' }] } },
    }, contentType(k8s.PatchStrategy.StrategicMergePatch));
    expect(deleted.spec?.ports?.map((p) => p.port)).toEqual([80]);
  });

  test('strategic merge patch on a custom resource → 415', async () => {
    await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: NS, body: vm('vm-smp', NS) });
    const e = await expectApiError(sim.custom.patchNamespacedCustomObject({ ...VM_GVR, namespace: NS, name: 'vm-smp', body: { metadata: { labels: { a: 'b' } } } }, contentType(k8s.PatchStrategy.StrategicMergePatch)));
    expect(e.code).toBe(415);
  });

  test('server-side apply creates, updates, and drops fields the manager stopped applying', async () => {
    const apply = (body: object) => sim.core.patchNamespacedService({ namespace: NS, name: 's-ssa', body, fieldManager: 'kvnet-test' }, contentType(k8s.PatchStrategy.ServerSideApply));
    const base = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's-ssa', namespace: NS, labels: { one: '1', two: '2' } }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } };
    const created = await apply(base);
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.metadata?.managedFields?.map((m) => `${m.manager}/${m.operation}`)).toContain('kvnet-test/Apply');
    const updated = await apply({ ...base, metadata: { ...base.metadata, labels: { one: '1b' } } });
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    expect(updated.metadata?.labels).toEqual({ one: '1b' });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    // Without a fieldManager the server refuses an apply patch.
    const e = await expectApiError(sim.core.patchNamespacedService({ namespace: NS, name: 's-ssa', body: base }, contentType(k8s.PatchStrategy.ServerSideApply)));
    expect(e.code).toBe(400);
  });
});

test('/status: the main resource ignores status, /status ignores everything else', async () => {
  // (A real server also drops status on create; the sim keeps it, see the report. Not asserted here.)
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: NS, body: vm('vm-status', NS) });
  const created = (await sim.custom.getNamespacedCustomObject({ ...VM_GVR, namespace: NS, name: 'vm-status' })) as KObject;

  const main = (await sim.custom.replaceNamespacedCustomObject({
    ...VM_GVR, namespace: NS, name: 'vm-status',
    body: { ...created, metadata: { ...created.metadata, labels: { changed: 'main' } }, status: { printableStatus: 'FromMain' } },
  })) as KObject;
  expect(main.metadata.labels).toEqual({ changed: 'main' });
  expect(main.status).toBeUndefined();

  const status = (await sim.custom.replaceNamespacedCustomObjectStatus({
    ...VM_GVR, namespace: NS, name: 'vm-status',
    body: { ...main, metadata: { ...main.metadata, labels: { changed: 'status' } }, spec: { runStrategy: 'Always' }, status: { printableStatus: 'Stopped' } },
  })) as KObject;
  expect(status.status).toEqual({ printableStatus: 'Stopped' });
  expect(status.metadata.labels).toEqual({ changed: 'main' });
  expect((status.spec as { runStrategy: string }).runStrategy).toBe('Halted');
  expect(status.metadata.generation).toBe(main.metadata.generation);

  // The same for a built-in kind through the typed client.
  await sim.core.createNamespacedService({ namespace: NS, body: svc('s-status') });
  const s = await sim.core.readNamespacedService({ namespace: NS, name: 's-status' });
  const lb = { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } };
  const afterMain = await sim.core.replaceNamespacedService({ namespace: NS, name: 's-status', body: { ...s, status: lb } });
  expect(afterMain.status?.loadBalancer?.ingress ?? []).toEqual([]);
  const afterStatus = await sim.core.replaceNamespacedServiceStatus({ namespace: NS, name: 's-status', body: { ...afterMain, spec: { ...afterMain.spec, selector: { app: 'changed' } }, status: lb } });
  expect(afterStatus.status?.loadBalancer?.ingress?.[0].ip).toBe('192.0.2.10');
  expect(afterStatus.spec?.selector).toEqual({ app: 's-status' });
});

test('generateName gets a random suffix', async () => {
  const a = await sim.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'gen-' }, data: {} } });
  const b = await sim.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'gen-' }, data: {} } });
  expect(a.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
  expect(b.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
  expect(a.metadata?.name).not.toBe(b.metadata?.name);
  const e = await expectApiError(sim.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: {}, data: {} } }));
  expect(e.code).toBe(422);
  expect(e.status.details?.causes?.map((c) => c.field)).toContain('metadata.name');
});

test('finalizers hold a deleted object with deletionTimestamp until removed', async () => {
  await sim.core.createNamespacedConfigMap({ namespace: NS, body: cm('held', { metadata: { name: 'held', namespace: NS, finalizers: ['kvnet.io/hold'] } }) });
  await sim.core.deleteNamespacedConfigMap({ namespace: NS, name: 'held' });
  const held = await sim.core.readNamespacedConfigMap({ namespace: NS, name: 'held' });
  expect(held.metadata?.deletionTimestamp).toBeTruthy();
  expect(held.metadata?.finalizers).toEqual(['kvnet.io/hold']);
  // Adding a finalizer once deletion began is refused.
  const add = await expectApiError(sim.core.replaceNamespacedConfigMap({ namespace: NS, name: 'held', body: { ...held, metadata: { ...held.metadata, finalizers: ['kvnet.io/hold', 'kvnet.io/more'] } } }));
  expect(add.code).toBe(422);
  await sim.core.patchNamespacedConfigMap({ namespace: NS, name: 'held', body: [{ op: 'remove', path: '/metadata/finalizers' }] }, contentType(k8s.PatchStrategy.JsonPatch));
  expect(await gone(sim.core.readNamespacedConfigMap({ namespace: NS, name: 'held' }))).toBe(true);
});

test('deleting an owner garbage-collects its dependents', async () => {
  const owner = await sim.core.createNamespacedConfigMap({ namespace: NS, body: cm('owner') });
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid as string };
  await sim.core.createNamespacedConfigMap({ namespace: NS, body: cm('dependent', { metadata: { name: 'dependent', namespace: NS, ownerReferences: [ref] } }) });
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: NS, body: { ...vm('vm-dependent', NS), metadata: { name: 'vm-dependent', namespace: NS, ownerReferences: [ref] } } });
  await sim.core.deleteNamespacedConfigMap({ namespace: NS, name: 'owner' });
  await eventually(() => gone(sim.core.readNamespacedConfigMap({ namespace: NS, name: 'dependent' })), 10_000, 'the dependent ConfigMap to go');
  await eventually(() => gone(sim.custom.getNamespacedCustomObject({ ...VM_GVR, namespace: NS, name: 'vm-dependent' })), 10_000, 'the dependent VM to go');
});

test('deleting a namespace removes the objects in it', async () => {
  await sim.objects.create(namespace('doomed'));
  await sim.core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'c1' }, data: {} } });
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: 'doomed', body: vm('v1', 'doomed') });
  await sim.core.deleteNamespace({ name: 'doomed' });
  await eventually(() => gone(sim.core.readNamespace({ name: 'doomed' })), 10_000, 'the namespace to go');
  expect(await gone(sim.core.readNamespacedConfigMap({ namespace: 'doomed', name: 'c1' }))).toBe(true);
  const vms = (await sim.custom.listNamespacedCustomObject({ ...VM_GVR, namespace: 'doomed' })) as { items: unknown[] };
  expect(vms.items).toEqual([]);
});

test('creating in a missing namespace → 404', async () => {
  const e = await expectApiError(sim.core.createNamespacedConfigMap({ namespace: 'no-such-ns', body: { metadata: { name: 'x' }, data: {} } }));
  expect(e.code).toBe(404);
  expect(e.status).toMatchObject({ reason: 'NotFound' });
  expect(e.status.message).toContain('no-such-ns');
  const v = await expectApiError(sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: 'no-such-ns', body: vm('x', 'no-such-ns') }));
  expect(v.code).toBe(404);
});

test('deletecollection with a label selector deletes only the matches', async () => {
  for (let i = 0; i < 6; i++) {
    await sim.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: `batch-${i}`, labels: { batch: i % 2 ? 'odd' : 'even' } }, data: {} } });
    await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: NS, body: vm(`bvm-${i}`, NS, { batch: i % 2 ? 'odd' : 'even' }) });
  }
  await sim.core.deleteCollectionNamespacedConfigMap({ namespace: NS, labelSelector: 'batch=even' });
  const left = await sim.core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'batch' });
  expect(left.items.map((c) => c.metadata?.name).sort()).toEqual(['batch-1', 'batch-3', 'batch-5']);
  await sim.custom.deleteCollectionNamespacedCustomObject({ ...VM_GVR, namespace: NS, labelSelector: 'batch in (odd)' });
  const vms = (await sim.custom.listNamespacedCustomObject({ ...VM_GVR, namespace: NS, labelSelector: 'batch' })) as { items: KObject[] };
  expect(vms.items.map((o) => o.metadata.name).sort()).toEqual(['bvm-0', 'bvm-2', 'bvm-4']);
});
