// A configuration mistake (profile, kubeconfig, unreachable API, project name, missing sim tools) stops a run before
// anything starts. It is printed once, without a stack, exits with its own code, and replaces the
// run's reports with a record of itself, so `kvnet gate` reports configuration, never last night's
// results and never a product failure. Light enough for the Playwright config to load.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMatrixHtml, type ConformanceMatrix } from './matrix-reporter.ts';

export const CONFIG_ERROR_KINDS = ['profile', 'kubeconfig', 'unreachable', 'project', 'tools'] as const;
export type ConfigErrorKind = (typeof CONFIG_ERROR_KINDS)[number];

/** Exit codes of `npx playwright test` and of `kvnet gate` (0 pass, 1 test failures, 2 usage). */
export const CONFIG_EXIT_CODES: Record<ConfigErrorKind, number> = { profile: 3, kubeconfig: 4, unreachable: 5, project: 6, tools: 7 };

/** What the matrix carries instead of results. */
export interface ConfigurationError {
  kind: ConfigErrorKind;
  exitCode: number;
  message: string;
}

/** Thrown by the validators; `message` is the whole user-facing sentence, fix included. */
export class ConfigError extends Error {
  constructor(readonly kind: ConfigErrorKind, message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function configErrorMatrix(e: ConfigError): ConformanceMatrix {
  return {
    generatedAt: new Date().toISOString(),
    runStatus: 'failed',
    totals: { passed: 0, failed: 0, flaky: 0, skipped: 0, notrun: 0 },
    capabilities: [],
    configurationError: { kind: e.kind, exitCode: CONFIG_EXIT_CODES[e.kind], message: e.message },
  };
}

const x = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Overwrites the matrix (json, html) and JUnit of the last run with this error. */
export function recordConfigError(reportsDir: string, e: ConfigError): void {
  mkdirSync(reportsDir, { recursive: true });
  const m = configErrorMatrix(e);
  writeAtomic(join(reportsDir, 'conformance-matrix.json'), `${JSON.stringify(m, null, 2)}\n`);
  writeAtomic(join(reportsDir, 'conformance-matrix.html'), renderMatrixHtml(m));
  // A JUnit <error> (not <failure>): CI shows a broken setup, not a failed test.
  writeAtomic(join(reportsDir, 'junit.xml'), `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="kvnet" tests="1" failures="0" errors="1">
  <testsuite name="configuration" tests="1" failures="0" errors="1">
    <testcase classname="configuration" name="${e.kind}">
      <error type="configuration" message="${x(e.message)}">${x(e.message)}</error>
    </testcase>
  </testsuite>
</testsuites>
`);
}

/** Prints the error as one line and ends the process with its code; records it when `reportsDir` is given. */
export function exitWithConfigError(e: ConfigError, reportsDir?: string): never {
  if (reportsDir) {
    try {
      recordConfigError(reportsDir, e);
    } catch (w) {
      process.stderr.write(`kvnet: could not record the configuration error in ${reportsDir}: ${(w as Error).message}\n`);
    }
  }
  process.stderr.write(`kvnet: configuration error (${e.kind}): ${e.message}\n`);
  process.exit(CONFIG_EXIT_CODES[e.kind]);
}
