// A Playwright reporter that builds the Allure report at the end of the run.
// List it LAST in `reporter`: Playwright calls onEnd of each reporter in order
// and awaits it, so allure-playwright has flushed its results and the matrix
// reporter has written conformance-matrix.html by then. (globalTeardown runs
// before reporters' onEnd, so it would miss both.) Never fails the run.
import type { FullResult, Reporter } from '@playwright/test/reporter';
import { resolve } from 'node:path';
import { generateReportQuietly, type GenerateOptions } from './generate.ts';

export interface GenerateReporterOptions extends Omit<GenerateOptions, 'log'> {
  /** Set false to skip generation (e.g. KVNET_NO_REPORT=1 in the config). */
  enabled?: boolean;
}

export default class AllureGenerateReporter implements Reporter {
  private readonly opts: GenerateReporterOptions;

  constructor(opts: GenerateReporterOptions = {}) {
    this.opts = opts;
  }

  async onEnd(_result: FullResult): Promise<void> {
    if (this.opts.enabled === false) return;
    // Relative paths resolve against cwd, as allure-playwright's resultsDir does.
    const r = (p: string | undefined) => (p ? resolve(p) : undefined);
    await generateReportQuietly({
      ...this.opts,
      resultsDir: r(this.opts.resultsDir),
      reportDir: r(this.opts.reportDir),
      matrixHtml: r(this.opts.matrixHtml),
    });
  }

  printsToStdio(): boolean {
    return false;
  }
}
