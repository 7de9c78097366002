// The Services and internal-FQDN suites turn red under each of their sim faults, at the test that
// checks the broken behaviour and with a message that says what broke.
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import type { FaultName } from '../../src/sim/faults.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import { find, runSuites, type Outcome } from './suite-runner.ts';

test.describe.configure({ mode: 'serial', timeout: 420_000 });

let sim: SimHandle;
const SERVICES = ['suites/services.spec.ts'];
const FQDN = ['suites/headless-fqdn.spec.ts'];

test.beforeAll(async () => {
  sim = await startSim({ settings: { mtu: 9000 }, kubeconfig: resolve('test-results', 'sim-faults-services', 'kubeconfig') });
});

test.afterAll(async () => {
  await sim?.stop();
});

async function underFault(name: FaultName, suites: string[]): Promise<Outcome[]> {
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject(name);
  try {
    const { code, outcomes } = await runSuites(`services-${name}`, suites, sim.kubeconfig, 'sim');
    expect(code, 'the suite run fails').not.toBe(0);
    return outcomes;
  } finally {
    await admin.clear(name);
  }
}

test('both suites pass on the healthy sim (the baseline the faults break)', async () => {
  const { code, outcomes } = await runSuites('services-healthy', [...SERVICES, ...FQDN], sim.kubeconfig, 'sim');
  expect(outcomes.filter((o) => o.status !== 'passed' && o.status !== 'skipped').map((o) => `${o.title}: ${o.message}`)).toEqual([]);
  expect(code).toBe(0);
});

test('"kube-proxy stale" fails the Service checks: new Services get no rules, a stopped backend keeps its', async () => {
  const outcomes = await underFault('kube-proxy-stale', SERVICES);
  // The suite's Services are created after the fault, so no rule ever routes to them.
  const t = find(outcomes, 'a ClusterIP Service reaches the VM labelled special: key');
  expect(t.status, t.message).toBe('failed');
  expect(t.message).toMatch(/a reply through|requests to|timed out/);
});

test('"DNS down" fails name resolution: the FQDN no longer resolves in the guest', async () => {
  const outcomes = await underFault('dns-down', FQDN);
  const t = find(outcomes, 'spec.hostname and spec.subdomain give');
  expect(t.status, t.message).toBe('failed');
  expect(t.message).toContain('getent ahostsv4 myvm.mysubdomain.');
  expect(find(outcomes, 'DNS resolution latency').status).toBe('failed');
  expect(find(outcomes, 'a subdomain with no headless service').status, 'no record is still no record').toBe('passed');
});

test('"endpoints stuck" fails the Service checks: EndpointSlices never list the VMs', async () => {
  const outcomes = await underFault('endpoints-stuck', SERVICES);
  const t = find(outcomes, 'a ClusterIP Service reaches the VM labelled special: key');
  expect(t.status, t.message).toBe('failed');
  expect(t.message).toContain('ready endpoints');
});
