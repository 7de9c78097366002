// A VM created before what its secondary network needs waits, as on a real cluster, and runs once
// it is there: a missing NAD fails virt-controller's render of the launcher pod (VMI Pending,
// Synchronized=False reason FailedCreate, retried with backoff); a device-plugin resource no node
// has leaves the pod Unschedulable (VMI Scheduling, PodScheduled=False, VM ErrorUnschedulable);
// an SR-IOV VM made before its SriovNetwork and policy meets both in turn.
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/kube/client.ts';
import { addSecondaryNics, bridgeNad, type Condition, conditionsOf, linuxBridgeNncp, waitForStatusIp, waitNncp } from '../../src/fixtures/secondary.ts';
import { DataPlaneSim } from '../sim/helpers.ts';
import { policy, sriovNetwork, sriovVm } from '../sriov/helpers.ts';

test.describe.configure({ mode: 'serial', timeout: 150_000 });

let sim: DataPlaneSim;
const NS = 'selftest';

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('nad-wait');
});

test.afterAll(async () => {
  await sim?.stop();
});

type VmiStatus = { phase?: string; conditions?: Condition[]; interfaces?: { name?: string; interfaceName?: string }[] };

function createVm(name: string, nics: Parameters<typeof addSecondaryNics>[1]): Promise<KObject> {
  const vm: KObject = {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: NS },
    spec: { runStrategy: 'Always', template: { spec: {
      domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }],
      volumes: [{ name: 'cloudinitdisk', cloudInitNoCloud: { userData: '#cloud-config\n' } }],
    } } },
  };
  addSecondaryNics(vm, nics);
  return sim.kube.create(vm);
}

const vmiStatus = async (name: string): Promise<VmiStatus | undefined> =>
  (await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, name))?.status as VmiStatus | undefined;

function waitVmi<T>(name: string, what: string, check: (s: VmiStatus) => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  return sim.kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', NS, name, (v) => (v?.status ? check(v.status as VmiStatus) : undefined), { what: `VMI ${name}: ${what}`, timeoutMs });
}

/** Holds for `ms`: the VMI stays in `phase` (a bounded look, not a wait for something to happen). */
async function staysIn(name: string, phase: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    expect((await vmiStatus(name))?.phase, `VMI ${name} stays ${phase}`).toBe(phase);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const launcherPods = (vm: string) => sim.kube.list<KObject>('v1', 'Pod', NS, `kubevirt.io=virt-launcher,vm.kubevirt.io/name=${vm}`);

test('a VM whose NAD does not exist yet stays Pending with Synchronized=False/FailedCreate, and runs with eth1 once the NAD is created', async () => {
  await sim.kube.create(linuxBridgeNncp('brl-all', 'brl', 'eth1'));
  await waitNncp(sim.kube, 'brl-all');
  await createVm('late', [{ name: 'br', nad: 'late-net', addresses: ['10.11.0.1/24'] }]);
  const sync = await waitVmi('late', 'Synchronized condition', (s) => s.conditions?.find((c) => c.type === 'Synchronized'));
  expect(sync).toMatchObject({ status: 'False', reason: 'FailedCreate', message: 'failed to render launch manifest: failed to locate network attachment definition selftest/late-net' });
  const st = await vmiStatus('late');
  expect(st?.phase).toBe('Pending');
  expect(st?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodNotExists' });
  await staysIn('late', 'Pending');
  expect(await launcherPods('late'), 'no launcher pod is rendered without the NAD').toHaveLength(0);
  const vm = await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachine', NS, 'late');
  expect((vm?.status as { printableStatus?: string }).printableStatus).toBe('Starting');
  expect(conditionsOf(vm).find((c) => c.type === 'Synchronized'), 'the VM mirrors the VMI condition').toMatchObject({ status: 'False', reason: 'FailedCreate' });

  await sim.kube.create(bridgeNad(NS, 'late-net', 'brl'));
  await waitVmi('late', 'Running', (s) => s.phase === 'Running', 60_000);
  const eth1 = await waitForStatusIp(sim.kube, NS, 'late', 'br', '10.11.0.1');
  expect(eth1.interfaceName).toBe('eth1');
  expect((await vmiStatus('late'))?.conditions?.some((c) => c.type === 'Synchronized'), 'the condition goes once the pod is created').toBe(false);
  const [pod] = await launcherPods('late');
  const limits = ((pod.spec as { containers: { resources: { limits: Record<string, string> } }[] }).containers[0].resources.limits);
  expect(limits['bridge.network.kubevirt.io/brl'], 'the render that succeeded read the NAD resourceName').toBe('1');
});

test('a VM whose bridge no node has yet is Unschedulable (Scheduling, ErrorUnschedulable), and is placed once nmstate makes the bridge', async () => {
  await sim.kube.create(bridgeNad(NS, 'later-net', 'brm'));
  await createVm('later', [{ name: 'br', nad: 'later-net', addresses: ['10.12.0.1/24'] }]);
  const cond = await waitVmi('later', 'PodScheduled=False', (s) => s.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
  expect(cond.reason).toBe('Unschedulable');
  expect(cond.message).toMatch(/^0\/\d+ nodes are available: \d+ Insufficient bridge\.network\.kubevirt\.io\/brm\. preemption: 0\/\d+ nodes are available: \d+ No preemption victims found for incoming pod\.$/);
  expect((await vmiStatus('later'))?.phase).toBe('Scheduling');
  await expect.poll(async () => ((await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachine', NS, 'later'))?.status as { printableStatus?: string }).printableStatus).toBe('ErrorUnschedulable');
  const [pod] = await launcherPods('later');
  const events = await sim.kube.list<KObject>('v1', 'Event', NS);
  expect(events.some((e) => (e.involvedObject as { name?: string }).name === pod.metadata?.name && e.reason === 'FailedScheduling'), 'FailedScheduling on the launcher pod').toBe(true);

  await sim.kube.create(linuxBridgeNncp('brm-all', 'brm', 'eth2'));
  await waitNncp(sim.kube, 'brm-all');
  await waitVmi('later', 'Running', (s) => s.phase === 'Running', 60_000);
  expect((await waitForStatusIp(sim.kube, NS, 'later', 'br', '10.12.0.1')).interfaceName).toBe('eth1');
});

test('an SR-IOV VM created first waits for the operator\'s NAD (FailedCreate), then for VFs (Unschedulable), then runs with the VF', async () => {
  const mac = '02:aa:00:00:01:01';
  await sim.scope.create(sriovVm('vf', 'late-vf', { mac, cidr: '10.56.218.10/24' }), { wait: 'none' });
  const sync = await waitVmi('vf', 'Synchronized condition', (s) => s.conditions?.find((c) => c.type === 'Synchronized'));
  expect(sync.message).toBe('failed to render launch manifest: failed to locate network attachment definition selftest/late-vf');

  await sim.kube.create(sriovNetwork('late-vf', { resourceName: 'latevf', networkNamespace: NS }));
  const cond = await waitVmi('vf', 'PodScheduled=False', (s) => s.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
  expect(cond.message).toMatch(/Insufficient openshift\.io\/latevf/);
  expect((await vmiStatus('vf'))?.conditions?.some((c) => c.type === 'Synchronized')).toBe(false);

  await sim.kube.create(policy('latevf', { resourceName: 'latevf', numVfs: 2, nicSelector: { pfNames: ['ens1f0'] } }));
  await waitVmi('vf', 'Running', (s) => s.phase === 'Running', 90_000);
  const iface = (await vmiStatus('vf'))?.interfaces?.find((i) => i.name === 'sriov0') as { mac?: string; interfaceName?: string } | undefined;
  expect(iface?.mac).toBe(mac);
});

test('a NAD deleted after the pod was rendered: Multus finds no network (NoNetworkFound, FailedCreatePodSandBox), kubelet retries, the VM runs once it is back', async () => {
  await sim.kube.create(bridgeNad(NS, 'gone-net', 'brq'));
  await createVm('gone', [{ name: 'br', nad: 'gone-net', addresses: ['10.13.0.1/24'] }]);
  // Rendered (the NAD was there) but held by the scheduler: no node has brq yet.
  await waitVmi('gone', 'PodScheduled=False', (s) => s.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False'));
  await sim.kube.delete(bridgeNad(NS, 'gone-net', 'brq'));
  await sim.kube.create(linuxBridgeNncp('brq-all', 'brq', undefined));
  await waitNncp(sim.kube, 'brq-all');
  const [pod] = await launcherPods('gone');
  const podEvents = async () => (await sim.kube.list<KObject>('v1', 'Event', NS)).filter((e) => (e.involvedObject as { uid?: string }).uid === pod.metadata?.uid);
  const sandbox = await sim.kube.waitFor(async () => (await podEvents()).find((e) => e.reason === 'FailedCreatePodSandBox'), { what: 'FailedCreatePodSandBox on the launcher pod', timeoutMs: 30_000 });
  expect(String(sandbox.message)).toContain('GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a network-attachment-definition (gone-net) in namespace (selftest): network-attachment-definitions.k8s.cni.cncf.io "gone-net" not found');
  expect((sandbox.source as { component?: string }).component).toBe('kubelet');
  const noNet = (await podEvents()).find((e) => e.reason === 'NoNetworkFound');
  expect(noNet?.type).toBe('Warning');
  expect((await vmiStatus('gone'))?.phase, 'the sim moves a VMI to Scheduled at bind (upstream: Scheduling until the pod is Ready)').toBe('Scheduled');

  await sim.kube.create(bridgeNad(NS, 'gone-net', 'brq'));
  await waitVmi('gone', 'Running', (s) => s.phase === 'Running', 60_000);
  expect((await waitForStatusIp(sim.kube, NS, 'gone', 'br', '10.13.0.1')).interfaceName).toBe('eth1');
});
