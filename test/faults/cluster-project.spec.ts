// The cluster path needs nothing from the sim: `--project=cluster` against a second sim that is
// reached only through its kubeconfig (as a real cluster would be) passes the suites.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, test } from '@playwright/test';
import { runSuites } from './suite-runner.ts';

test.describe.configure({ timeout: 300_000 });

let child: ChildProcess | undefined;

test.afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((r) => child?.on('exit', r));
  }
});

test('npx playwright test --project=cluster passes against a sim started with `kvnet sim up`', async () => {
  const dir = resolve('test-results', 'sim-cluster-project');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kubeconfig = resolve(dir, 'kubeconfig');
  child = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'up', '--mtu', '9000', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    createInterface({ input: child!.stdout! }).on('line', (l) => l.startsWith('kvnet sim ready') && res());
    child!.on('exit', (c) => rej(new Error(`kvnet sim up exited with ${c}`)));
  });
  const { code, outcomes, log } = await runSuites('cluster-project', ['suites/'], kubeconfig, 'cluster', { KVNET_PROFILE: resolve('test/fixtures/profiles/cluster-on-sim.yaml') });
  const bad = outcomes.filter((o) => o.status !== 'passed' && o.status !== 'skipped');
  expect(bad.map((o) => `${o.title}: ${o.message}`), log.slice(-2000)).toEqual([]);
  expect(outcomes.filter((o) => o.status === 'passed').length).toBeGreaterThan(10);
  expect(code).toBe(0);
});
