// The downtime sampler (src/probes/downtime.ts) against two sim VMs on different nodes: no cut reads
// as no downtime, and a cut of known length (pod-network-loss 100% on the target, set and cleared
// from here) reads as one gap of that length. The sim runs with nicRateGbps: 1, and TCP across the
// nodes is held to that rate (the setting reaches the fabric).
import { expect, test } from '@playwright/test';
import { startDowntimeSampler, tcpThroughput, type DowntimeResult } from '../../src/probes/index.ts';
import { attachTimeline } from '../../src/report/timeline.ts';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { DataPlaneSim, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let sim: DataPlaneSim;
let admin: SimAdmin;
let a: TestVm;
let b: TestVm;
const CUT_MS = 1000;

const window = (ms: number) => new Promise((r) => setTimeout(r, ms)); // a measurement window, not a wait for state

async function attach(name: string, r: DowntimeResult, events: { tMs: number; label: string }[] = []): Promise<void> {
  await attachTimeline(name, { ...r, downtime: r.downtime() }, { outages: r.downtime().outages, events });
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  sim = await DataPlaneSim.start('downtime', { nicRateGbps: 1 });
  admin = new SimAdmin(sim.sim.stateDir);
  [a, b] = await Promise.all([sim.vm({ name: 'da', node: 'node-1' }), sim.vm({ name: 'db', node: 'node-2' })]);
});

test.afterAll(async () => {
  await admin?.clear('pod-network-loss').catch(() => undefined);
  await sim?.stop();
});

test('without a cut the sampler sees every reply: no gap, nothing lost', async () => {
  const s = await startDowntimeSampler(a.guest, b.podIPv4);
  await window(2000);
  const r = await s.stop();
  await attach('downtime-clean', r);
  const d = r.downtime();
  expect(d.sent, 'requests in 2 s at 10 ms').toBeGreaterThan(80);
  expect(d.lostCount, JSON.stringify(d.outages)).toBe(0);
  expect(d.longestGapMs).toBe(0);
  expect(r.rtt.count).toBe(d.sent);
});

test(`a ${CUT_MS} ms cut of the target's traffic reads as one gap of that length`, async () => {
  const s = await startDowntimeSampler(a.guest, b.podIPv4);
  await window(500);
  const setStart = Date.now();
  await admin.inject('pod-network-loss', { percent: 100, selector: { namespace: sim.namespace, vm: 'db' } });
  const setEnd = Date.now();
  await window(CUT_MS);
  const clearStart = Date.now();
  await admin.clear('pod-network-loss');
  const clearEnd = Date.now();
  await window(700);
  const r = await s.stop();
  const t0 = r.timeline[0].atMs;
  await attach('downtime-cut', r, [
    { tMs: setStart - t0, label: 'loss set' }, { tMs: clearEnd - t0, label: 'loss cleared' },
  ]);
  const d = r.downtime();
  // The cut is certain between setEnd and clearStart and possible between setStart and clearEnd;
  // the gap may also be off by up to one request spacing at each end.
  const spacing = (r.timeline.at(-1)!.tMs - r.timeline[0].tMs) / (r.timeline.length - 1);
  const slop = 2 * spacing + 5;
  expect(d.outages.filter((o) => o.durationMs > 3 * spacing), JSON.stringify(d.outages)).toHaveLength(1);
  expect(d.outages.every((o) => !o.open)).toBe(true);
  expect(d.longestGapMs).toBeGreaterThanOrEqual(clearStart - setEnd - slop);
  expect(d.longestGapMs).toBeLessThanOrEqual(clearEnd - setStart + slop);
  expect(d.lostCount).toBeGreaterThanOrEqual(Math.floor((clearStart - setEnd) / spacing) - 2);
});

test('nicRateGbps: 1 holds TCP between VMs on two nodes (pod network over the shaped eth0) to the NIC rate', async () => {
  const r = await tcpThroughput(a.guest, b.guest, b.podIPv4, { seconds: 2 });
  test.info().annotations.push({ type: 'Gbit/s', description: (r.bitsPerSecond / 1e9).toFixed(3) });
  expect(r.bitsPerSecond).toBeLessThanOrEqual(1.1e9);
  expect(r.bitsPerSecond).toBeGreaterThanOrEqual(0.3e9);
});
