// Every manifest in test/fixtures/invalid is refused with a 422 whose causes name its
// `# expect-field`, through kubectl (stderr) and client-node (Status details.causes[].field).
// Leading documents of a multi-document file are accepted set-up; the last is the rejected one.
// Fixtures for a single-stack cluster run in single-stack.spec.ts.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KObject } from '../../src/sim/api/types.ts';
import {
  INVALID_DIR, NO_KUBECTL, SEED_DIR, type TestSim, apiError, hasKubectl, headers, kubectl, loadObjects, startTestSim, yamlFiles,
} from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => {
  sim = await startTestSim('invalid');
  // Cross-object rules (e.g. the HyperConverged migration network) look at the seed's objects.
  for (const f of yamlFiles(SEED_DIR)) for (const o of loadObjects(join(SEED_DIR, f))) await upsert(sim, o);
});
test.afterAll(async () => { await sim?.stop(); });

/** Create, or replace at the current resourceVersion: what `kubectl apply` amounts to. */
export async function upsert(s: TestSim, o: KObject): Promise<KubernetesObject> {
  const header = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name as string, namespace: o.metadata.namespace } };
  const cur = await s.objects.read(header).catch((e: unknown) => {
    if (apiError(e).code === 404) return undefined;
    throw e;
  });
  if (!cur) return s.objects.create(o as KubernetesObject);
  return s.objects.replace({ ...o, metadata: { ...o.metadata, resourceVersion: cur.metadata?.resourceVersion } } as KubernetesObject);
}

const fixtures = yamlFiles(INVALID_DIR).map((file) => ({ file, path: join(INVALID_DIR, file), h: headers(join(INVALID_DIR, file)) }));
const dualStack = fixtures.filter((f) => f.h['expect-cluster'] !== 'dualStack=false');

test('every invalid fixture names its expected field', () => {
  expect(fixtures.length).toBeGreaterThan(50);
  for (const f of fixtures) expect(f.h['expect-field'], f.file).toBeTruthy();
});

test.describe('client-node', () => {
  for (const { file, path, h } of dualStack) {
    test(`${file} → 422 on ${h['expect-field']}`, async () => {
      const docs = loadObjects(path);
      for (const o of docs.slice(0, -1)) await upsert(sim, o);
      const err = await upsert(sim, docs[docs.length - 1]).then(() => undefined, (e: unknown) => apiError(e));
      expect(err, 'the last document must be refused').toBeTruthy();
      expect(err?.code).toBe(422);
      expect(err?.status).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
      expect((err?.status.details?.causes ?? []).map((c) => c.field)).toContain(h['expect-field']);
    });
  }
});

test.describe('kubectl', () => {
  test.skip(!hasKubectl, NO_KUBECTL);
  for (const { file, path, h } of dualStack) {
    test(`${file} → kubectl apply fails on ${h['expect-field']}`, async () => {
      const r = await kubectl(sim, ['apply', '-f', path]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('is invalid');
      expect(r.stderr).toContain(`${h['expect-field']}:`);
    });
  }
});

test('the single-stack-only rule admits the same manifest on this dual-stack cluster', async () => {
  for (const { path } of fixtures.filter((f) => f.h['expect-cluster'] === 'dualStack=false')) {
    const docs = loadObjects(path);
    // Server-side dry run: admitted, nothing stored.
    const o = docs[docs.length - 1];
    await sim.objects.create(o as KubernetesObject, undefined, 'All');
    const gone = await sim.objects.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name as string, namespace: o.metadata.namespace } }).catch((e: unknown) => apiError(e));
    expect(gone).toMatchObject({ code: 404 });
  }
});
