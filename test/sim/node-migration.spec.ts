// The node side of live migration (src/sim/virt/node-migration.ts), packet-level, without the
// control plane: the test makes the target launcher pod and the plan the migration controller
// would, and drives NodeSide over the sim's admin socket. The guest keeps its processes, files,
// bridge MAC and IP; masquerade gets the target pod's IP; the copy is paced; a stalled stream or a
// dropped migration path fails with KubeVirt's reason and leaves the guest running on the source.
import { expect, test } from '@playwright/test';
import type { KObject } from '../../src/kube/client.ts';
import { vmiInterfaces } from '../../src/fixtures/secondary.ts';
import { GuestOs } from '../../src/guest/os.ts';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { DataPlaneSim, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

const NS = 'selftest';
const MIB = 1024 * 1024;
let sim: DataPlaneSim;
let admin: SimAdmin;
let vm: TestVm; // migrates
let peer: TestVm; // node-3, on the same bridge network
let seq = 0;
/** Where the guest runs: the VMI's status.nodeName is the migration controller's to move, not NodeSide's. */
let at = 'node-1';

interface Result { ok: boolean; reason?: string; targetNodeAddress: string; ms: number; progress: { t: number; processed: number }[] }

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('node-migration', { nodes: 3 });
  admin = new SimAdmin(sim.sim.stateDir);
  [vm, peer] = await sim.onBridge('mig-net', [{ name: 'mover', node: 'node-1', address: '10.7.0.1/24' }, { name: 'peer', node: 'node-3', address: '10.7.0.2/24' }]);
});

test.afterAll(async () => {
  await sim?.stop();
});

async function vmiOf(name: string): Promise<KObject> {
  return await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, name) as KObject;
}

/** What virt-controller would make and pass: a bound target launcher pod and the plan. */
async function plan(targetNode: string, o: { memoryBytes: number; bandwidthBytesPerSec?: number; progressTimeoutS?: number }): Promise<Record<string, unknown>> {
  const vmi = await vmiOf(vm.name);
  const uid = `mig-${++seq}-${Date.now()}`;
  const target = await sim.kube.create<KObject>({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `virt-launcher-${vm.name}-t${seq}`, namespace: NS, labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': uid } },
    spec: { nodeName: targetNode, containers: [{ name: 'compute', image: 'virt-launcher' }] },
  });
  return {
    migrationUid: uid, namespace: NS, vmiName: vm.name, vmiUid: vmi.metadata?.uid,
    sourcePod: '', targetPod: target.metadata?.name,
    sourceNode: at, targetNode,
    memoryBytes: o.memoryBytes, bandwidthBytesPerSec: o.bandwidthBytesPerSec ?? 0,
    progressTimeoutS: o.progressTimeoutS ?? 150, completionTimeoutPerGiB: 150,
  };
}

async function migrate(p: Record<string, unknown>): Promise<Result> {
  const r = await admin.post('/node-side/migrate', p) as Result;
  if (r.ok) at = p.targetNode as string;
  return r;
}
const podIP = async () => (await vmiInterfaces(sim.kube, NS, vm.name)).find((i) => i.name === 'default')?.ipAddress;

test('a stalled memory stream fails after progressTimeout with KubeVirt\'s reason; the guest stays on the source', async () => {
  // Positive control on the same path: an unfaulted copy of a few MiB gets through at once.
  const ok = await migrate(await plan('node-2', { memoryBytes: 4 * MIB, progressTimeoutS: 2 }));
  expect(ok.ok, ok.reason).toBe(true);
  vm.guest = await vm.guest.reconnect(60_000);
  const back = await migrate(await plan('node-1', { memoryBytes: 4 * MIB, progressTimeoutS: 2 }));
  expect(back.ok, back.reason).toBe(true);
  vm.guest = await vm.guest.reconnect(60_000);
  const before = await podIP();

  for (const fault of ['migration-stalled', 'migration-network-down'] as const) {
    await admin.inject(fault);
    try {
      const r = await migrate(await plan('node-2', { memoryBytes: 64 * MIB, progressTimeoutS: 2 }));
      expect(r.ok, fault).toBe(false);
      expect(r.reason).toMatch(/^Live migration stuck for [23] seconds and has been aborted/);
      if (fault === 'migration-network-down') expect(r.reason).toContain('over the pod network is dropped between the nodes');
      expect(r.ms, 'fails soon after progressTimeout').toBeLessThan(8000);
    } finally {
      await admin.clear(fault);
    }
    expect(await podIP(), 'the guest still runs behind the source pod').toBe(before);
    expect((await vm.guest.exec('true')).code, 'the SSH session through the source survives').toBe(0);
  }
});

test('a migration keeps the guest\'s process, file, bridge MAC and IP; masquerade gets the target pod IP; the copy is paced', async () => {
  const os = new GuestOs(peer.guest);
  const pid = (await vm.guest.execOk('nohup sleep 1000 >/dev/null 2>&1 & echo $!')).trim();
  await vm.guest.execOk('echo kept > /tmp/kept');
  const mac = (await vm.guest.execOk('cat /sys/class/net/eth1/address')).trim();
  const before = await podIP();
  // Positive control: both networks answer before the move.
  expect(await os.reaches('10.7.0.1', { tries: 2 }), 'bridge network before').toBe(true);
  expect(await os.reaches(before as string, { tries: 2 }), 'pod network before').toBe(true);

  const rate = 16 * MIB;
  const bytes = 32 * MIB;
  const r = await migrate(await plan('node-2', { memoryBytes: bytes, bandwidthBytesPerSec: rate }));
  expect(r.ok, r.reason).toBe(true);
  // The target virt-handler's pod IP on node-2 (no dedicated migration network here).
  expect(r.targetNodeAddress).toMatch(/^10\.128\.1\./);
  expect(r.ms, 'the copy takes at least bytes / bandwidth').toBeGreaterThanOrEqual((bytes / rate) * 1000 * 0.95);
  expect(r.progress.length, 'progress reported at least every second').toBeGreaterThanOrEqual(Math.floor(bytes / rate));

  await expect.poll(podIP, { timeout: 10_000 }).toMatch(/^10\.128\.1\./);
  expect(await podIP()).not.toBe(before);
  vm.guest = await vm.guest.reconnect(60_000);
  expect((await vm.guest.exec(`kill -0 ${pid}`)).code, 'the guest process survives').toBe(0);
  expect((await vm.guest.execOk('cat /tmp/kept')).trim()).toBe('kept');
  expect((await vm.guest.execOk('cat /sys/class/net/eth1/address')).trim()).toBe(mac);
  expect(await vm.guest.execOk('ip -o -4 addr show eth1')).toContain('10.7.0.1/24');
  expect(await vm.guest.execOk('ip -o -4 addr show eth0')).toContain('10.0.2.2/24');
  expect(await os.reaches('10.7.0.1', { tries: 3 }), 'bridge network after').toBe(true);
  expect(await os.reaches(await podIP() as string, { tries: 3 }), 'pod network after, at the new pod IP').toBe(true);
  const vmi = await vmiOf(vm.name);
  const conditions = (vmi.status as { conditions: { type: string; status: string }[] }).conditions;
  expect(conditions.find((c) => c.type === 'LiveMigratable')?.status).toBe('True');
});
