// Label selectors (=, !=, in, notin, exists, !exists) and field selectors (metadata.name,
// metadata.namespace) on list, through kubectl and client-node.
import { test, expect } from '@playwright/test';
import type { KObject } from '../../src/sim/api/types.ts';
import { NO_KUBECTL, type TestSim, VM_GVR, expectApiError, hasKubectl, kubectl, namespace, startTestSim, vm } from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => {
  sim = await startTestSim('selectors');
  for (const ns of ['sel', 'sel-other']) await sim.objects.create(namespace(ns));
  await sim.objects.create(vm('a', 'sel', { special: 'key' }));
  await sim.objects.create(vm('b', 'sel', { special: 'other' }));
  await sim.objects.create(vm('c', 'sel', { special: 'third', tier: 'x' }));
  await sim.objects.create(vm('d', 'sel'));
  await sim.objects.create(vm('a', 'sel-other', { special: 'key' }));
});
test.afterAll(async () => { await sim?.stop(); });

const LABEL_CASES: [string, string[]][] = [
  ['special=key', ['a']],
  ['special==key', ['a']],
  ['special!=key', ['b', 'c', 'd']],
  ['special in (key,other)', ['a', 'b']],
  ['special notin (key)', ['b', 'c', 'd']],
  ['special', ['a', 'b', 'c']],
  ['!special', ['d']],
  ['special,tier=x', ['c']],
  ['special notin (key),!tier', ['b', 'd']],
];

test.describe('client-node', () => {
  for (const [selector, want] of LABEL_CASES) {
    test(`labelSelector "${selector}"`, async () => {
      const list = (await sim.custom.listNamespacedCustomObject({ ...VM_GVR, namespace: 'sel', labelSelector: selector })) as { items: KObject[] };
      expect(list.items.map((o) => o.metadata.name).sort()).toEqual(want);
      const generic = await sim.objects.list('kubevirt.io/v1', 'VirtualMachine', 'sel', undefined, undefined, undefined, undefined, selector);
      expect(generic.items.map((o) => o.metadata?.name).sort()).toEqual(want);
    });
  }

  test('fieldSelector metadata.name= and metadata.namespace=', async () => {
    const byName = (await sim.custom.listClusterCustomObject({ ...VM_GVR, fieldSelector: 'metadata.name=a' })) as { items: KObject[] };
    expect(byName.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual(['sel-other/a', 'sel/a']);
    const byNs = (await sim.custom.listClusterCustomObject({ ...VM_GVR, fieldSelector: 'metadata.namespace=sel-other' })) as { items: KObject[] };
    expect(byNs.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['sel-other/a']);
    const both = (await sim.custom.listClusterCustomObject({ ...VM_GVR, fieldSelector: 'metadata.namespace=sel,metadata.name!=a', labelSelector: 'special' })) as { items: KObject[] };
    expect(both.items.map((o) => o.metadata.name).sort()).toEqual(['b', 'c']);
    const cms = await sim.core.listNamespacedConfigMap({ namespace: 'sel', fieldSelector: 'metadata.name=nothing' });
    expect(cms.items).toEqual([]);
  });

  test('a malformed or unknown selector is a 400', async () => {
    const e1 = await expectApiError(sim.custom.listNamespacedCustomObject({ ...VM_GVR, namespace: 'sel', fieldSelector: 'spec.unknownField=1' }));
    expect(e1.code).toBe(400);
    const e2 = await expectApiError(sim.custom.listNamespacedCustomObject({ ...VM_GVR, namespace: 'sel', labelSelector: 'a in b' }));
    expect(e2.code).toBe(400);
  });
});

test.describe('kubectl', () => {
  test.skip(!hasKubectl, NO_KUBECTL);
  const names = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => l.replace(/^virtualmachine\.kubevirt\.io\//, '')).sort();

  for (const [selector, want] of LABEL_CASES) {
    test(`get vm -l "${selector}"`, async () => {
      const r = await kubectl(sim, ['get', 'vm', '-n', 'sel', '-l', selector, '-o', 'name']);
      expect(r.code, r.stderr).toBe(0);
      expect(names(r.stdout)).toEqual(want);
    });
  }

  test('get vm --field-selector metadata.name= / metadata.namespace=', async () => {
    const byName = await kubectl(sim, ['get', 'vm', '-A', '--field-selector', 'metadata.name=a', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}']);
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout.trim().split('\n').sort()).toEqual(['sel-other/a', 'sel/a']);
    const byNs = await kubectl(sim, ['get', 'vm', '-A', '--field-selector', 'metadata.namespace=sel-other', '-o', 'name']);
    expect(names(byNs.stdout)).toEqual(['a']);
    const table = await kubectl(sim, ['get', 'vm', '-n', 'sel', '-l', 'special=key']);
    expect(table.stdout).toMatch(/^NAME\s+AGE/);
    expect(table.stdout).toMatch(/\na\s/);
  });
});
