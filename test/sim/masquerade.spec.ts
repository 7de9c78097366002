// The masquerade binding in the sim, end to end through src/guest: the behaviour §8.2 documents.
import { expect, test } from '@playwright/test';
import { masqueradeVm, templateSpec } from '../../src/kube/vm.ts';
import { snapshotHost } from '../../src/sim/fabric/host-snapshot.ts';
import { DataPlaneSim, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let sim: DataPlaneSim;
let before: Awaited<ReturnType<typeof snapshotHost>>;
let a1: TestVm; // node-1, ports [80]
let a2: TestVm; // node-1, every port
let b1: TestVm; // node-2, ports [80]

test.beforeAll(async () => {
  before = await snapshotHost();
  sim = await DataPlaneSim.start('masquerade');
  [a1, a2, b1] = await Promise.all([
    sim.vm({ name: 'a1', node: 'node-1', ports: [80], ipv6: true }),
    sim.vm({ name: 'a2', node: 'node-1', ipv6: true }),
    sim.vm({ name: 'b1', node: 'node-2', ports: [80], ipv6: true }),
  ]);
});

test.afterAll(async () => {
  await sim?.stop();
  expect(await snapshotHost(), 'the host network is unchanged after the sim stops').toEqual(before);
});

test('the guest has 10.0.2.2/24 and the cloud-init IPv6 address fd10:0:2::2/120', async () => {
  const out = await a1.guest.execOk('ip -o addr show eth0');
  expect(out).toContain('10.0.2.2/24');
  expect(out).toContain('fd10:0:2::2/120');
  expect(a1.podIPv4).toMatch(/^10\.128\.0\./);
  expect(a1.podIPv6).toMatch(/^fd01:0:0:1::/);
});

for (const family of ['IPv4', 'IPv6'] as const) {
  test(`guest → guest ping over ${family}, same node and across nodes`, async () => {
    const ip = (v: TestVm) => (family === 'IPv4' ? v.podIPv4 : v.podIPv6 as string);
    const flag = family === 'IPv4' ? '-4' : '-6';
    expect((await a1.guest.exec(`ping ${flag} -c 2 -i 0.2 -W 2 ${ip(a2)}`)).code, 'same node').toBe(0);
    expect((await a1.guest.exec(`ping ${flag} -c 2 -i 0.2 -W 2 ${ip(b1)}`)).code, 'across nodes').toBe(0);
  });
}

test('a listed port is reachable on the pod IP; an unlisted one and 49152 are not', async () => {
  await b1.guest.execOk('for p in 80 8080 49152; do (socat TCP6-LISTEN:$p,fork,ipv6only=0 SYSTEM:"echo port-$p" >/dev/null 2>&1 &); done; sleep 0.3');
  const get = (port: number) => a1.guest.exec(`socat -T 2 - TCP4:${b1.podIPv4}:${port},connect-timeout=2 </dev/null`, { timeoutMs: 10_000 });
  expect((await get(80)).stdout.trim()).toBe('port-80');
  const unlisted = await get(8080);
  expect(unlisted.stdout).not.toContain('port-8080');
  expect(unlisted.code).not.toBe(0);
  const migration = await get(49152);
  expect(migration.stdout).not.toContain('port-49152');
  expect(migration.code).not.toBe(0);
});

test('with no ports list every port is let in, except 49152 and 49153', async () => {
  await a2.guest.execOk('for p in 8080 49153; do (socat TCP6-LISTEN:$p,fork,ipv6only=0 SYSTEM:"echo port-$p" >/dev/null 2>&1 &); done; sleep 0.3');
  const get = (port: number) => b1.guest.exec(`socat -T 2 - TCP4:${a2.podIPv4}:${port},connect-timeout=2 </dev/null`, { timeoutMs: 10_000 });
  expect((await get(8080)).stdout.trim()).toBe('port-8080');
  expect((await get(49153)).stdout).not.toContain('port-49153');
});

test("a guest's egress reaches a peer with the pod IP as its source", async () => {
  await a2.guest.execOk(`(socat TCP4-LISTEN:9000,fork SYSTEM:'echo $SOCAT_PEERADDR' >/dev/null 2>&1 &); sleep 0.3`);
  const seen = (await b1.guest.execOk(`socat -T 2 - TCP4:${a2.podIPv4}:9000 </dev/null`)).trim();
  expect(seen).toBe(b1.podIPv4);
});

test('a VMI is awaited on a watch, and one that fails ends the wait at once with its reason', async () => {
  // The sim binds only masquerade on the pod network; bridge there fails the VMI at boot.
  await sim.kube.create(masqueradeVm({
    name: 'bridged', namespace: sim.namespace, sshKeySecret: 'ssh-key',
    customize: (vm) => { templateSpec(vm).domain.devices.interfaces[0] = { name: 'default', bridge: {} }; },
  }));
  const t0 = Date.now();
  const wait = sim.kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', sim.namespace, 'bridged', (v) => {
    const st = v?.status as { phase?: string; conditions?: { message?: string }[] } | undefined;
    if (st?.phase === 'Failed') throw new Error(`VMI failed: ${st.conditions?.map((c) => c.message).join('; ')}`);
    return st?.phase === 'Running' ? v : undefined;
  }, { timeoutMs: 60_000 });
  await expect(wait).rejects.toThrow(/VMI failed: .*only the masquerade binding/);
  expect(Date.now() - t0, 'the failure ended the wait, not the timeout').toBeLessThan(20_000);
  await expect(sim.kube.waitForObject('v1', 'ConfigMap', sim.namespace, 'never', (o) => o, { timeoutMs: 1500, what: 'a ConfigMap that never comes' }))
    .rejects.toThrow('timed out after 1500 ms waiting for a ConfigMap that never comes');
});
