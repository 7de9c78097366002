// The cluster path needs nothing from the sim: `--project=cluster` against second sims that are
// reached only through their kubeconfig (as a real cluster would be). On a dual-stack sim the suites
// pass; on a single-stack one the dual-stack checks are skipped, and still filed under their
// capability and seed section in the matrix and in Allure; a fault set with the user-facing CLI
// turns the traffic checks red.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, test } from '@playwright/test';
import type { ConformanceMatrix } from '../../src/report/matrix-reporter.ts';
import { runSuites } from './suite-runner.ts';

test.describe.configure({ timeout: 300_000 });

const CLUSTER_PROFILE = { KVNET_PROFILE: resolve('test/fixtures/profiles/cluster-on-sim.yaml') };
const MASQUERADE = 'suites/masquerade.spec.ts';
const DUAL_STACK = { feature: 'Masquerade dual-stack', section: '8.2.2' };
/** Masquerade checks: one about status, two about traffic (ingress across nodes, egress). */
const STATUS = 'gets the pod IP address in its status';
const TRAFFIC = ['a port in the ports list is reachable on the pod IP from a VM on another node', 'outgoing traffic is hidden behind the pod IP address'];
const started: ChildProcess[] = [];

/** `kvnet sim up FLAGS` as a user starts it; resolves with its kubeconfig once it prints ready. */
async function simUp(id: string, flags: string[]): Promise<string> {
  const dir = resolve('test-results', id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kubeconfig = resolve(dir, 'kubeconfig');
  const child = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'up', ...flags, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  await new Promise<void>((res, rej) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => l.startsWith('kvnet sim ready') && res());
    child.on('exit', (c) => rej(new Error(`kvnet sim up ${flags.join(' ')} exited with ${c}`)));
  });
  return kubeconfig;
}

/** `kvnet sim fault …` against the sim behind `kubeconfig`. */
function kvnetFault(args: string[], kubeconfig: string): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'fault', ...args, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, out }));
  });
}

test.afterAll(async () => {
  await Promise.all(started.filter((c) => c.exitCode === null).map((c) => {
    c.kill('SIGINT');
    return new Promise((r) => c.on('exit', r));
  }));
});

test('npx playwright test --project=cluster passes against a sim started with `kvnet sim up`', async () => {
  const kubeconfig = await simUp('sim-cluster-project', ['--mtu', '9000']);
  const { code, outcomes, log } = await runSuites('cluster-project', ['suites/'], kubeconfig, 'cluster', CLUSTER_PROFILE);
  const bad = outcomes.filter((o) => o.status !== 'passed' && o.status !== 'skipped');
  expect(bad.map((o) => `${o.title}: ${o.message}`), log.slice(-2000)).toEqual([]);
  expect(outcomes.filter((o) => o.status === 'passed').length).toBeGreaterThan(10);
  expect(code).toBe(0);
});

test('on a --single-stack sim run as --project=cluster, the 8.2.2 checks are skipped under "Masquerade dual-stack / 8.2.2" in the matrix and in Allure; pod-network-loss 100 set with the CLI turns traffic checks red, not status ones', async () => {
  const kubeconfig = await simUp('sim-cluster-single-stack', ['--single-stack']);
  // What a user does to see their own checks go red: the fault CLI, then the suite.
  const set = await kvnetFault(['set', 'pod-network-loss', '--percent', '100'], kubeconfig);
  expect(set.code, set.out).toBe(0);
  expect((await kvnetFault(['list'], kubeconfig)).out).toMatch(/^pod-network-loss\s+ACTIVE .*"percent":100/m);
  const id = 'cluster-single-stack';
  const reports = resolve('test-results', 'nested', id, 'reports');
  rmSync(reports, { recursive: true, force: true });
  // A status check, an ingress and an egress check, and 8.2.2; the full set under this fault is test/faults/masquerade.spec.ts's.
  const grep = [STATUS, ...TRAFFIC, DUAL_STACK.section].map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const { code, outcomes, log } = await runSuites(id, [MASQUERADE], kubeconfig, 'cluster', CLUSTER_PROFILE, ['--grep', grep]);
  expect((await kvnetFault(['clear', 'pod-network-loss'], kubeconfig)).code).toBe(0);

  const status = (part: string) => outcomes.find((o) => o.title.includes(part))?.status;
  expect(status(STATUS), `${STATUS}: a status check needs no traffic`).toBe('passed');
  for (const t of TRAFFIC) expect(status(t), `${t}, with all VM traffic dropped (${log.slice(-1500)})`).toBe('failed');
  expect(code).not.toBe(0);

  const dual = outcomes.filter((o) => o.title.includes(DUAL_STACK.section));
  expect(dual.length, 'the 8.2.2 tests in the run').toBeGreaterThan(0);
  for (const o of dual) expect(o.status, o.title).toBe('skipped');

  // The conformance matrix: one row for the capability, with its seed section, holding the skipped checks.
  const matrix = JSON.parse(readFileSync(join(reports, 'conformance-matrix.json'), 'utf8')) as ConformanceMatrix;
  const row = matrix.capabilities.find((c) => c.capability === DUAL_STACK.feature);
  expect(row, `a "${DUAL_STACK.feature}" row (rows: ${matrix.capabilities.map((c) => c.capability).join(', ')})`).toBeTruthy();
  expect(row?.seed).toEqual([DUAL_STACK.section]);
  expect(row?.checks.length).toBe(dual.length);
  for (const c of row?.checks ?? []) {
    expect(c.status, c.title).toBe('skipped');
    expect(c.reason, c.title).toContain('single-stack');
  }
  expect(matrix.capabilities.filter((c) => c.capability === 'masquerade'), 'no row named after the spec file').toEqual([]);

  // Allure: every skipped result carries the capability's labels.
  const results = resolve(reports, 'allure-results');
  const skipped = readdirSync(results).filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(join(results, f), 'utf8')) as { name: string; status: string; labels: { name: string; value: string }[] })
    .filter((r) => r.status === 'skipped');
  expect(skipped.length, 'skipped Allure results').toBe(dual.length);
  for (const r of skipped) {
    const label = (n: string) => r.labels.filter((l) => l.name === n).map((l) => l.value);
    expect(label('feature'), r.name).toEqual([DUAL_STACK.feature]);
    expect(label('epic'), r.name).toEqual(['Pod network']);
    expect(label('tag'), r.name).toContain(`seed ${DUAL_STACK.section}`);
  }
});
