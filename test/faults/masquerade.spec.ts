// Every check can fail: the masquerade suite, run as a user runs it, turns red under each sim
// fault — at the test that checks the broken behaviour, with a message that says what broke.
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import type { FaultName, FaultSpec } from '../../src/sim/faults.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import { find, runSuites, type Outcome } from './suite-runner.ts';

test.describe.configure({ mode: 'serial', timeout: 300_000 });

let sim: SimHandle;
const SUITE = ['suites/masquerade.spec.ts'];

test.beforeAll(async () => {
  sim = await startSim({ settings: { mtu: 9000 }, kubeconfig: resolve('test-results', 'sim-faults', 'kubeconfig') });
});

test.afterAll(async () => {
  await sim?.stop();
});

async function underFault(name: FaultName, spec: FaultSpec = {}): Promise<Outcome[]> {
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject(name, spec);
  try {
    const { code, outcomes } = await runSuites(name, SUITE, sim.kubeconfig, 'sim');
    expect(code, 'the suite run fails').not.toBe(0);
    return outcomes;
  } finally {
    await admin.clear(name);
  }
}

test('the suite passes on the healthy sim (the baseline the faults break)', async () => {
  const { code, outcomes } = await runSuites('healthy', SUITE, sim.kubeconfig, 'sim');
  expect(outcomes.filter((o) => o.status !== 'passed' && o.status !== 'skipped').map((o) => `${o.title}: ${o.message}`)).toEqual([]);
  expect(code).toBe(0);
});

test('"masquerade NAT broken" fails the egress check: the peer no longer sees the pod IP', async () => {
  const outcomes = await underFault('masquerade-nat-broken');
  const egress = find(outcomes, 'outgoing traffic is hidden behind the pod IP address');
  expect(egress.status).toBe('failed');
  expect(egress.message).toMatch(/pod IP|egress|connect|refused|timed out/i);
  expect(find(outcomes, 'ports 49152 and 49153').status, 'inbound DNAT checks are unaffected').toBe('passed');
});

test('"packet loss 30% on the pod network" fails the latency checks on their loss threshold', async () => {
  const outcomes = await underFault('pod-network-loss', { percent: 30 });
  for (const placement of ['same-node', 'cross-node']) {
    const t = find(outcomes, `ICMP latency guest to guest, ${placement}`);
    expect(t.status, t.message).toBe('failed');
    expect(t.message).toContain('[threshold] ICMP loss');
  }
});

test('"drop the node-to-node overlay" fails the cross-node checks and leaves same-node ones green', async () => {
  const outcomes = await underFault('overlay-drop');
  expect(find(outcomes, 'a port in the ports list is reachable on the pod IP from a VM on another node').status).toBe('failed');
  expect(find(outcomes, 'ICMP latency guest to guest, cross-node').status).toBe('failed');
  expect(find(outcomes, 'ICMP latency guest to guest, same-node').status).toBe('passed');
  expect(find(outcomes, 'TCP throughput guest to guest, same-node').status).toBe('passed');
});
