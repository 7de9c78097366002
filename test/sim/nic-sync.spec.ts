// virt-handler's sync of a running domain with its VMI spec (§8.9, migration-based NIC hot plug):
// a bridge NIC set `state: absent` leaves the guest at once and the pod at the next migration; a
// bridge NIC added to the spec is not attached to the running guest, and the next migration brings
// it in with its MAC as eth<index>. The change goes through the VM, as a user makes it (virt-api
// refuses a user's VMI spec update): the VM controller's network synchronizer copies it into the VMI.
// virt-handler's conditions keep their lastTransitionTime across these status writes.
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/kube/client.ts';
import { vmiInterfaces } from '../../src/fixtures/secondary.ts';
import { GuestOs } from '../../src/guest/os.ts';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { DataPlaneSim, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

const NS = 'selftest';
const VM_API = 'kubevirt.io/v1';
const ADDED_MAC = '02:00:00:08:00:03';
let sim: DataPlaneSim;
let admin: SimAdmin;
let vm: TestVm; // unplugs one bridge NIC, gets another
let peer: TestVm; // on the same bridge network
let at = 'node-1';
let seq = 0;

interface Condition { type: string; status: string; lastTransitionTime?: string }
interface IfaceSpec { name: string; state?: string; bridge?: Record<string, never>; macAddress?: string }

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('nic-sync', { nodes: 2 });
  admin = new SimAdmin(sim.sim.stateDir);
  [vm, peer] = await sim.onBridge('sync-net', [{ name: 'syncer', node: 'node-1', address: '10.8.0.1/24' }, { name: 'peer', node: 'node-2', address: '10.8.0.2/24' }]);
});

test.afterAll(async () => {
  await sim?.stop();
});

async function vmi(): Promise<KObject> {
  return await sim.kube.get<KObject>(VM_API, 'VirtualMachineInstance', NS, vm.name) as KObject;
}
const vmiIfaces = async () => ((await vmi()).spec as { domain: { devices: { interfaces: IfaceSpec[] } } }).domain.devices.interfaces;
const conditions = async () => ((await vmi()).status as { conditions: Condition[] }).conditions;
const guestHas = async (dev: string) => (await vm.guest.exec(`test -e /sys/class/net/${dev}`)).code === 0;

/** A user's edit of the VM template's interfaces and networks (what `oc edit vm` sends). */
async function editVm(edit: (spec: { domain: { devices: { interfaces: IfaceSpec[] } }; networks: { name: string; multus?: { networkName: string } }[] }) => void): Promise<void> {
  const cur = await sim.kube.get<KObject>(VM_API, 'VirtualMachine', NS, vm.name) as KObject;
  edit((cur.spec as { template: { spec: Parameters<typeof edit>[0] } }).template.spec);
  await sim.kube.replace(cur);
}

/** Every distinct infoSource of interface `name` a watch on the VMI sees, in order, until `last`. */
async function infoSources(name: string, last: string): Promise<string[]> {
  const out: string[] = [];
  await sim.kube.waitForObject(VM_API, 'VirtualMachineInstance', NS, vm.name, (o) => {
    const src = ((o?.status as { interfaces?: { name?: string; infoSource?: string }[] } | undefined)?.interfaces ?? []).find((i) => i.name === name)?.infoSource;
    if (src && out.at(-1) !== src) out.push(src);
    return src === last || undefined;
  }, { what: `${name} reported with infoSource "${last}"`, timeoutMs: 60_000 });
  return out;
}

/** The node side of a migration, driven as the migration controller would (see node-migration.spec.ts). */
async function migrate(targetNode: string): Promise<void> {
  const cur = await vmi();
  const uid = `sync-${++seq}-${Date.now()}`;
  const target = await sim.kube.create<KObject>({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `virt-launcher-${vm.name}-t${seq}`, namespace: NS, labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': uid } },
    spec: { nodeName: targetNode, containers: [{ name: 'compute', image: 'virt-launcher' }] },
  });
  const r = await admin.post('/node-side/migrate', {
    migrationUid: uid, namespace: NS, vmiName: vm.name, vmiUid: cur.metadata?.uid, sourcePod: '', targetPod: target.metadata?.name,
    sourceNode: at, targetNode, memoryBytes: 1024 * 1024, bandwidthBytesPerSec: 0, progressTimeoutS: 150, completionTimeoutPerGiB: 150,
  }) as { ok: boolean; reason?: string };
  expect(r.ok, r.reason).toBe(true);
  at = targetNode;
  vm.guest = await vm.guest.reconnect(60_000);
}

test('a bridge NIC set absent leaves the guest at once and the pod at the next migration; the conditions keep their times', async () => {
  const os = new GuestOs(peer.guest);
  // Positive control: the NIC is in the guest and carries traffic.
  expect(await guestHas('eth1'), 'eth1 in the guest before').toBe(true);
  expect(await os.reaches('10.8.0.1', { tries: 3 }), 'the peer reaches the NIC before').toBe(true);
  const before = await conditions();
  const times = Object.fromEntries(['Ready', 'AgentConnected', 'LiveMigratable'].map((t) => [t, before.find((c) => c.type === t)?.lastTransitionTime]));
  for (const [t, v] of Object.entries(times)) expect(v, `${t} has a transition time`).toBeTruthy();
  // The rule is visible only if the next write comes in a later second than the boot's (times have second precision).
  const latest = Math.max(...Object.values(times).map((v) => Date.parse(v as string)));
  await expect.poll(() => Date.now() >= latest + 1000, { timeout: 2000 }).toBe(true);

  await editVm((s) => { (s.domain.devices.interfaces.find((i) => i.name === 'br') as IfaceSpec).state = 'absent'; });
  await expect.poll(async () => (await vmiIfaces()).find((i) => i.name === 'br')?.state, { message: 'the VM controller marks the VMI interface absent' }).toBe('absent');
  await expect.poll(() => guestHas('eth1'), { message: 'the guest loses eth1', timeout: 10_000 }).toBe(false);
  expect(await os.reaches('10.8.0.1', { tries: 2 }), 'nothing answers on the unplugged NIC').toBe(false);
  // Out of the domain, still attached to the pod: multus-status only.
  await expect.poll(async () => (await vmiInterfaces(sim.kube, NS, vm.name)).find((i) => i.name === 'br')?.infoSource, { timeout: 10_000 }).toBe('multus-status');
  // That status write came at least a second after the boot's: a rewritten time would differ.
  const after = await conditions();
  for (const [t, v] of Object.entries(times)) {
    expect(after.find((c) => c.type === t)?.status, t).toBe('True');
    expect(after.find((c) => c.type === t)?.lastTransitionTime, `${t} keeps its lastTransitionTime`).toBe(v);
  }

  await migrate('node-2');
  expect(await guestHas('eth1'), 'no eth1 after the migration').toBe(false);
  expect(await guestHas('eth0'), 'the pod network NIC stays').toBe(true);
  await expect.poll(async () => (await vmiInterfaces(sim.kube, NS, vm.name)).map((i) => i.name), { message: 'the pod let go of the unplugged NIC', timeout: 10_000 }).toEqual(['default']);
});

test('a bridge NIC added to the spec waits for the next migration, then the guest has it with its MAC and traffic passes', async () => {
  await editVm((s) => {
    s.domain.devices.interfaces.push({ name: 'br2', bridge: {}, macAddress: ADDED_MAC });
    s.networks.push({ name: 'br2', multus: { networkName: 'sync-net' } });
  });
  await expect.poll(async () => (await vmiIfaces()).map((i) => i.name), { message: 'the VM controller adds the interface to the VMI' }).toContain('br2');
  // Not hot-plugged in place: the running guest does not get it, and it is not reported.
  expect(await guestHas('eth2'), 'no eth2 before a migration').toBe(false);
  expect((await vmiInterfaces(sim.kube, NS, vm.name)).map((i) => i.name)).not.toContain('br2');

  const seen = infoSources('br2', 'domain, guest-agent, multus-status');
  await migrate('node-1');
  // In the pod first, then in the domain, then reported by the guest agent (seed §8.9.2's final shape).
  expect(await seen, 'br2 infoSource values as a watch saw them').toEqual(['multus-status', 'domain, multus-status', 'domain, guest-agent, multus-status']);
  // Positive control for the negative above: the same check now finds it.
  await expect.poll(() => guestHas('eth2'), { message: 'the guest has eth2 after the migration', timeout: 10_000 }).toBe(true);
  expect((await vm.guest.execOk('cat /sys/class/net/eth2/address')).trim()).toBe(ADDED_MAC);
  await vm.guest.execOk('ip link set eth2 up && ip addr add 10.8.0.3/24 dev eth2');
  expect(await new GuestOs(peer.guest).reaches('10.8.0.3', { tries: 5 }), 'the peer reaches the new NIC').toBe(true);
  await expect.poll(async () => (await vmiInterfaces(sim.kube, NS, vm.name)).find((i) => i.name === 'br2'), { timeout: 10_000 })
    .toMatchObject({ interfaceName: 'eth2', mac: ADDED_MAC });
});

test('four PCI ports for NICs (§8.9.1): past them a hot-plugged NIC stays in the pod, with a SyncFailed event; a restart boots it as an ordinary NIC', async () => {
  // default and br2 are in the guest (br was unplugged, freeing its port): two of br3..br5 fit.
  const added = ['br3', 'br4', 'br5'];
  await editVm((s) => {
    added.forEach((name, i) => {
      s.domain.devices.interfaces.push({ name, bridge: {}, macAddress: `02:00:00:08:01:0${i}` });
      s.networks.push({ name, multus: { networkName: 'sync-net' } });
    });
  });
  await expect.poll(async () => (await vmiIfaces()).map((i) => i.name), { message: 'the VM controller adds them to the VMI' }).toEqual(expect.arrayContaining(added));
  await migrate('node-2');
  await expect.poll(async () => Object.fromEntries((await vmiInterfaces(sim.kube, NS, vm.name)).filter((i) => added.includes(i.name as string)).map((i) => [i.name, i.infoSource])), { timeout: 10_000 })
    .toEqual({ br3: 'domain, guest-agent, multus-status', br4: 'domain, guest-agent, multus-status', br5: 'multus-status' });
  const macs = (await vm.guest.execOk('cat /sys/class/net/*/address')).split('\n');
  expect(macs, 'the guest has the two that fit').toEqual(expect.arrayContaining(['02:00:00:08:01:00', '02:00:00:08:01:01']));
  expect(macs, 'and not the one past the ports').not.toContain('02:00:00:08:01:02');
  const events = await sim.kube.list<KObject>('v1', 'Event', NS);
  const failed = events.filter((e) => (e as { reason?: string }).reason === 'SyncFailed' && (e as { involvedObject?: { name?: string } }).involvedObject?.name === vm.name);
  expect(failed.map((e) => (e as { message?: string }).message).join('\n')).toContain('br5: internal error: No more available PCI slots');

  // A restart boots every interface of the spec: all five are ordinary NICs.
  const old = (await vmi()).metadata?.uid;
  await sim.kube.delete({ apiVersion: VM_API, kind: 'VirtualMachineInstance', metadata: { name: vm.name, namespace: NS } });
  await sim.kube.waitForObject(VM_API, 'VirtualMachineInstance', NS, vm.name, (o) => (o && o.metadata?.uid !== old && (o.status as { phase?: string } | undefined)?.phase === 'Running') || undefined, { what: 'the restarted VMI Running', timeoutMs: 60_000 });
  vm.guest = await vm.guest.reconnect(60_000);
  const after = (await vm.guest.execOk('cat /sys/class/net/*/address')).split('\n');
  expect(after).toEqual(expect.arrayContaining([ADDED_MAC, '02:00:00:08:01:00', '02:00:00:08:01:01', '02:00:00:08:01:02']));
});
