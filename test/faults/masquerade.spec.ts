// Every check can fail: the masquerade suite, run as a user runs it, turns red under each sim
// fault — at the test that checks the broken behaviour, with a message that says what broke.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { expect, test } from '@playwright/test';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import type { FaultName, FaultSpec } from '../../src/sim/faults.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import { find, runSuites, type Outcome } from './suite-runner.ts';

test.describe.configure({ mode: 'serial', timeout: 300_000 });

let sim: SimHandle;
const SUITE = ['suites/masquerade.spec.ts'];

test.beforeAll(async () => {
  sim = await startSim({ settings: { mtu: 9000 }, kubeconfig: resolve('test-results', 'sim-faults', 'kubeconfig') });
});

test.afterAll(async () => {
  await sim?.stop();
});

async function underFault(name: FaultName, spec: FaultSpec = {}): Promise<Outcome[]> {
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject(name, spec);
  try {
    const { code, outcomes } = await runSuites(name, SUITE, sim.kubeconfig, 'sim');
    expect(code, 'the suite run fails').not.toBe(0);
    return outcomes;
  } finally {
    await admin.clear(name);
  }
}

test('the suite passes on the healthy sim (the baseline the faults break)', async () => {
  const { code, outcomes } = await runSuites('healthy', SUITE, sim.kubeconfig, 'sim');
  expect(outcomes.filter((o) => o.status !== 'passed' && o.status !== 'skipped').map((o) => `${o.title}: ${o.message}`)).toEqual([]);
  expect(code).toBe(0);
});

test('"masquerade NAT broken" fails the egress check: the peer no longer sees the pod IP', async () => {
  const outcomes = await underFault('masquerade-nat-broken');
  const egress = find(outcomes, 'outgoing traffic is hidden behind the pod IP address');
  expect(egress.status).toBe('failed');
  expect(egress.message).toContain('outgoing connection');
  expect(egress.message).toContain('not masqueraded');
  expect(find(outcomes, 'ports 49152 and 49153').status, 'inbound DNAT checks are unaffected').toBe('passed');
});

test('"packet loss 30% on the pod network" fails the latency checks on their loss threshold', async () => {
  const outcomes = await underFault('pod-network-loss', { percent: 30 });
  for (const placement of ['same-node', 'cross-node']) {
    const t = find(outcomes, `ICMP latency guest to guest, ${placement}`);
    expect(t.status, t.message).toBe('failed');
    expect(t.message).toContain('[threshold] ICMP loss');
  }
});

test('"drop the node-to-node overlay" fails the cross-node checks and leaves same-node ones green', async () => {
  const outcomes = await underFault('overlay-drop');
  expect(find(outcomes, 'a port in the ports list is reachable on the pod IP from a VM on another node').status).toBe('failed');
  expect(find(outcomes, 'ICMP latency guest to guest, cross-node').status).toBe('failed');
  expect(find(outcomes, 'ICMP latency guest to guest, same-node').status).toBe('passed');
  expect(find(outcomes, 'TCP throughput guest to guest, same-node').status).toBe('passed');
});

test('a failed run still writes its JUnit, matrix and HTML report, and removes what it created', async () => {
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject('masquerade-nat-broken');
  const reports = resolve('test-results', 'nested', 'failed-run-report', 'reports');
  try {
    const { code, outcomes } = await runSuites('failed-run-report', SUITE, sim.kubeconfig, 'sim', { KVNET_NO_REPORT: '' }, ['--grep', 'outgoing traffic|ports 49152']);
    expect(code).not.toBe(0);
    expect(find(outcomes, 'outgoing traffic is hidden behind the pod IP address').status).toBe('failed');
  } finally {
    await admin.clear('masquerade-nat-broken');
  }
  expect(readFileSync(resolve(reports, 'junit.xml'), 'utf8'), 'JUnit counts the failure').toMatch(/(failures|errors)="[1-9]/);
  const matrix = JSON.parse(readFileSync(resolve(reports, 'conformance-matrix.json'), 'utf8')) as { runStatus: string; totals: { failed: number } };
  expect(matrix.runStatus).toBe('failed');
  expect(matrix.totals.failed).toBeGreaterThan(0);
  if (hasJava()) expect(existsSync(resolve(reports, 'allure-report', 'index.html')), 'the HTML report').toBe(true);
  const kube = Kube.fromFile(sim.kubeconfig);
  expect((await kube.list<KObject>('v1', 'Namespace', undefined, 'kvnet.io/run-id=nested-failed-run-report')).map((n) => n.metadata?.name)).toEqual([]);
});

function hasJava(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
