// Jumbo frames (§8.2.3): the guest gets the cluster network MTU, and DF pings show the path MTU.
import { expect, test } from '@playwright/test';
import { pathMtu } from '../../src/probes/index.ts';
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

test('the path across nodes carries the full MTU: the largest DF payload that gets a reply is 8972', async () => {
  // Sizes above the sender's own MTU never leave it ("message too long"), so only sizes up to 8972 say anything about the path.
  const r = await pathMtu(a.guest, b.podIPv4 as string, { lo: 1200, hi: 8972 });
  expect(r.maxPayload, `DF probes from ja to jb: ${JSON.stringify(r.probes)}`).toBe(8972);
});
