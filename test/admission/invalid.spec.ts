// Each invalid fixture is rejected with a cause on its `# expect-field`.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import { validate } from '../../src/sim/modules/index.ts';
import type { KObject } from '../../src/sim/api/types.ts';
import { FakeStore, INVALID_DIR, SEED_DIR, headers, loadObjects, request, yamlFiles } from './helpers.ts';

/** Manifests a real cluster admits though they look wrong: the sim must not be stricter. */
const ACCEPTED_DIR = join(INVALID_DIR, '..', 'accepted');

// The seed objects stand in for the cluster's state (e.g. NADs in openshift-cnv).
const seedStore = (): FakeStore => {
  const s = new FakeStore();
  for (const f of yamlFiles(SEED_DIR)) loadObjects(join(SEED_DIR, f)).forEach((o) => s.put(o));
  return s;
};

for (const file of yamlFiles(INVALID_DIR)) {
  test(`${file} is rejected on its expect-field`, () => {
    const path = join(INVALID_DIR, file);
    const h = headers(path);
    expect(h['expect-field'], 'fixture needs a "# expect-field:" header').toBeTruthy();
    const dualStack = h['expect-cluster'] !== 'dualStack=false';
    const store = seedStore();
    const docs = loadObjects(path);
    let old: KObject | undefined;
    // Leading documents are set-up and must be admitted; the last is the rejected one.
    docs.forEach((o, i) => {
      old = store.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name ?? '');
      const causes = validate(request(o, { store, dualStack, operation: old ? 'UPDATE' : 'CREATE', oldObject: old }));
      if (i < docs.length - 1) {
        expect(causes, `set-up document ${i}`).toEqual([]);
        store.put(o);
        return;
      }
      expect(causes.map((c) => c.field)).toContain(h['expect-field']);
      for (const c of causes) expect(c.message.length).toBeGreaterThan(10);
    });
  });
}

test('the dual-stack-only rejection passes on a dual-stack cluster', () => {
  const [svc] = loadObjects(join(INVALID_DIR, 'service-requiredualstack-single-stack-cluster.yaml'));
  expect(validate(request(svc, { dualStack: true }))).toEqual([]);
});

test('the SR-IOV hot-unplug manifest is refused on CREATE as well: admit.go checks state on every spec', () => {
  const docs = loadObjects(join(INVALID_DIR, 'vm-sriov-hot-unplug.yaml'));
  expect(validate(request(docs[docs.length - 1])).map((c) => c.message)).toEqual(['"nic1" interface\'s state "absent" is supported only for bridge binding']);
});

for (const file of yamlFiles(ACCEPTED_DIR)) {
  test(`${file} is admitted, as on a real cluster`, () => {
    const [o] = loadObjects(join(ACCEPTED_DIR, file));
    expect(validate(request(o, { store: seedStore() }))).toEqual([]);
  });
}
