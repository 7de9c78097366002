// The sim's secondary networks: nmstate statuses (incl. Degraded), NAD attach, bridge-marker
// scheduling, namespace isolation and failed CNI ADDs (the pod waits, kubelet retries), VLAN isolation, macspoofchk, OVN layer2 across namespaces,
// localnet without a mapping, DHCP with/without a server, and the status.interfaces shape.
import { expect, test } from '@playwright/test';
import { Guest } from '../../src/guest/guest.ts';
import { GuestOs } from '../../src/guest/os.ts';
import type { KObject } from '../../src/kube/client.ts';
import { masqueradeVm, type VmOptions } from '../../src/kube/vm.ts';
import {
  addSecondaryNics, bridgeMappingNncp, bridgeNad, conditionsOf, DHCP_RANGE_ANNOTATION, linuxBridgeNncp, ovnNad, removeNncp, vmiInterfaces, waitForStatusIp, waitNncp,
} from '../../src/fixtures/secondary.ts';
import { DataPlaneSim, type TestVm } from '../sim/helpers.ts';

test.describe.configure({ mode: 'serial' });

let sim: DataPlaneSim;
const NS = 'selftest';

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('secondary');
  await sim.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
});

test.afterAll(async () => {
  await sim?.stop();
});

const ping = (vm: TestVm, ip: string): Promise<boolean> => new GuestOs(vm.guest).reaches(ip, { tries: 2 });

type PodEvent = { reason?: string; message?: string; involvedObject?: { name?: string } };

/** The launcher pod's FailedCreatePodSandBox event (kubelet's report of a failed CNI ADD). */
async function sandboxFailure(vm: string): Promise<PodEvent> {
  return sim.kube.waitFor(async () => {
    const [pod] = await sim.kube.list<KObject>('v1', 'Pod', NS, `vm.kubevirt.io/name=${vm}`);
    if (!pod) return undefined;
    const events = (await sim.kube.list<KObject>('v1', 'Event', NS)) as unknown as PodEvent[];
    return events.find((e) => e.involvedObject?.name === pod.metadata?.name && e.reason === 'FailedCreatePodSandBox');
  }, { what: `FailedCreatePodSandBox on ${vm}'s launcher pod`, timeoutMs: 30_000 });
}

/** The pod is Pending in ContainerCreating and the VMI neither runs nor fails, over a bounded look. */
async function expectWaiting(vm: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const [pod] = await sim.kube.list<KObject>('v1', 'Pod', NS, `vm.kubevirt.io/name=${vm}`);
    const ps = pod?.status as { phase?: string; containerStatuses?: { state?: { waiting?: { reason?: string } } }[] } | undefined;
    expect(ps?.phase).toBe('Pending');
    expect(ps?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ContainerCreating');
    const phase = ((await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, vm))?.status as { phase?: string } | undefined)?.phase;
    expect(['Running', 'Failed']).not.toContain(phase);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function createVm(name: string, nics: Parameters<typeof addSecondaryNics>[1], ns = NS, node?: string): Promise<KObject> {
  const vm: KObject = {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: ns },
    spec: { runStrategy: 'Always', template: { spec: {
      domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }],
      ...(node ? { nodeSelector: { 'kubernetes.io/hostname': node } } : {}),
      volumes: [{ name: 'cloudinitdisk', cloudInitNoCloud: { userData: '#cloud-config\n' } }],
    } } },
  };
  addSecondaryNics(vm, nics);
  return sim.kube.create(vm);
}

test('an NNCP naming a port that does not exist is Degraded, with a message naming the port', async () => {
  await sim.kube.create(linuxBridgeNncp('bad-port', 'br9', 'eth9'));
  const c = await waitNncp(sim.kube, 'bad-port');
  const degraded = c.find((x) => x.type === 'Degraded');
  expect(degraded?.status).toBe('True');
  expect(degraded?.reason).toBe('FailedToConfigure');
  expect(degraded?.message).toContain('eth9');
  expect(c.find((x) => x.type === 'Available')?.status).toBe('False');
  const e = await sim.kube.get<KObject>('nmstate.io/v1beta1', 'NodeNetworkConfigurationEnactment', undefined, 'node-1.bad-port');
  expect(conditionsOf(e).find((x) => x.type === 'Failing')?.status).toBe('True');
  const nns = await sim.kube.get<KObject>('nmstate.io/v1beta1', 'NodeNetworkState', undefined, 'node-1');
  expect(JSON.stringify(nns?.status)).not.toContain('"br9"'); // nothing was applied
  await sim.kube.delete({ apiVersion: 'nmstate.io/v1', kind: 'NodeNetworkConfigurationPolicy', metadata: { name: 'bad-port' } });
});

test('an NNCP selecting one node makes the bridge there only; NNS and node allocatable report it', async () => {
  const p = linuxBridgeNncp('br1-node2', 'br1', 'eth1');
  (p.spec as Record<string, unknown>).nodeSelector = { 'kubernetes.io/hostname': 'node-2' };
  await sim.kube.create(p);
  const c = await waitNncp(sim.kube, 'br1-node2');
  expect(c.find((x) => x.type === 'Available')).toMatchObject({ status: 'True', reason: 'SuccessfullyConfigured', message: '1/1 nodes successfully configured' });
  const nns = await sim.kube.get<KObject>('nmstate.io/v1beta1', 'NodeNetworkState', undefined, 'node-2');
  const ifaces = ((nns?.status as { currentState: { interfaces: { name: string; type: string }[] } }).currentState.interfaces);
  expect(ifaces.map((i) => i.name)).toEqual(expect.arrayContaining(['eth0', 'eth1', 'eth2', 'br-ex', 'br1']));
  expect(ifaces.find((i) => i.name === 'br1')?.type).toBe('linux-bridge');
  const alloc = async (n: string) => ((await sim.kube.get<KObject>('v1', 'Node', undefined, n))?.status as { allocatable: Record<string, string> }).allocatable;
  await expect.poll(async () => (await alloc('node-2'))['bridge.network.kubevirt.io/br1']).toBeTruthy();
  expect((await alloc('node-1'))['bridge.network.kubevirt.io/br1']).toBeUndefined();
});

test('a VM on a NAD with the bridge resourceName annotation is scheduled where the bridge exists', async () => {
  await sim.kube.create(bridgeNad(NS, 'br1-net', 'br1'));
  await createVm('sched', [{ name: 'br', nad: 'br1-net', addresses: ['10.9.0.1/24'] }]);
  const vmi = await sim.kube.waitFor(async () => {
    const v = await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, 'sched');
    return (v?.status as { phase?: string })?.phase === 'Running' ? v : undefined;
  }, { what: 'sched Running', timeoutMs: 30_000 });
  expect((vmi.status as { nodeName: string }).nodeName).toBe('node-2');
});

test('a NAD in another namespace is refused by Multus (namespace isolation): the pod waits in ContainerCreating with FailedCreatePodSandBox', async () => {
  await sim.kube.create(ovnNad('other', 'l2', { network: 'iso', topology: 'layer2' }));
  await createVm('iso', [{ name: 'l2', nad: 'other/l2' }]);
  const ev = await sandboxFailure('iso');
  expect(ev.message).toMatch(/^Failed to create pod sandbox: .*Multus: \[selftest\/virt-launcher-iso-[^\]]+\]: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace selftest but refers to target namespace other/);
  await expectWaiting('iso');
});

test('a localnet NAD without a bridge mapping: the CNI ADD fails and kubelet retries until the mapping exists', async () => {
  await sim.kube.create(ovnNad(NS, 'unmapped', { network: 'unmapped-net', topology: 'localnet' }));
  await createVm('unmapped', [{ name: 'ln', nad: 'unmapped', addresses: ['192.168.77.1/24'] }]);
  const ev = await sandboxFailure('unmapped');
  expect(ev.message).toMatch(/\[selftest\/virt-launcher-unmapped-[^\]]+:unmapped-net\]: error adding container to network "unmapped-net": .*bridge-mapping for localnet network "unmapped-net"/);
  await expectWaiting('unmapped');
  await sim.kube.create(bridgeMappingNncp('unmapped-map', 'unmapped-net', 'br-ex'));
  await waitNncp(sim.kube, 'unmapped-map');
  // kubelet's pod worker retries a failed sync after 10-15 s.
  await waitForStatusIp(sim.kube, NS, 'unmapped', 'ln', '192.168.77.1', 60_000);
  await removeNncp(sim.kube, 'unmapped-map');
});

test('Linux bridge: VLAN ids isolate, same VLAN talks across nodes; macspoofchk drops a changed MAC', async () => {
  await sim.kube.create(linuxBridgeNncp('br2-all', 'br2', 'eth2'));
  await waitNncp(sim.kube, 'br2-all');
  await Promise.all([
    sim.kube.create(bridgeNad(NS, 'v10', 'br2', { vlan: 10, macspoofchk: true })),
    sim.kube.create(bridgeNad(NS, 'v20', 'br2', { vlan: 20 })),
  ]);
  const [a] = await Promise.all([
    sim.vm({ name: 'va', node: 'node-1', customize: (vm) => addSecondaryNics(vm, [{ name: 'n', nad: 'v10', addresses: ['10.8.0.1/24'] }]) }),
    sim.vm({ name: 'vb', node: 'node-2', customize: (vm) => addSecondaryNics(vm, [{ name: 'n', nad: 'v10', addresses: ['10.8.0.2/24'] }]) }),
    sim.vm({ name: 'vc', node: 'node-2', customize: (vm) => addSecondaryNics(vm, [{ name: 'n', nad: 'v20', addresses: ['10.8.0.3/24'] }]) }),
  ]);
  expect(await ping(a, '10.8.0.2')).toBe(true);
  expect(await ping(a, '10.8.0.3')).toBe(false);
  await a.guest.execOk('ip link set dev eth1 address 02:00:00:00:99:99 && ip neigh flush dev eth1');
  expect(await ping(a, '10.8.0.2')).toBe(false);
});

test('OVN layer2: one segment per network name across namespaces; DHCP only where the network has a server', async () => {
  await Promise.all([
    sim.kube.create(ovnNad(NS, 'shared', { network: 'shared-net', topology: 'layer2', annotations: { [DHCP_RANGE_ANNOTATION]: '10.7.0.100-10.7.0.110/24' } })),
    sim.kube.create(ovnNad('other', 'shared', { network: 'shared-net', topology: 'layer2', annotations: { [DHCP_RANGE_ANNOTATION]: '10.7.0.100-10.7.0.110/24' } })),
    sim.kube.create(ovnNad(NS, 'bare', { network: 'bare-net', topology: 'layer2' })),
  ]);
  const other = await DataPlaneSimIn(sim, 'other');
  const [d1, d2] = await Promise.all([
    sim.vm({ name: 'd1', node: 'node-1', customize: (vm) => addSecondaryNics(vm, [{ name: 's', nad: 'shared', dhcp4: true }, { name: 'b', nad: 'bare', dhcp4: true }]) }),
    other.vm({ name: 'd2', node: 'node-2', customize: (vm) => addSecondaryNics(vm, [{ name: 's', nad: 'shared', dhcp4: true }]) }),
  ]);
  const ip = (out: string) => /inet (\d+\.\d+\.\d+\.\d+)/.exec(out)?.[1];
  const a1 = ip(await d1.guest.execOk('ip -4 -o addr show eth1'));
  const a2 = ip(await d2.guest.execOk('ip -4 -o addr show eth1'));
  expect(a1).toMatch(/^10\.7\.0\.1\d\d$/);
  expect(a2).toMatch(/^10\.7\.0\.1\d\d$/);
  expect(a1).not.toBe(a2);
  expect((await d1.guest.execOk('ip -4 -o addr show eth2')).trim(), 'no DHCP server on bare-net').toBe('');
  expect(await ping(d1, a2 as string)).toBe(true);
  // status.interfaces: the §8.12.2.2 shape, secondary IPs from the guest agent.
  const st = await waitForStatusIp(sim.kube, NS, 'd1', 's', a1 as string);
  expect(st).toMatchObject({ name: 's', interfaceName: 'eth1', ipAddress: a1, infoSource: 'domain, guest-agent, multus-status' });
  const all = await vmiInterfaces(sim.kube, NS, 'd1');
  expect(all.map((i) => i.interfaceName)).toEqual(['eth0', 'eth1', 'eth2']);
  expect(all[2].ipAddresses ?? []).toEqual([]);
});

/** VMs of the same sim in another namespace (the SSH key Secret copied there). */
async function DataPlaneSimIn(s: DataPlaneSim, ns: string): Promise<{ vm: (o: Omit<VmOptions, 'namespace' | 'sshKeySecret'>) => Promise<TestVm> }> {
  const key = await s.kube.get<KObject>('v1', 'Secret', NS, 'ssh-key');
  await s.kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ssh-key', namespace: ns }, type: 'Opaque', data: key?.data as Record<string, string> });
  return {
    vm: async (o) => {
      await s.kube.create(masqueradeVm({ ...o, namespace: ns, sshKeySecret: 'ssh-key' }));
      const vmi = await s.kube.waitFor(async () => {
        const v = await s.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', ns, o.name);
        return (v?.status as { phase?: string } | undefined)?.phase === 'Running' ? v : undefined;
      }, { what: `VMI ${ns}/${o.name} Running`, timeoutMs: 60_000 });
      const guest = await Guest.connect({ kc: s.kube.kc, namespace: ns, vmi: o.name, user: 'fedora', privateKey: s.keys.privateKey, timeoutMs: 30_000 });
      s.guests.push(guest);
      const st = vmi.status as { nodeName: string; interfaces: { ipAddresses?: string[] }[] };
      return { name: o.name, guest, node: st.nodeName, podIPv4: (st.interfaces[0].ipAddresses ?? [])[0] };
    },
  };
}
