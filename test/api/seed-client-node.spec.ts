// The seed manifests through client-node's generic KubernetesObjectApi, the way an
// operator-style client applies them: create, or replace the existing object at its resourceVersion.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KObject } from '../../src/sim/api/types.ts';
import { SEED_DIR, type TestSim, VM_GVR, apiError, expectApiError, loadObjects, startTestSim, yamlFiles } from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => { sim = await startTestSim('seed-client-node'); });
test.afterAll(async () => { await sim?.stop(); });

test.describe.configure({ mode: 'serial' });

const docs = yamlFiles(SEED_DIR).flatMap((f) => loadObjects(join(SEED_DIR, f)).map((o) => ({ file: f, o })));
const header = (o: KObject) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name as string, namespace: o.metadata.namespace } });

test('every seed document is created or replaced in file order', async () => {
  for (const { file, o } of docs) {
    let cur: KubernetesObject | undefined;
    try {
      cur = await sim.objects.read(header(o));
    } catch (e) {
      expect(apiError(e).code, `${file}: read`).toBe(404);
    }
    try {
      if (!cur) await sim.objects.create(o as KubernetesObject);
      else await sim.objects.replace({ ...o, metadata: { ...o.metadata, resourceVersion: cur.metadata?.resourceVersion } } as KubernetesObject);
    } catch (e) {
      throw new Error(`${file} ${o.kind}/${o.metadata.name}: ${JSON.stringify(apiError(e).status)}`);
    }
  }
});

test('each object reads back with uid, resourceVersion, creationTimestamp, generation', async () => {
  const last = new Map(docs.map(({ o }) => [`${o.apiVersion}|${o.kind}|${o.metadata.namespace}|${o.metadata.name}`, o]));
  for (const o of last.values()) {
    const got = (await sim.objects.read(header(o))) as KObject;
    expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(got.metadata.resourceVersion)).toBeGreaterThan(0);
    // client-node turns timestamps into Dates.
    expect(Number.isNaN(new Date(got.metadata.creationTimestamp as string | Date).getTime())).toBe(false);
    expect(got.metadata.generation).toBeGreaterThanOrEqual(1);
    // The last document of each object is what the server holds.
    expect(got.metadata.labels ?? {}).toEqual(o.metadata.labels ?? {});
    if (o.spec !== undefined) expect(got.spec).toMatchObject(o.spec as Record<string, unknown>);
  }
});

test('replacing an object with an unchanged body keeps its resourceVersion', async () => {
  const { o } = docs.find(({ o }) => o.kind === 'NetworkAttachmentDefinition') ?? { o: undefined };
  expect(o).toBeTruthy();
  const cur = (await sim.objects.read(header(o as KObject))) as KObject;
  const again = (await sim.objects.replace(cur as KubernetesObject)) as KObject;
  expect(again.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  expect(again.metadata.generation).toBe(cur.metadata.generation);
});

test('create twice → 409 AlreadyExists (generic and custom-object clients)', async () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'twice', namespace: 'default' }, data: { a: '1' } };
  await sim.objects.create(cm);
  const e = await expectApiError(sim.objects.create(cm));
  expect(e.code).toBe(409);
  expect(e.status).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409 });
  expect(e.status.message).toContain('already exists');
  const vm = docs.find(({ o }) => o.kind === 'VirtualMachine')?.o as KObject;
  const e2 = await expectApiError(sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: vm.metadata.namespace as string, body: vm }));
  expect(e2.code).toBe(409);
  expect(e2.status.reason).toBe('AlreadyExists');
});
