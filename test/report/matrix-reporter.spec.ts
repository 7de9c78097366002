import { expect, test } from '@playwright/test';
import type { FullConfig, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MatrixReporter, { classifyFailure, type ConformanceMatrix } from '../../src/report/matrix-reporter.ts';

type Outcome = ReturnType<TestCase['outcome']>;
type Annotation = TestCase['annotations'][number];

function fakeTest(id: string, title: string, file: string, outcome: Outcome, annotations: Annotation[] = []): TestCase {
  return { id, title, location: { file, line: 10, column: 1 }, annotations, outcome: () => outcome } as unknown as TestCase;
}

function fakeResult(status: TestResult['status'], opts: { error?: string; attachments?: TestResult['attachments']; annotations?: Annotation[]; retry?: number } = {}): TestResult {
  return {
    status, duration: 1234, retry: opts.retry ?? 0,
    errors: opts.error ? [{ message: opts.error }] : [],
    attachments: opts.attachments ?? [], annotations: opts.annotations ?? [],
  } as unknown as TestResult;
}

const json = (name: string, v: unknown, contentType = 'application/json') => ({ name, contentType, body: Buffer.from(JSON.stringify(v)) });
const allureFeature = (feature: string, epic: string) => json('Allure Metadata (metadata)', { type: 'metadata', data: { labels: [{ name: 'epic', value: epic }, { name: 'feature', value: feature }] } }, 'application/vnd.allure.message+json');

test.describe('matrix reporter', () => {
  let dir: string;
  test.beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvnet-matrix-')); });
  test.afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function drive(runStatus: 'passed' | 'failed' | 'interrupted') {
    const root = '/repo';
    const t1 = fakeTest('1', 'VM reaches pod network', '/repo/suites/masquerade.spec.ts', 'expected');
    const t2 = fakeTest('2', 'RTT within budget', '/repo/suites/masquerade.spec.ts', 'unexpected');
    const t3 = fakeTest('3', 'VF attached', '/repo/suites/sriov.spec.ts', 'skipped');
    const t4 = fakeTest('4', 'static IP on bridge', '/repo/suites/bridge-binding.spec.ts', 'flaky');
    const t5 = fakeTest('5', 'never ran', '/repo/suites/bridge-binding.spec.ts', 'skipped');
    const suite = { allTests: () => [t1, t2, t3, t4, t5] } as unknown as Suite;
    const logs: string[] = [];
    const orig = console.log;
    console.log = (...a: unknown[]) => { logs.push(a.join(' ')); };
    try {
      const r = new MatrixReporter({ outputDir: 'matrix-out' });
      r.onBegin({ rootDir: root, configFile: join(dir, 'playwright.config.ts') } as unknown as FullConfig, suite);
      r.onTestEnd(t1, fakeResult('passed', {
        annotations: [{ type: 'seed', description: '8.2.1' }],
        attachments: [allureFeature('Masquerade binding', 'Pod network'), json('kvnet-metric', { capability: 'Masquerade binding', metric: 'connect time', value: 0.8123, unit: 's' })],
      }));
      r.onTestEnd(t2, fakeResult('failed', {
        error: '\u001b[31mError: [threshold] rtt p99 = 9 ms, expected <= 5 ms\u001b[39m\n\nexpect(received).toBeLessThanOrEqual(expected)',
        annotations: [{ type: 'seed', description: '8.2.2' }],
        attachments: [allureFeature('Masquerade binding', 'Pod network'), json('kvnet-metric', { capability: 'Masquerade binding', metric: 'rtt p99', value: 9, unit: 'ms', threshold: { max: 5 }, pass: false })],
      }));
      r.onTestEnd(t3, fakeResult('skipped', { annotations: [{ type: 'seed', description: '10.1' }, { type: 'skip', description: 'no SR-IOV resources on the target' }] }));
      r.onTestEnd(t4, fakeResult('failed', { error: 'Error: read ECONNRESET' }));
      r.onTestEnd(t4, fakeResult('passed', { retry: 1, annotations: [{ type: 'seed', description: '9.1.2' }] }));
      r.onEnd({ status: runStatus, startTime: new Date(), duration: 1 });
    } finally {
      console.log = orig;
    }
    return { logs, outDir: join(dir, 'matrix-out') };
  }

  test('writes JSON and HTML with capability, seed, status, reasons and metrics', () => {
    const { logs, outDir } = drive('failed');
    const m = JSON.parse(readFileSync(join(outDir, 'conformance-matrix.json'), 'utf8')) as ConformanceMatrix;
    expect(m.runStatus).toBe('failed');
    expect(m.totals).toEqual({ passed: 1, failed: 1, flaky: 1, skipped: 1, notrun: 1 });
    expect(m.capabilities.map((c) => [c.capability, c.status, c.seed])).toEqual([
      ['Masquerade binding', 'failed', ['8.2.1', '8.2.2']],
      ['bridge-binding', 'flaky', ['9.1.2']],
      ['sriov', 'skipped', ['10.1']],
    ]);
    const masq = m.capabilities[0];
    expect(masq.epic).toBe('Pod network');
    expect(masq.checks[0]).toMatchObject({ title: 'VM reaches pod network', file: 'suites/masquerade.spec.ts', status: 'passed', metrics: [{ metric: 'connect time', value: 0.8123 }] });
    expect(masq.checks[1]).toMatchObject({ status: 'failed', failureKind: 'threshold', reason: '[threshold] rtt p99 = 9 ms, expected <= 5 ms · expect(received).toBeLessThanOrEqual(expected)' });
    expect(m.capabilities[1].checks.map((c) => [c.status, c.retries, c.reason])).toEqual([['flaky', 1, undefined], ['notrun', 0, 'not run']]);
    expect(m.capabilities[2].checks[0].reason).toBe('no SR-IOV resources on the target');

    const html = readFileSync(join(outDir, 'conformance-matrix.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|src="http/); // self-contained
    expect(html).toContain('<td class="cap failed" rowspan="2">');
    expect(html).toContain('rtt p99 = 9 ms (≤ 5)');
    expect(html).toContain('<li class="miss">');
    expect(html).toContain('connect time = 0.8123 s');
    expect(html).toContain('no SR-IOV resources on the target');
    expect(html).toContain('<span class="badge skipped">SKIP</span>');

    const out = logs.join('\n');
    expect(out).toContain('conformance matrix (failed): 1 passed, 1 failed, 1 flaky, 1 skipped, 1 not run');
    expect(out).toMatch(/Masquerade binding\s+8\.2\.1,8\.2\.2\s+FAIL\s+1\/1\/0/);
  });

  test('still writes the matrix for an interrupted run', () => {
    const { outDir } = drive('interrupted');
    const m = JSON.parse(readFileSync(join(outDir, 'conformance-matrix.json'), 'utf8')) as ConformanceMatrix;
    expect(m.runStatus).toBe('interrupted');
    expect(readFileSync(join(outDir, 'conformance-matrix.html'), 'utf8')).toContain('run status: <b>interrupted</b>');
  });

  test('static capability annotations file skipped and never-run tests under their feature and seed', () => {
    const statics: Annotation[] = [
      { type: '@allure.label.epic', description: 'Secondary networks' }, { type: '@allure.label.feature', description: 'Linux bridge' },
      { type: 'seed', description: '8.5' }, { type: 'kvnet.requires', description: '{"count":2,"kind":"nodes"}' },
    ];
    const skipped = fakeTest('s', 'VLAN isolates', '/repo/suites/linux-bridge.spec.ts', 'skipped', statics);
    const never = fakeTest('n', 'MAC spoofing is dropped', '/repo/suites/linux-bridge.spec.ts', 'skipped', statics);
    const r = new MatrixReporter({ outputDir: 'matrix-static', quiet: true });
    r.onBegin({ rootDir: '/repo', configFile: join(dir, 'playwright.config.ts') } as unknown as FullConfig, { allTests: () => [skipped, never] } as unknown as Suite);
    r.onTestEnd(skipped, fakeResult('skipped', { annotations: [{ type: 'skip', description: 'needs 2 schedulable nodes, the target has 1' }] }));
    r.onEnd({ status: 'interrupted', startTime: new Date(), duration: 1 });
    const m = JSON.parse(readFileSync(join(dir, 'matrix-static', 'conformance-matrix.json'), 'utf8')) as ConformanceMatrix;
    expect(m.capabilities).toHaveLength(1);
    expect(m.capabilities[0]).toMatchObject({ capability: 'Linux bridge', epic: 'Secondary networks', seed: ['8.5'], status: 'skipped' });
    expect(m.capabilities[0].checks.map((c) => [c.title, c.status, c.seed, c.reason])).toEqual([
      ['VLAN isolates', 'skipped', ['8.5'], 'needs 2 schedulable nodes, the target has 1'],
      ['MAC spoofing is dropped', 'notrun', ['8.5'], 'not run'],
    ]);
  });

  test('failure classification matches the Allure categories', () => {
    expect(classifyFailure('[threshold] loss 3%')).toBe('threshold');
    expect(classifyFailure('Test timeout of 30000ms exceeded.')).toBe('infra');
    expect(classifyFailure('ssh: unable to authenticate')).toBe('infra');
    expect(classifyFailure('expected 2 endpoints, got 1')).toBe('product');
  });
});
