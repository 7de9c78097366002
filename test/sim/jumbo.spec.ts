// Jumbo frames (§8.2.3): the guest gets the cluster network MTU, and DF pings show the path MTU.
import { expect, test } from '@playwright/test';
import { DataPlaneSim, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let sim: DataPlaneSim;
let a: TestVm;
let b: TestVm;

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('jumbo', { mtu: 9000 });
  [a, b] = await Promise.all([sim.vm({ name: 'ja', node: 'node-1' }), sim.vm({ name: 'jb', node: 'node-2' })]);
});

test.afterAll(async () => {
  await sim?.stop();
});

test('the guest MTU is the cluster network MTU (9000)', async () => {
  expect((await a.guest.execOk('cat /sys/class/net/eth0/mtu')).trim()).toBe('9000');
});

test('a DF ping of 8972 bytes crosses nodes and 8973 does not', async () => {
  expect((await a.guest.exec(`ping -4 -M do -s 8972 -c 1 -W 2 ${b.podIPv4}`)).code).toBe(0);
  expect((await a.guest.exec(`ping -4 -M do -s 8973 -c 1 -W 2 ${b.podIPv4}`)).code).not.toBe(0);
});
