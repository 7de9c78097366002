// `npx playwright test`: the conformance suites, on the bundled sim (default) or, with
// `--project=cluster`, on the cluster KUBECONFIG names.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';
import type { TargetOptions } from './src/fixtures/test.ts';
import { requestedProjects, type ProjectName } from './src/fixtures/projects.ts';
import { ConfigError, exitWithConfigError } from './src/report/config-error.ts';
import { reportsDir } from './src/report/constants.ts';

const reports = reportsDir();
let projects: ProjectName[];
try {
  // Here, not in global setup: Playwright refuses an unknown --project (with a stack) before global setup runs.
  projects = requestedProjects();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  exitWithConfigError(e, resolve(fileURLToPath(new URL('.', import.meta.url)), reports));
}

export default defineConfig<TargetOptions>({
  testDir: 'suites',
  outputDir: 'test-results/suites',
  timeout: 300_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  // One spec at a time: ten runs with --workers=2 passed, but a concurrent spec skews the measured
  // checks (a NodePort overhead ratio of 2.3x against 2x under CI load); see docs/architecture.md §4.
  workers: 1,
  retries: 0,
  globalSetup: './src/fixtures/global-setup.ts',
  reporter: [
    ['list'],
    // Machine-readable results for tooling, when asked for.
    ...(process.env.PLAYWRIGHT_JSON_OUTPUT_NAME ? [['json'] as ['json']] : []),
    ['junit', { outputFile: `${reports}/junit.xml` }],
    ['allure-playwright', { resultsDir: `${reports}/allure-results` }],
    ['./src/report/matrix-reporter.ts', { outputDir: reports }],
    // Last: Playwright awaits reporters' onEnd in order, so the report sees every result.
    ['./src/report/generate-reporter.ts', {
      enabled: !process.env.KVNET_NO_REPORT,
      resultsDir: `${reports}/allure-results`, reportDir: `${reports}/allure-report`, matrixHtml: `${reports}/conformance-matrix.html`,
    }],
  ],
  projects: [
    { name: 'sim', use: { target: 'sim' } },
    ...(projects.includes('cluster') ? [{ name: 'cluster', use: { target: 'cluster' as const } }] : []),
  ],
});
