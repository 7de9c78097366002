// The SR-IOV Network Operator in the sim (§8.6.1, §8.6.2): discovery, policies → VFs → node
// resources, syncStatus, priorities, failures; SriovNetwork → NAD and its cascade.
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/kube/client.ts';
import { DataPlaneSim } from '../sim/helpers.ts';
import { OPERATOR_NS, SRIOV, allocatable, nodeState, policy, settled, sriovNetwork } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let sim: DataPlaneSim;
const NODES = ['node-1', 'node-2'];
const NAD = 'k8s.cni.cncf.io/v1';

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('sriov-operator');
});

test.afterAll(async () => {
  await sim?.stop();
});

test('SR-IOV nodes are labelled network-sriov.capable and their states list the PFs', async () => {
  for (const node of NODES) {
    const n = await sim.kube.get<KObject>('v1', 'Node', undefined, node);
    expect(n?.metadata?.labels?.['feature.node.kubernetes.io/network-sriov.capable']).toBe('true');
  }
  const [st] = await settled(sim, NODES);
  const byName = Object.fromEntries((st.interfaces ?? []).map((i) => [i.name, i]));
  expect(byName.ens1f0).toMatchObject({ vendor: '8086', deviceID: '158b', pciAddress: '0000:3b:00.0', totalvfs: 64, driver: 'i40e' });
  expect(byName.eno3).toMatchObject({ vendor: '8086', deviceID: '1572', pciAddress: '0000:19:00.2' });
  expect(byName.ens2f0).toMatchObject({ vendor: '15b3', deviceID: '1017', totalvfs: 16, driver: 'mlx5_core' });
  expect(byName.ens1f0.linkSpeed).toMatch(/Mb\/s/);
});

test('a policy creates numVfs VFs on the selected PF: InProgress, then Succeeded, and openshift.io/<resource> allocatable', async () => {
  const seen = new Set<string>();
  const watch = setInterval(() => void nodeState(sim, 'node-1').then((s) => s.syncStatus && seen.add(s.syncStatus)).catch(() => undefined), 30);
  await sim.kube.create(policy('intel', { resourceName: 'intelnics', numVfs: 4, nicSelector: { vendor: '8086', pfNames: ['ens1f0'] } }));
  await sim.kube.waitFor(async () => (await allocatable(sim, 'node-1', 'openshift.io/intelnics')) === 4 && (await allocatable(sim, 'node-2', 'openshift.io/intelnics')) === 4, { what: '4 VFs allocatable on both nodes', timeoutMs: 20_000 });
  const [st] = await settled(sim, NODES);
  clearInterval(watch);
  expect([...seen]).toContain('InProgress');
  const pf = st.interfaces?.find((i) => i.name === 'ens1f0');
  expect(pf?.numVfs).toBe(4);
  expect(pf?.Vfs?.map((v) => v.pciAddress)).toEqual(['0000:3b:00.2', '0000:3b:00.3', '0000:3b:00.4', '0000:3b:00.5']);
  const n = await sim.kube.get<KObject>('v1', 'Node', undefined, 'node-1');
  expect((n?.status as { capacity: Record<string, string> }).capacity['openshift.io/intelnics']).toBe('4');
});

test('overlapping policies: the higher priority (lower number) owns the PF', async () => {
  await sim.kube.create(policy('intel-low', { resourceName: 'lowprio', numVfs: 2, priority: 90, nicSelector: { pfNames: ['ens1f0'] } }));
  await sim.kube.create(policy('intel-high', { resourceName: 'highprio', numVfs: 6, priority: 5, nicSelector: { deviceID: '158b', vendor: '8086' } }));
  await sim.kube.waitFor(async () => (await allocatable(sim, 'node-1', 'openshift.io/highprio')) === 6, { what: 'highprio owns ens1f0', timeoutMs: 20_000 });
  await settled(sim, NODES);
  expect(await allocatable(sim, 'node-1', 'openshift.io/lowprio')).toBe(0);
  expect(await allocatable(sim, 'node-1', 'openshift.io/intelnics')).toBe(0);
  for (const name of ['intel-high', 'intel-low']) await sim.kube.delete(policy(name, {}));
  await sim.kube.waitFor(async () => (await allocatable(sim, 'node-1', 'openshift.io/intelnics')) === 4, { what: 'intelnics back after the higher priorities went', timeoutMs: 20_000 });
});

test('numVfs above the PF totalvfs: syncStatus Failed with lastSyncError', async () => {
  // 20 passes admission (Mellanox allows 127) but this ConnectX-5 exposes 16.
  await sim.kube.create(policy('mlx', { resourceName: 'mlxnics', numVfs: 20, nicSelector: { vendor: '15b3', deviceID: '1017' } }));
  const [st] = await settled(sim, NODES, 'Failed');
  expect(st.lastSyncError).toMatch(/ens2f0.*numVfs 20 exceeds.*totalvfs 16/);
  expect(await allocatable(sim, 'node-1', 'openshift.io/mlxnics')).toBe(0);
  await sim.kube.delete(policy('mlx', {}));
  await settled(sim, NODES, 'Succeeded');
});

test('a SriovNetwork creates the NAD in networkNamespace with the resource annotation and the sriov config', async () => {
  await sim.kube.create(sriovNetwork('net1', {
    resourceName: 'intelnics', networkNamespace: sim.namespace, vlan: 200, spoofChk: 'on', trust: 'off', linkState: 'enable', maxTxRate: 100,
    ipam: '{ "type": "host-local", "subnet": "10.56.217.0/24" }',
  }));
  const nad = await sim.kube.waitFor(() => sim.kube.get<KObject>(NAD, 'NetworkAttachmentDefinition', sim.namespace, 'net1'), { what: 'NAD net1', timeoutMs: 10_000 });
  expect(nad.metadata?.annotations?.['k8s.v1.cni.cncf.io/resourceName']).toBe('openshift.io/intelnics');
  const cfg = JSON.parse((nad.spec as { config: string }).config) as Record<string, unknown>;
  expect(cfg).toMatchObject({ type: 'sriov', name: 'net1', vlan: 200, spoofchk: 'on', trust: 'off', link_state: 'enable', max_tx_rate: 100, ipam: { type: 'host-local', subnet: '10.56.217.0/24' } });
});

test('a SriovNetwork whose namespace comes later gets its NAD then; deleting a SriovNetwork deletes its NAD', async () => {
  await sim.kube.create(sriovNetwork('net2', { resourceName: 'intelnics', networkNamespace: 'late-ns' }));
  await sim.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'late-ns' } });
  await sim.kube.waitFor(() => sim.kube.get<KObject>(NAD, 'NetworkAttachmentDefinition', 'late-ns', 'net2'), { what: 'NAD late-ns/net2', timeoutMs: 10_000 });
  await sim.kube.delete(sriovNetwork('net1', {}));
  await sim.kube.waitFor(async () => !(await sim.kube.get<KObject>(NAD, 'NetworkAttachmentDefinition', sim.namespace, 'net1')), { what: 'NAD net1 gone', timeoutMs: 10_000 });
  expect(await sim.kube.get<KObject>(SRIOV, 'SriovNetwork', OPERATOR_NS, 'net2')).toBeTruthy();
});
