// §8.11, the dedicated migration network, with the real kubectl: the seed's NAD (macvlan on the
// nodes' spare NIC eth4, whereabouts 10.200.5.0/24), the HyperConverged edit, the virt-handler pods
// restarting with migration0 and their network-status annotation, and the seed's verification
// (`.status.migrationState.targetNodeAddress` inside the NAD's range). Positive control first: without
// the network, targetNodeAddress IS the target virt-handler's pod IP (KubeVirt's functional test
// asserts the two differ once the network is set, tests/migration/migration.go).
// A NAD that does not exist is admitted; the rollout stalls (Multus NoNetworkFound, the pod
// Pending), KubeVirt and HCO say Progressing/Degraded, a migration waits in Pending; creating the NAD
// completes the rollout and the same migration proceeds.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { DataPlaneSim, hasKubectl, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });
test.skip(!hasKubectl, 'kubectl is not installed at /usr/bin/kubectl');

const CNV = 'openshift-cnv';
const NS = 'selftest';
const NAD_RANGE = /^10\.200\.5\.(\d+)$/;
let sim: DataPlaneSim;
let vm: TestVm;
let dir: string;
let seq = 0;

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName: string };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { state?: { waiting?: { reason?: string } } }[] };
}
interface Cond { type: string; status: string; reason?: string; message?: string }

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('migration-network', { nodes: 2 });
  dir = mkdtempSync(join(sim.sim.stateDir, 'manifests-'));
  vm = await sim.vm({ name: 'mover' });
});

test.afterAll(async () => {
  await sim?.stop();
});

async function kubectl(...args: string[]): Promise<string> {
  const r = await sim.kubectl(args);
  expect(r.code, `kubectl ${args.join(' ')}: ${r.out}`).toBe(0);
  return r.out;
}

async function apply(name: string, yaml: string, verb = 'apply'): Promise<string> {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, yaml);
  return kubectl(verb, '-f', f);
}

async function handlers(): Promise<Pod[]> {
  return (JSON.parse(await kubectl('get', 'pods', '-n', CNV, '-l', 'kubevirt.io=virt-handler', '-o', 'json')) as { items: Pod[] }).items;
}
const ready = (p: Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const migration0 = (p: Pod) => (JSON.parse(p.metadata.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '[]') as { interface: string; ips?: string[] }[]).find((n) => n.interface === 'migration0');

async function conditions(kind: string, name: string): Promise<Cond[]> {
  return JSON.parse(await kubectl('get', kind, name, '-n', CNV, '-o', 'jsonpath={.status.conditions}') || '[]') as Cond[];
}
const cond = (cs: Cond[], type: string) => cs.find((c) => c.type === type);

/** Every node has a Ready virt-handler; `want` says what each must carry. */
async function rolledOut(want: (p: Pod) => boolean): Promise<Pod[]> {
  let last: Pod[] = [];
  await expect.poll(async () => {
    last = await handlers();
    return last.length === 2 && last.every((p) => ready(p) && want(p));
  }, { timeout: 60_000, message: 'virt-handler rollout' }).toBe(true);
  return last;
}

/** `kubectl create` a VMIM for the VM. */
async function createMigration(): Promise<string> {
  const name = `mig-${++seq}`;
  await apply(name, `apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: ${name}\n  namespace: ${NS}\nspec:\n  vmiName: ${vm.name}\n`, 'create');
  return name;
}
const phase = async (mig: string) => kubectl('get', 'vmim', mig, '-n', NS, '-o', 'jsonpath={.status.phase}');

async function succeeded(mig: string): Promise<void> {
  await expect.poll(() => phase(mig), { timeout: 90_000, message: `${mig} phase` }).toMatch(/^(Succeeded|Failed)$/);
  expect(await phase(mig), await kubectl('get', 'vmi', vm.name, '-n', NS, '-o', 'jsonpath={.status.migrationState}')).toBe('Succeeded');
}

async function targetNodeAddress(): Promise<{ address: string; node: string }> {
  const address = await kubectl('get', 'vmi', vm.name, '-n', NS, '-o', 'jsonpath={.status.migrationState.targetNodeAddress}');
  const node = await kubectl('get', 'vmi', vm.name, '-n', NS, '-o', 'jsonpath={.status.migrationState.targetNode}');
  return { address, node };
}

function nad(name: string): string {
  // The seed's §8.11.1 manifest, with master = the nodes' spare NIC kept for it.
  return `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: ${name}
  namespace: ${CNV}
spec:
  config: '{
    "cniVersion": "0.3.1",
    "name": "migration-bridge",
    "type": "macvlan",
    "master": "eth4",
    "mode": "bridge",
    "ipam": {
      "type": "whereabouts",
      "range": "10.200.5.0/24"
    }
  }'
`;
}

const setNetwork = (network: string) => kubectl('patch', 'hyperconverged', 'kubevirt-hyperconverged', '-n', CNV, '--type', 'merge', '-p', JSON.stringify({ spec: { liveMigrationConfig: { network } } }));

test('virt-handler is a DaemonSet with one Ready pod per node; without a migration network targetNodeAddress is the target handler\'s pod IP', async () => {
  const pods = await rolledOut((p) => !migration0(p));
  expect(new Set(pods.map((p) => p.spec.nodeName))).toEqual(new Set(['node-1', 'node-2']));
  expect(await kubectl('get', 'daemonset', 'virt-handler', '-n', CNV, '-o', 'jsonpath={.status.numberReady}')).toBe('2');
  const kv = await conditions('kubevirt', 'kubevirt-kubevirt-hyperconverged');
  expect(cond(kv, 'Available')?.status).toBe('True');
  expect(cond(kv, 'Progressing')?.status).toBe('False');
  expect(cond(kv, 'Degraded')?.status).toBe('False');

  await succeeded(await createMigration());
  const t = await targetNodeAddress();
  const target = pods.find((p) => p.spec.nodeName === t.node) as Pod;
  expect(t.address, 'the pod network: the target virt-handler pod IP').toBe(target.status?.podIP);
});

test('§8.11: the NAD and the HCO edit restart virt-handler with migration0; targetNodeAddress is in the NAD range, not the pod IP', async () => {
  const before = new Set((await handlers()).map((p) => p.metadata.name));
  await apply('migration-nad', nad('my-secondary-network'));
  await setNetwork('my-secondary-network');
  expect(await kubectl('get', 'kubevirt', 'kubevirt-kubevirt-hyperconverged', '-n', CNV, '-o', 'jsonpath={.spec.configuration.migrations.network}')).toBe('my-secondary-network');
  const pods = await rolledOut((p) => !!migration0(p) && !before.has(p.metadata.name));
  for (const p of pods) {
    expect(p.metadata.annotations?.['k8s.v1.cni.cncf.io/networks']).toBe('my-secondary-network@migration0');
    expect(migration0(p)?.ips?.[0], `${p.metadata.name} migration0`).toMatch(NAD_RANGE);
  }
  await expect.poll(async () => cond(await conditions('kubevirt', 'kubevirt-kubevirt-hyperconverged'), 'Progressing')?.status).toBe('False');

  await succeeded(await createMigration());
  const t = await targetNodeAddress();
  const target = pods.find((p) => p.spec.nodeName === t.node) as Pod;
  expect(t.address, 'the seed\'s verification: an address from the migration network').toMatch(NAD_RANGE);
  expect(t.address).toBe(migration0(target)?.ips?.[0]);
  expect(t.address, 'not the pod network').not.toBe(target.status?.podIP);
});

test('migration-network-down turns a migration over the dedicated network red, with the reason naming that network', async () => {
  const admin = new SimAdmin(sim.sim.stateDir);
  // Positive control on the same path: the previous test's migration went over migration0.
  expect((await targetNodeAddress()).address).toMatch(NAD_RANGE);
  await kubectl('patch', 'hyperconverged', 'kubevirt-hyperconverged', '-n', CNV, '--type', 'merge', '-p', JSON.stringify({ spec: { liveMigrationConfig: { progressTimeout: 2 } } }));
  await expect.poll(() => kubectl('get', 'kubevirt', 'kubevirt-kubevirt-hyperconverged', '-n', CNV, '-o', 'jsonpath={.spec.configuration.migrations.progressTimeout}')).toBe('2');
  await admin.inject('migration-network-down');
  try {
    const mig = await createMigration();
    await expect.poll(() => phase(mig), { timeout: 60_000 }).toMatch(/^(Succeeded|Failed)$/);
    expect(await phase(mig)).toBe('Failed');
    const reason = await kubectl('get', 'vmi', vm.name, '-n', NS, '-o', 'jsonpath={.status.migrationState.failureReason}');
    expect(reason).toMatch(/^Live migration stuck for [23] seconds and has been aborted/);
    expect(reason).toContain('over the migration network is dropped between the nodes');
  } finally {
    await admin.clear('migration-network-down');
    await kubectl('patch', 'hyperconverged', 'kubevirt-hyperconverged', '-n', CNV, '--type', 'merge', '-p', JSON.stringify({ spec: { liveMigrationConfig: { progressTimeout: 150 } } }));
  }
});

test('a NAD that does not exist is admitted; the rollout stalls and a migration waits in Pending until the NAD is created', async () => {
  const before = await handlers();
  await setNetwork('no-such-nad');
  // One node loses its handler to a sandbox Multus cannot make; the other keeps its old pod.
  let pods: Pod[] = [];
  await expect.poll(async () => {
    pods = await handlers();
    return pods.filter((p) => p.status?.phase === 'Pending').length === 1 && pods.filter(ready).length === 1;
  }, { timeout: 60_000, message: 'one handler stuck, one old one Ready' }).toBe(true);
  const stuck = pods.find((p) => p.status?.phase === 'Pending') as Pod;
  expect(stuck.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ContainerCreating');
  expect(before.map((p) => p.metadata.name)).toContain(pods.find(ready)?.metadata.name);
  const events = await kubectl('get', 'events', '-n', CNV, '--field-selector', `involvedObject.name=${stuck.metadata.name}`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}');
  expect(events).toContain('NoNetworkFound: cannot find a network-attachment-definition (no-such-nad) in namespace (openshift-cnv)');
  expect(events).toContain('FailedCreatePodSandBox');

  await expect.poll(async () => cond(await conditions('kubevirt', 'kubevirt-kubevirt-hyperconverged'), 'Degraded')?.status).toBe('True');
  const kv = await conditions('kubevirt', 'kubevirt-kubevirt-hyperconverged');
  expect(cond(kv, 'Available')).toMatchObject({ status: 'True', reason: 'UpdateInProgress' });
  expect(cond(kv, 'Progressing')).toMatchObject({ status: 'True', reason: 'UpdateInProgress' });
  expect(cond(kv, 'Degraded')).toMatchObject({ status: 'True', reason: 'UpdateInProgress' });
  await expect.poll(async () => cond(await conditions('hyperconverged', 'kubevirt-hyperconverged'), 'Degraded')?.reason).toBe('KubeVirtDegraded');
  const hco = await conditions('hyperconverged', 'kubevirt-hyperconverged');
  expect(cond(hco, 'Progressing')).toMatchObject({ status: 'True', reason: 'KubeVirtProgressing' });
  expect(cond(hco, 'Degraded')?.message).toMatch(/^KubeVirt is degraded: /);

  // The earlier migrations left Pending within a second; this one stays there while the rollout is stalled.
  const mig = await createMigration();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) expect(await phase(mig), 'waits while virt-handler rolls out').toMatch(/^(Pending|)$/);

  await apply('missing-nad', nad('no-such-nad'));
  await rolledOut((p) => p.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'] === 'no-such-nad@migration0' && NAD_RANGE.test(migration0(p)?.ips?.[0] ?? ''));
  await succeeded(mig);
  expect((await targetNodeAddress()).address).toMatch(NAD_RANGE);
});

test('a migration NAD without IPAM crash-loops virt-handler ("migration0 present but doesn\'t have an IP"); naming a good NAD again recovers', async () => {
  await apply('no-ipam-nad', nad('no-ipam').replace(/,\n    "ipam": \{[^}]*\}/, ''));
  expect(await kubectl('get', 'net-attach-def', 'no-ipam', '-n', CNV, '-o', 'jsonpath={.spec.config}')).not.toContain('whereabouts');
  await setNetwork('no-ipam');
  interface Crashing { containerStatuses?: { state?: { waiting?: { reason?: string } }; lastState?: { terminated?: { message?: string } } }[] }
  await expect.poll(async () => (await handlers()).some((p) => (p.status as Crashing | undefined)?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff'), { timeout: 60_000 }).toBe(true);
  const crashing = (await handlers()).find((p) => (p.status as Crashing | undefined)?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff') as Pod;
  expect((crashing.status as Crashing).containerStatuses?.[0]?.lastState?.terminated?.message).toBe("migration0 present but doesn't have an IP");
  expect(ready(crashing)).toBe(false);
  expect(cond(await conditions('kubevirt', 'kubevirt-kubevirt-hyperconverged'), 'Degraded')?.status).toBe('True');
  await setNetwork('my-secondary-network');
  await rolledOut((p) => p.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'] === 'my-secondary-network@migration0' && NAD_RANGE.test(migration0(p)?.ips?.[0] ?? ''));
  await expect.poll(async () => cond(await conditions('kubevirt', 'kubevirt-kubevirt-hyperconverged'), 'Degraded')?.status).toBe('False');
});
