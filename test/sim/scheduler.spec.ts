// kube-scheduler's InterPodAffinity filter is symmetric: a placed VM's required anti-affinity keeps a
// later VM it selects off its node, even when the later VM declares no affinity itself.
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/kube/client.ts';
import { vm } from '../../src/kube/vm-spec.ts';
import { DataPlaneSim } from './helpers.ts';

let sim: DataPlaneSim;

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('scheduler');
});

test.afterAll(async () => {
  await sim?.stop();
});

test("a VM pinned to the node of a VM whose anti-affinity selects it stays unschedulable: \"node(s) didn't satisfy existing pods anti-affinity rules\"", async () => {
  const first = await sim.scope.create(vm('first').placement({ awayFrom: ['second'] }));
  // The control: a VM the anti-affinity does not select, pinned to the same node, runs there.
  const bystander = await sim.scope.create(vm('bystander').placement({ node: first.node }));
  expect(bystander.node).toBe(first.node);
  await sim.scope.create(vm('second').placement({ node: first.node }), { wait: 'none' });
  const events = await sim.kube.waitFor(async () => {
    const es = (await sim.kube.list<KObject>('v1', 'Event', sim.namespace)).filter((e) => (e as { reason?: string }).reason === 'FailedScheduling');
    const msgs = es.map((e) => (e as { message?: string }).message ?? '');
    return msgs.some((m) => m.includes('existing pods anti-affinity')) && msgs;
  }, { what: 'FailedScheduling for second', timeoutMs: 20_000 });
  expect(events.join('\n')).toMatch(/didn't satisfy existing pods anti-affinity rules/);
});
