// Invalid fixtures marked `# expect-cluster: dualStack=false` against a sim started single-stack.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { INVALID_DIR, NO_KUBECTL, type TestSim, expectApiError, hasKubectl, headers, kubectl, loadObjects, startTestSim, yamlFiles } from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => { sim = await startTestSim('single-stack', { dualStack: false }); });
test.afterAll(async () => { await sim?.stop(); });

const fixtures = yamlFiles(INVALID_DIR)
  .map((file) => ({ file, path: join(INVALID_DIR, file), h: headers(join(INVALID_DIR, file)) }))
  .filter((f) => f.h['expect-cluster'] === 'dualStack=false');

test('there is at least one single-stack fixture', () => {
  expect(fixtures.length).toBeGreaterThan(0);
});

for (const { file, path, h } of fixtures) {
  test(`client-node: ${file} → 422 on ${h['expect-field']}`, async () => {
    const docs = loadObjects(path);
    for (const o of docs.slice(0, -1)) await sim.objects.create(o as KubernetesObject);
    const err = await expectApiError(sim.objects.create(docs[docs.length - 1] as KubernetesObject));
    expect(err.code).toBe(422);
    expect((err.status.details?.causes ?? []).map((c) => c.field)).toContain(h['expect-field']);
  });

  test(`kubectl: ${file} → refused on ${h['expect-field']}`, async () => {
    test.skip(!hasKubectl, NO_KUBECTL);
    const r = await kubectl(sim, ['create', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${h['expect-field']}:`);
  });
}
