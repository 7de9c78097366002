// End to end: a throwaway spec run through allure-playwright + the matrix reporter,
// then `generateReport` (allure CLI, Java) twice for history, then the single-file
// report opened in Debian chromium.
import { expect, test } from '@playwright/test';
import { chromium } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateReport, javaAvailable } from '../../src/report/generate.ts';
import { writeAllureEnvironment } from '../../src/report/environment.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const hasJava = javaAvailable();
// Inside the repo so the fixture spec resolves @playwright/test from node_modules.
const work = join(ROOT, 'test-results', `report-fixture-${process.pid}`);
const results = join(work, 'allure-results');
const reportDir = join(work, 'out', 'allure-report');

const FIXTURE = `import { test, expect } from '@playwright/test';
import { describeCapability, attachMeasurement, recordMetric, thresholdMessage } from '${ROOT}/src/report/allure.ts';
test('masquerade VM reaches the pod network', async () => {
  await describeCapability({ epic: 'Pod network', feature: 'Masquerade binding', section: '8.2.1', parameters: { target: 'sim' } });
  const samples = Array.from({ length: 300 }, (_, i) => 0.3 + Math.abs(Math.sin(i * 7.1)) * 0.4);
  await attachMeasurement('ICMP RTT', { samples, stats: { count: 300 }, unit: 'ms' }, 'histogram');
  await recordMetric('Masquerade binding', 'rtt p99', 0.7, 'ms', { max: 5 });
});
test('throughput meets budget', async () => {
  await describeCapability({ epic: 'Pod network', feature: 'MTU', section: '8.3.1' });
  expect(1.2, thresholdMessage('throughput', 1.2, 'Gbit/s', { min: 5 })).toBeGreaterThanOrEqual(5);
});
test('VF attached', async () => {
  await describeCapability({ epic: 'SR-IOV', feature: 'SR-IOV', section: '10.1' });
  test.skip(true, 'no SR-IOV resources on the target');
});
`;

test.describe.configure({ mode: 'serial' });
test.describe('allure report generation', () => {
  test.beforeAll(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'fixture.spec.ts'), FIXTURE);
    writeFileSync(join(work, 'pw.config.ts'), `import { defineConfig } from '@playwright/test';
export default defineConfig({ testDir: '.', testMatch: 'fixture.spec.ts', outputDir: './pw-out', workers: 1,
  reporter: [['allure-playwright', { resultsDir: ${JSON.stringify(results)} }], [${JSON.stringify(join(ROOT, 'src/report/matrix-reporter.ts'))}, { outputDir: './out', quiet: true }]] });
`);
    // Strip the outer runner's worker env so the nested run is a clean one.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TEST_|PW_|PLAYWRIGHT_)/.test(k)));
    const r = spawnSync('npx', ['playwright', 'test', '--config', join(work, 'pw.config.ts')], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    // The fixture has a deliberate failure: exit code 1 is expected.
    if (r.status !== 1) throw new Error(`fixture run exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    writeAllureEnvironment({ target: 'fixture', kubernetesVersion: 'v1.31.0', nodeCount: 2, podNetworkMtu: 1450, cni: 'kvnet-sim' }, results);
  });
  test.afterAll(() => { if (!process.env.KVNET_KEEP_FIXTURE) rmSync(work, { recursive: true, force: true }); });

  test('fixture run produced Allure results and a matrix', () => {
    const m = JSON.parse(readFileSync(join(work, 'out', 'conformance-matrix.json'), 'utf8')) as { totals: Record<string, number> };
    expect(m.totals).toMatchObject({ passed: 1, failed: 1, skipped: 1 });
  });

  test('missing Java: a clear hint and a non-zero code, nothing generated', async () => {
    const r = await generateReport({ resultsDir: results, reportDir: join(work, 'nojava'), matrixHtml: join(work, 'out', 'conformance-matrix.html'), java: '/nonexistent/java' });
    expect(r.code).toBe(3);
    expect(r.message).toContain('apt-get install -y openjdk-17-jre-headless');
    expect(existsSync(join(work, 'nojava'))).toBe(false);
  });

  test('single-file report with carried history and the matrix next to it', async () => {
    test.skip(!hasJava, 'java is not installed (apt-get install -y openjdk-17-jre-headless)');
    test.setTimeout(180_000);
    const opts = { resultsDir: results, reportDir, matrixHtml: join(work, 'out', 'conformance-matrix.html'), log: () => {} };
    expect((await generateReport(opts)).code).toBe(0);
    expect((await generateReport(opts)).code).toBe(0);
    expect(existsSync(join(reportDir, 'index.html'))).toBe(true);
    expect(existsSync(join(reportDir, 'conformance-matrix.html'))).toBe(true);
    const trend = JSON.parse(readFileSync(join(reportDir, 'history', 'history-trend.json'), 'utf8')) as Array<{ buildOrder: number; data: { total: number } }>;
    expect(trend.map((t) => t.buildOrder)).toEqual([2, 1]);
    expect(trend[0].data.total).toBe(3);
  });

  test('report renders in chromium: feature, chart, environment, categories, embedded matrix', async () => {
    test.skip(!hasJava, 'java is not installed (apt-get install -y openjdk-17-jre-headless)');
    test.skip(!existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
    test.setTimeout(120_000);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const index = `file://${join(reportDir, 'index.html')}`;
      await page.goto(index);
      await expect(page.getByText('Pod network MTU')).toBeVisible();
      await expect(page.getByText('Measurement below threshold')).toBeVisible();
      await expect(page.getByText('Unsupported (skipped)')).toBeVisible();
      await page.screenshot({ path: join(work, '..', 'report-overview.png') });
      await page.goto(`${index}#behaviors`);
      const tree = page.locator('.tree__content').first();
      await tree.getByText('Pod network', { exact: true }).click();
      await tree.getByText('Masquerade binding', { exact: true }).click();
      await tree.getByText('masquerade VM reaches the pod network', { exact: true }).click();
      await tree.getByText('#1').first().click();
      await expect(page.getByText('seed 8.2.1')).toBeVisible();
      const row = page.locator('.attachment-row', { hasText: 'ICMP RTT.svg' });
      await row.click();
      const img = row.locator('xpath=following-sibling::*[1]').locator('img.attachment-preview__media');
      await expect(img).toBeVisible();
      const size = await img.evaluate((e) => [(e as HTMLImageElement).naturalWidth, (e as HTMLImageElement).naturalHeight]);
      expect(size).toEqual([640, 360]);
      await expect(page.getByText('Tear down')).toBeVisible();
      await page.screenshot({ path: join(work, '..', 'report-chart.png') });
    } finally {
      await browser.close();
    }
  });
});
