// The secondary-network suites turn red under each of their sim faults — at the test that checks
// the broken behaviour — and stay green where the fault does not reach.
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import type { FaultName } from '../../src/sim/faults.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import { find, runSuites, type Outcome } from './suite-runner.ts';

test.describe.configure({ mode: 'serial', timeout: 300_000 });

let sim: SimHandle;
const LINUX_BRIDGE = 'suites/linux-bridge.spec.ts';
const OVN = 'suites/ovn-secondary.spec.ts';

test.beforeAll(async () => {
  sim = await startSim({ kubeconfig: resolve('test-results', 'sim-faults-secondary', 'kubeconfig') });
});

test.afterAll(async () => {
  await sim?.stop();
});

async function underFault(name: FaultName, suite: string): Promise<Outcome[]> {
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject(name);
  try {
    const { code, outcomes } = await runSuites(`secondary-${name}`, [suite], sim.kubeconfig, 'sim');
    expect(code, 'the suite run fails').not.toBe(0);
    return outcomes;
  } finally {
    await admin.clear(name);
  }
}

test('the secondary-network suites pass on the healthy sim (the baseline the faults break)', async () => {
  const { code, outcomes } = await runSuites('secondary-healthy', [LINUX_BRIDGE, OVN, 'suites/ip-config.spec.ts', 'suites/table-8-1.spec.ts'], sim.kubeconfig, 'sim');
  expect(outcomes.filter((o) => o.status !== 'passed' && o.status !== 'skipped').map((o) => `${o.title}: ${o.message}`)).toEqual([]);
  expect(code).toBe(0);
});

test('"bridge port down" fails the cross-node bridge check; the NNCP and NAD checks stay green', async () => {
  const o = await underFault('bridge-port-down', LINUX_BRIDGE);
  expect(find(o, 'VMs on different nodes talk over the bridge network').status).toBe('failed');
  expect(find(o, 'VMs on different nodes talk over the bridge network').message).toMatch(/ping 10\.201\.0\.2/);
  expect(find(o, 'the NNCP with a linux-bridge on a node NIC becomes Available').status).toBe('passed');
  expect(find(o, 'the network attachment definition exists').status).toBe('passed');
});

test('"VLAN leak" fails the VLAN isolation check and nothing else', async () => {
  const o = await underFault('vlan-leak', LINUX_BRIDGE);
  const t = find(o, 'a different VLAN is isolated');
  expect(t.status).toBe('failed');
  expect(t.message).toMatch(/VLAN 100 → VLAN 200/);
  expect(o.filter((x) => x.status === 'failed').map((x) => x.title)).toEqual([t.title]);
});

test('"overlay partition" fails the layer2 cross-node checks; localnet stays green', async () => {
  const o = await underFault('overlay-partition', OVN);
  expect(find(o, 'a layer2 network connects VMs on different nodes').status).toBe('failed');
  expect(find(o, 'share one layer-2 segment').status).toBe('failed');
  expect(find(o, 'a localnet network reaches a host on the physical underlay').status).toBe('passed');
});

test('"policy ignored" fails the MultiNetworkPolicy checks on what they deny; layer2 connectivity stays green', async () => {
  const o = await underFault('policy-ignored', OVN);
  const ingress = find(o, 'an ipBlock ingress rule allows the listed CIDR and denies its except block');
  expect(ingress.status).toBe('failed');
  expect(ingress.message).toMatch(/must be denied/);
  expect(find(o, 'an egress ipBlock rule lets out only the listed CIDR').status).toBe('failed');
  expect(find(o, 'a layer2 network connects VMs on different nodes').status).toBe('passed');
});
