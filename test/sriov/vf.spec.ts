// VFs in guests (§8.6.2, §8.6.3): the VF arrives with the interface MAC; spoofChk, linkState and
// VLAN act on it; too many VFs, or netdevice VFs, keep a VM from scheduling.
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/kube/client.ts';
import { expectBlocked, expectReachable, icmpPath, type PathProbe } from '../../src/fixtures/paths.ts';
import type { LabVm } from '../../src/fixtures/lab.ts';
import { DataPlaneSim } from '../sim/helpers.ts';
import { allocatable, policy, settled, sriovNetwork, sriovVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let sim: DataPlaneSim;
let a: LabVm; // node-1, net-on
let b: LabVm; // node-2, net-on
let c: LabVm; // node-2, net-vlan7 (another VLAN)
let c2: LabVm; // node-1, net-vlan7: c's peer on its own VLAN
let d: LabVm; // node-1, net-down (linkState disable)
const MAC = { a: '02:aa:00:00:00:0a', b: '02:aa:00:00:00:0b', c: '02:aa:00:00:00:0c', c2: '02:aa:00:00:00:1c', d: '02:aa:00:00:00:0d' };
const IP = { a: '10.56.217.10', b: '10.56.217.11', c: '10.56.217.12', d: '10.56.217.13', c2: '10.56.217.15' };
const NAD = 'k8s.cni.cncf.io/v1';

async function events(reason: string): Promise<string[]> {
  const all = await sim.kube.list<KObject>('v1', 'Event', sim.namespace);
  return all.filter((e) => e.reason === reason).map((e) => String(e.message));
}

const to = (v: LabVm): { name: string; host: string } => ({ name: v.name, host: IP[v.name as keyof typeof IP] });
const ping = (from: LabVm, dest: LabVm): PathProbe => icmpPath(from, to(dest), { tries: 3 });
const boot = (name: keyof typeof IP, node: string, nad: string) => sim.scope.create(sriovVm(name, nad, { node, mac: MAC[name], cidr: `${IP[name]}/24` }));

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('sriov-vf');
  await sim.kube.create(policy('vfio', { resourceName: 'vfionics', numVfs: 3, nicSelector: { pfNames: ['ens1f0'] } }));
  await sim.kube.create(policy('netdev', { resourceName: 'netdevnics', numVfs: 2, deviceType: 'netdevice', nicSelector: { pfNames: ['eno3'] } }));
  for (const [name, extra] of [['net-on', {}], ['net-vlan7', { vlan: 7 }], ['net-down', { linkState: 'disable' }], ['net-netdev', { resourceName: 'netdevnics' }]] as const) {
    await sim.kube.create(sriovNetwork(name, { resourceName: 'vfionics', networkNamespace: sim.namespace, spoofChk: 'on', ...extra }));
  }
  await sim.kube.waitFor(async () => (await allocatable(sim, 'node-2', 'openshift.io/vfionics')) === 3 && (await allocatable(sim, 'node-1', 'openshift.io/vfionics')) === 3, { what: 'VFs', timeoutMs: 20_000 });
  await settled(sim, ['node-1', 'node-2']);
  await sim.kube.waitFor(async () => (await sim.kube.list(NAD, 'NetworkAttachmentDefinition', sim.namespace)).length === 4, { what: 'NADs', timeoutMs: 10_000 });
  [a, b, c, c2, d] = await Promise.all([
    boot('a', 'node-1', 'net-on'), boot('b', 'node-2', 'net-on'), boot('c', 'node-2', 'net-vlan7'), boot('c2', 'node-1', 'net-vlan7'), boot('d', 'node-1', 'net-down'),
  ]);
});

test.afterAll(async () => {
  await sim?.stop();
});

test('the virt-launcher pod requests one openshift.io/<resource> per SR-IOV interface', async () => {
  const pods = await sim.kube.list<KObject>('v1', 'Pod', sim.namespace, 'vm.kubevirt.io/name=a');
  const req = (pods[0]?.spec as { containers: { resources: { requests: Record<string, string>; limits: Record<string, string> } }[] }).containers[0].resources;
  expect(req.requests['openshift.io/vfionics']).toBe('1');
  expect(req.limits['openshift.io/vfionics']).toBe('1');
});

test('the VF is the guest NIC with the interface MAC, as the VMI status reports', async () => {
  const os = a.os;
  expect((await os.link('eth1')).mac).toBe(MAC.a);
  expect(await os.addresses('eth1', 4)).toContain(`${IP.a}/24`);
  const vmi = await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', sim.namespace, 'a');
  expect((vmi?.status as { interfaces: { name: string; mac: string }[] }).interfaces.find((i) => i.name === 'sriov0')?.mac).toBe(MAC.a);
});

test('VFs on the same network reach each other across nodes', async () => {
  await expectReachable(ping(a, b));
});

test('a VF on another VLAN is not reachable; one on its own VLAN is', async () => {
  await expectBlocked(ping(c, b), { control: ping(c, c2) });
  await expectBlocked(ping(a, c), { control: ping(a, b) });
});

// The sim cannot drop a macvlan's carrier alone: the VF is handed over down, and the switch drops
// its frames, so it passes nothing even after cloud-init (or the user) sets it up.
test('linkState disable: the VF passes nothing, even set up in the guest', async () => {
  await d.os.runOk(['ip', 'link', 'set', 'eth1', 'up'], { root: true });
  await expectBlocked(ping(d, a), { control: ping(b, a) });
});

test('spoofChk on: frames from a MAC the guest changed are dropped; the assigned MAC works again', async () => {
  const spoofed: PathProbe = { path: `a (from 02:aa:00:00:00:99) → b ${IP.b} icmp`, run: () => a.os.withMac('eth1', '02:aa:00:00:00:99', () => ping(a, b).run()) };
  await expectBlocked(spoofed, { control: ping(a, b) });
  await expectReachable(ping(a, b));
});

test('VF exhaustion: one VF more than a node has leaves the VM ErrorUnschedulable with Insufficient openshift.io/vfionics', async () => {
  await sim.scope.create(sriovVm('hog', 'net-on', { node: 'node-1', count: 3 }), { wait: 'none' });
  await sim.kube.waitFor(async () => {
    const vm = await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachine', sim.namespace, 'hog');
    return (vm?.status as { printableStatus?: string } | undefined)?.printableStatus === 'ErrorUnschedulable';
  }, { what: 'hog ErrorUnschedulable', timeoutMs: 15_000 });
  expect((await events('FailedScheduling')).join('\n')).toMatch(/Insufficient openshift\.io\/vfionics/);
  await sim.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'hog', namespace: sim.namespace } });
});

test('a VM on a netdevice resource is refused at scheduling: VMs need vfio-pci', async () => {
  await sim.scope.create(sriovVm('netdev', 'net-netdev'), { wait: 'none' });
  await sim.kube.waitFor(async () => (await events('FailedScheduling')).some((m) => m.includes('vfio-pci')), { what: 'FailedScheduling naming vfio-pci', timeoutMs: 15_000 });
  const vmi = await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', sim.namespace, 'netdev');
  expect((vmi?.status as { phase?: string }).phase).toBe('Scheduling');
});

test('deleting a VM returns its VF: a new VM gets one on that node', async () => {
  await sim.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'd', namespace: sim.namespace } });
  await sim.kube.waitFor(async () => !(await sim.kube.get('kubevirt.io/v1', 'VirtualMachineInstance', sim.namespace, 'd')), { what: 'd gone', timeoutMs: 20_000 });
  const e = await sim.scope.create(sriovVm('e', 'net-on', { node: 'node-1', mac: '02:aa:00:00:00:0e', cidr: '10.56.217.14/24' }));
  await expectReachable(icmpPath(e, to(b)));
});
