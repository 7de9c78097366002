// The SR-IOV suite, run as a user runs it, turns red under "vf-not-moved" at the tests that check
// the guest's VF, and stays green where the fault does not reach (policy, NAD, scheduling).
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import { find, runSuites } from './suite-runner.ts';

test.describe.configure({ mode: 'serial', timeout: 300_000 });

let sim: SimHandle;
const SUITE = ['suites/sriov.spec.ts'];

test.beforeAll(async () => {
  sim = await startSim({ kubeconfig: resolve('test-results', 'sim-faults-sriov', 'kubeconfig') });
});

test.afterAll(async () => {
  await sim?.stop();
});

test('the SR-IOV suite passes on the healthy sim', async () => {
  const { code, outcomes } = await runSuites('sriov-healthy', SUITE, sim.kubeconfig, 'sim');
  expect(outcomes.filter((o) => o.status !== 'passed').map((o) => `${o.title}: ${o.status} ${o.message}`)).toEqual([]);
  expect(code).toBe(0);
});

test('"vf-not-moved" fails the VF and connectivity checks; policy, NAD and exhaustion stay green', async () => {
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject('vf-not-moved');
  try {
    const { code, outcomes } = await runSuites('sriov-vf-not-moved', SUITE, sim.kubeconfig, 'sim');
    expect(code).not.toBe(0);
    const vf = find(outcomes, 'a VM with an sriov interface gets a VF');
    expect(vf.status).toBe('failed');
    expect(vf.message).toMatch(/a NIC with MAC/);
    expect(find(outcomes, 'reaches a VM on another node over the SR-IOV network').status).toBe('failed');
    for (const ok of ['the node policy is applied', 'creates a NetworkAttachmentDefinition', 'VF exhaustion']) expect(find(outcomes, ok).status, ok).toBe('passed');
  } finally {
    await admin.clear('vf-not-moved');
  }
});
