// A failing test carries its diagnostics into the report without the spec doing anything:
// the fixture spec (test/fixtures/specs/lab.fixture.ts) runs nested on a sim with one test told to
// fail; its Allure entry then holds VM/VMI/launcher YAML, events and per-guest network state, the
// replacement worker adopts the kept scope, and skipped tests stay filed under their capability.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { generateReport, javaAvailable } from '../../src/report/generate.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';
import { find, runSuites, type Outcome } from '../faults/suite-runner.ts';

const CHROMIUM = '/usr/bin/chromium';
const ID = 'failure-diagnostics';
const reports = resolve('test-results', 'nested', ID, 'reports');
const marks = resolve('test-results', 'nested', ID, 'marks');

interface AllureResult { name: string; status: string; labels: { name: string; value: string }[]; attachments: { name: string; source: string; type: string }[]; steps: AllureStep[]; statusDetails?: { message?: string } }
interface AllureStep { attachments: AllureResult['attachments']; steps: AllureStep[] }

function allureResults(): AllureResult[] {
  const dir = join(reports, 'allure-results');
  return readdirSync(dir).filter((f) => f.endsWith('-result.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as AllureResult);
}

function allAttachments(r: { attachments: AllureResult['attachments']; steps: AllureStep[] }): AllureResult['attachments'] {
  return [...r.attachments, ...r.steps.flatMap(allAttachments)];
}

test.describe.configure({ mode: 'serial' });
let sim: SimHandle | undefined;
let outcomes: Outcome[] = [];

test.beforeAll(async () => {
  test.setTimeout(600_000);
  sim = await startSim({ settings: { mtu: 9000 }, kubeconfig: resolve('test-results', `sim-${ID}`, 'kubeconfig') });
  // Results of an earlier run would mix into this one's Allure results.
  rmSync(resolve('test-results', 'nested', ID), { recursive: true, force: true });
  mkdirSync(marks, { recursive: true });
  ({ outcomes } = await runSuites(ID, ['test/fixtures/specs/lab.fixture.ts'], sim.kubeconfig, 'sim', { KVNET_FIXTURE_FAIL: '1', KVNET_FIXTURE_MARKS: marks }, ['-c', 'test/fixtures/specs/playwright.config.ts']));
});

test.afterAll(async () => {
  await sim?.stop();
});

test('the failed test fails for its own reason; the replacement worker adopts the kept VMs', () => {
  expect(find(outcomes, 'fails when asked to')).toMatchObject({ status: 'failed', message: expect.stringContaining('KVNET_FIXTURE_FAIL asks this test to fail') });
  // Same VMI uid after the worker was replaced: the scope was kept on failure and adopted, not re-created.
  expect(find(outcomes, 'the next worker adopted the VMs')).toMatchObject({ status: 'passed' });
  expect(find(outcomes, 'a reaches b across nodes').status).toBe('passed');
  // Both workers' topology teardowns ran (the failed one's too), on the one namespace they shared.
  const teardowns = readdirSync(marks).map((f) => readFileSync(join(marks, f), 'utf8'));
  expect(teardowns).toHaveLength(2);
  expect(new Set(teardowns).size).toBe(1);
});

test('its Allure result holds the diagnostics: objects, events, and each guest\'s addresses, routes, neighbours, nftables', () => {
  const failed = allureResults().find((r) => r.name === 'fails when asked to' && r.status === 'failed');
  expect(failed, 'an Allure result for the failed test').toBeDefined();
  const atts = allAttachments(failed as AllureResult).filter((a) => a.name.startsWith('diagnostics '));
  expect(atts.map((a) => a.name.replace(/kvnet-lab-fixture-[0-9a-f]+/, 'NS')).sort()).toEqual(['diagnostics NS events.txt', 'diagnostics NS guest a.txt', 'diagnostics NS guest b.txt', 'diagnostics NS objects.yaml']);
  const body = (suffix: string) => readFileSync(join(reports, 'allure-results', (atts.find((a) => a.name.endsWith(suffix)) as { source: string }).source), 'utf8');
  const objects = body('objects.yaml');
  for (const kind of ['kind: VirtualMachine\n', 'kind: VirtualMachineInstance', 'kind: Pod']) expect(objects).toContain(kind);
  expect(objects).toContain('virt-launcher-a-');
  expect(objects).not.toContain('managedFields');
  expect(body('events.txt')).toMatch(/SuccessfulCreate VirtualMachine\/a/);
  const guest = body('guest a.txt');
  expect(guest).toMatch(/### ip addr — exit 0\n[\s\S]*eth0/);
  expect(guest).toMatch(/### ip route — exit 0\n[\s\S]*default via/);
  expect(guest).toContain('### ip neigh — exit 0');
  expect(guest).toMatch(/### nft list ruleset \(root\) — exit 0\n/);
  expect(atts.find((a) => a.name.endsWith('objects.yaml'))?.type).toBe('text/yaml');
});

test('passing and skipped tests carry no diagnostics; skipped ones keep epic, feature and seed', () => {
  const rs = allureResults();
  for (const r of rs.filter((x) => x.status !== 'failed')) expect(allAttachments(r).filter((a) => a.name.startsWith('diagnostics ')), r.name).toEqual([]);
  const skipped = rs.find((r) => r.name === 'is skipped with its labels') as AllureResult;
  expect(skipped.status).toBe('skipped');
  expect(skipped.labels).toEqual(expect.arrayContaining([{ name: 'epic', value: 'Self-test' }, { name: 'feature', value: 'Needs an API' }, { name: 'seed', value: '0.2' }]));
  const m = JSON.parse(readFileSync(join(reports, 'conformance-matrix.json'), 'utf8')) as { capabilities: { capability: string; seed: string[]; checks: { title: string; status: string; reason?: string }[] }[] };
  const row = m.capabilities.find((c) => c.capability === 'Needs an API');
  expect(row).toMatchObject({ seed: ['0.2'], checks: [{ title: 'is skipped with its labels', status: 'skipped', reason: 'the target serves no example.invalid API (an operator not installed)' }] });
});

test('the single-file Allure report shows the diagnostics in the failed test\'s entry (chromium)', async () => {
  test.skip(!javaAvailable(), 'java is not installed (apt-get install -y openjdk-17-jre-headless)');
  test.skip(!existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  test.setTimeout(240_000);
  const reportDir = join(reports, 'allure-report');
  const r = await generateReport({ resultsDir: join(reports, 'allure-results'), reportDir, matrixHtml: join(reports, 'conformance-matrix.html'), log: () => {} });
  expect(r.code, r.message).toBe(0);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`file://${join(reportDir, 'index.html')}#behaviors`);
    const tree = page.locator('.tree__content').first();
    await tree.getByText('Self-test', { exact: true }).click();
    await tree.getByText('Lab fixture', { exact: true }).click();
    await tree.getByText('fails when asked to', { exact: true }).click();
    await expect(page.getByText('KVNET_FIXTURE_FAIL asks this test to fail').first()).toBeVisible();
    // Attached in the fixture's teardown: under After Hooks › Fixture "failureDiagnostics".
    await page.locator('.step__title', { hasText: /After Hooks.*attachments/ }).first().click({ timeout: 15_000 });
    await page.locator('.step__title', { hasText: /Fixture "failureDiagnostics".*attachments/ }).first().click({ timeout: 15_000 });
    await expect(page.locator('.attachment-row', { hasText: /diagnostics kvnet-lab-fixture-[0-9a-f]+ objects\.yaml/ })).toBeVisible();
    await page.locator('.attachment-row', { hasText: /diagnostics kvnet-lab-fixture-[0-9a-f]+ guest a\.txt/ }).first().click({ timeout: 15_000 });
    await expect(page.getByText('### nft list ruleset (root)').first()).toBeVisible();
    await page.screenshot({ path: resolve('test-results', 'failure-diagnostics-report.png') });
  } finally {
    await browser.close();
  }
});
