// Playwright reporter writing the conformance matrix (capability × checks ×
// result × key metrics) as reports/conformance-matrix.{json,html} plus a short
// stdout summary. Files are written in onEnd whatever the run status, so failed
// and interrupted (SIGINT) runs still leave a matrix behind.
import type { FullConfig, FullResult, Reporter, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { ConfigurationError } from './config-error.ts';
import { METRIC_ATTACHMENT, SEED_ANNOTATION, THRESHOLD_MARKER, type MetricRecord } from './constants.ts';

export type CheckStatus = 'passed' | 'failed' | 'flaky' | 'skipped' | 'notrun';
export type FailureKind = 'threshold' | 'infra' | 'product';

export interface MatrixCheck {
  title: string;
  file: string;
  line: number;
  seed: string[];
  status: CheckStatus;
  /** Skip reason, "interrupted", or the first lines of the error. */
  reason?: string;
  failureKind?: FailureKind;
  durationMs: number;
  retries: number;
  metrics: MetricRecord[];
}

export interface MatrixCapability {
  capability: string;
  epic?: string;
  seed: string[];
  status: CheckStatus;
  checks: MatrixCheck[];
}

export interface ConformanceMatrix {
  generatedAt: string;
  runStatus: FullResult['status'];
  totals: Record<CheckStatus, number>;
  capabilities: MatrixCapability[];
  /** Set when the run stopped on a configuration mistake before any test ran (src/report/config-error.ts). */
  configurationError?: ConfigurationError;
}

export interface MatrixReporterOptions {
  /** Directory for conformance-matrix.{json,html}; default "reports", relative to the config file's directory. */
  outputDir?: string;
  /** Suppress the stdout summary. */
  quiet?: boolean;
}

const ALLURE_MESSAGE = 'application/vnd.allure.message+json';
const INFRA_RE = /timeout|timed out|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|\bssh\b|handshake/i;

// Same split as the Allure categories, for the matrix's own column.
export function classifyFailure(message: string): FailureKind {
  if (message.includes(THRESHOLD_MARKER)) return 'threshold';
  if (INFRA_RE.test(message)) return 'infra';
  return 'product';
}

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');

interface Collected {
  test: TestCase;
  result: TestResult;
}

function attachmentBody(a: TestResult['attachments'][number]): string | undefined {
  try {
    if (a.body) return a.body.toString('utf8');
    if (a.path) return readFileSync(a.path, 'utf8');
  } catch {
    // A vanished attachment file only loses its metric, never the matrix.
  }
  return undefined;
}

function isMetric(v: unknown): v is MetricRecord {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return typeof o.metric === 'string' && typeof o.value === 'number' && typeof o.unit === 'string';
}

/** Labels set through allure-js-commons travel as runtime-message attachments; static ones as annotations. */
function allureLabels(test: TestCase, result: TestResult | undefined): Map<string, string> {
  const labels = new Map<string, string>();
  // Static annotations (capability() describes) come first, outer to inner; a runtime label wins.
  for (const a of [...test.annotations, ...(result?.annotations ?? [])]) {
    const m = /^@?allure\.label\.(\w+)$/.exec(a.type);
    if (m && a.description) labels.set(m[1], a.description);
  }
  for (const a of result?.attachments ?? []) {
    if (a.contentType !== ALLURE_MESSAGE) continue;
    const body = attachmentBody(a);
    if (!body) continue;
    try {
      const msg = JSON.parse(body) as { type?: string; data?: { labels?: Array<{ name?: string; value?: string }> } };
      if (msg.type !== 'metadata') continue;
      for (const l of msg.data?.labels ?? []) if (l.name && l.value) labels.set(l.name, l.value);
    } catch {
      // Not ours to validate.
    }
  }
  return labels;
}

export function specCapability(file: string): string {
  return basename(file).replace(/\.(spec|test)\.[cm]?[jt]sx?$/, '').replace(/\.[cm]?[jt]sx?$/, '');
}

function checkStatus(test: TestCase, result: TestResult | undefined): CheckStatus {
  if (!result || result.status === 'interrupted') return 'notrun';
  switch (test.outcome()) {
    case 'expected': return result.status === 'skipped' ? 'skipped' : 'passed';
    case 'flaky': return 'flaky';
    case 'skipped': return 'skipped';
    default: return 'failed';
  }
}

function aggregate(statuses: CheckStatus[]): CheckStatus {
  if (statuses.includes('failed')) return 'failed';
  if (statuses.includes('flaky')) return 'flaky';
  if (statuses.includes('passed')) return 'passed';
  if (statuses.includes('skipped')) return 'skipped';
  return 'notrun';
}

export function buildMatrix(entries: Array<{ test: TestCase; result?: TestResult }>, runStatus: FullResult['status'], rootDir: string): ConformanceMatrix {
  const byCap = new Map<string, MatrixCapability>();
  const totals: Record<CheckStatus, number> = { passed: 0, failed: 0, flaky: 0, skipped: 0, notrun: 0 };
  for (const { test, result } of entries) {
    const labels = allureLabels(test, result);
    const file = relative(rootDir, test.location.file) || test.location.file;
    const capability = labels.get('feature') ?? specCapability(test.location.file);
    const annotations = [...test.annotations, ...(result?.annotations ?? [])];
    const seed = [...new Set(annotations.filter((a) => a.type === SEED_ANNOTATION && a.description).map((a) => a.description as string))];
    if (seed.length === 0 && labels.get('seed')) seed.push(labels.get('seed') as string);
    const status = checkStatus(test, result);
    let reason: string | undefined;
    let failureKind: FailureKind | undefined;
    if (status === 'skipped') {
      reason = annotations.filter((a) => a.type === 'skip' || a.type === 'fixme').map((a) => a.description).find(Boolean) ?? 'skipped';
    } else if (status === 'notrun') {
      reason = result ? 'interrupted' : 'not run';
    } else if (status === 'failed' && result) {
      const msg = stripAnsi(result.errors.map((e) => e.message ?? e.value ?? '').join('\n') || (result.status === 'timedOut' ? 'timed out' : 'failed'));
      failureKind = result.status === 'timedOut' ? 'infra' : classifyFailure(msg);
      reason = msg.replace(/^Error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' · ');
    }
    const metrics: MetricRecord[] = [];
    for (const a of result?.attachments ?? []) {
      if (a.name !== METRIC_ATTACHMENT) continue;
      const body = attachmentBody(a);
      try {
        const v: unknown = body ? JSON.parse(body) : undefined;
        if (isMetric(v)) metrics.push(v);
      } catch {
        // Skip malformed metric.
      }
    }
    totals[status]++;
    let row = byCap.get(capability);
    if (!row) {
      row = { capability, seed: [], status: 'notrun', checks: [] };
      byCap.set(capability, row);
    }
    if (!row.epic && labels.get('epic')) row.epic = labels.get('epic');
    row.checks.push({
      title: test.title, file, line: test.location.line, seed, status,
      ...(reason ? { reason } : {}), ...(failureKind ? { failureKind } : {}),
      durationMs: result?.duration ?? 0, retries: result?.retry ?? 0, metrics,
    });
  }
  for (const row of byCap.values()) {
    row.status = aggregate(row.checks.map((c) => c.status));
    row.seed = [...new Set(row.checks.flatMap((c) => c.seed))].sort(compareSections);
  }
  const capabilities = [...byCap.values()].sort((a, b) => compareSections(a.seed[0] ?? '~', b.seed[0] ?? '~') || a.capability.localeCompare(b.capability));
  return { generatedAt: new Date().toISOString(), runStatus, totals, capabilities };
}

/** "8.2.10" after "8.2.9". */
function compareSections(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const d = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (d) return d;
  }
  return 0;
}

const h = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function formatMetric(m: MetricRecord): string {
  const v = Number.isInteger(m.value) ? String(m.value) : String(Number(m.value.toPrecision(4)));
  const t = m.threshold ? [m.threshold.min !== undefined ? `≥ ${m.threshold.min}` : '', m.threshold.max !== undefined ? `≤ ${m.threshold.max}` : ''].filter(Boolean).join(', ') : '';
  return `${m.metric} = ${v} ${m.unit}${t ? ` (${t})` : ''}`;
}

const LABEL: Record<CheckStatus, string> = { passed: 'PASS', failed: 'FAIL', flaky: 'FLAKY', skipped: 'SKIP', notrun: 'NOT RUN' };

export function renderMatrixHtml(m: ConformanceMatrix): string {
  const rows: string[] = [];
  for (const cap of m.capabilities) {
    cap.checks.forEach((c, i) => {
      const metrics = c.metrics.map((x) => `<li class="${x.pass === false ? 'miss' : ''}">${h(formatMetric(x))}</li>`).join('');
      rows.push(`<tr class="${c.status}">${i === 0
        ? `<td class="cap ${cap.status}" rowspan="${cap.checks.length}"><div class="capname">${h(cap.capability)}</div>${cap.epic ? `<div class="epic">${h(cap.epic)}</div>` : ''}<span class="badge ${cap.status}">${LABEL[cap.status]}</span></td>`
        : ''}<td class="seed">${h(c.seed.join(', ') || '—')}</td><td>${h(c.title)}<div class="loc">${h(`${c.file}:${c.line}`)}</div></td><td><span class="badge ${c.status}">${LABEL[c.status]}</span>${c.failureKind ? `<div class="kind">${h(c.failureKind)}</div>` : ''}</td><td>${metrics ? `<ul>${metrics}</ul>` : '<span class="none">—</span>'}</td><td class="reason">${h(c.reason ?? '')}</td></tr>`);
    });
  }
  const t = m.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>kvnet conformance matrix</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}.meta{color:#666;margin-bottom:12px}
.totals span{display:inline-block;margin-right:8px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{border:1px solid #ddd;padding:6px 8px;vertical-align:top;text-align:left}
th{background:#f0f0f0;font-weight:600}
td.cap{min-width:160px}.capname{font-weight:600}.epic{color:#666;font-size:12px;margin-bottom:4px}
.seed{white-space:nowrap;font-family:ui-monospace,monospace}
.loc{color:#888;font-size:11px;font-family:ui-monospace,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.badge.passed{background:#2e7d32}.badge.failed{background:#c62828}.badge.flaky{background:#ef6c00}.badge.skipped,.badge.notrun{background:#9e9e9e}
tr.passed td{background:#f1f8f1}tr.failed td{background:#fdecea}tr.flaky td{background:#fff4e5}tr.skipped td,tr.notrun td{background:#f4f4f4;color:#555}
td.cap.passed{background:#e3f1e3}td.cap.failed{background:#f9d6d2}td.cap.skipped,td.cap.notrun{background:#ececec}
ul{margin:0;padding-left:16px}li.miss{color:#c62828;font-weight:600}.kind{font-size:11px;color:#c62828;margin-top:2px}
.configerr{background:#fff4e5;border:1px solid #ef6c00;padding:8px 12px}
.reason{font-size:12px;max-width:420px;word-break:break-word}.none{color:#aaa}
</style></head><body>
<h1>kvnet conformance matrix</h1>
<div class="meta">run status: <b>${h(m.runStatus)}</b> · generated ${h(m.generatedAt)}</div>
${m.configurationError ? `<p class="configerr"><b>configuration error (${h(m.configurationError.kind)})</b>: ${h(m.configurationError.message)}<br>Nothing ran: fix the configuration and run again.</p>` : ''}
<div class="totals"><span class="badge passed">${t.passed} passed</span><span class="badge failed">${t.failed} failed</span><span class="badge flaky">${t.flaky} flaky</span><span class="badge skipped">${t.skipped} skipped</span><span class="badge notrun">${t.notrun} not run</span></div>
<p></p>
<table><thead><tr><th>Capability</th><th>Seed §</th><th>Check</th><th>Result</th><th>Key metrics</th><th>Reason / detail</th></tr></thead>
<tbody>
${rows.join('\n') || '<tr><td colspan="6" class="none">no tests</td></tr>'}
</tbody></table>
</body></html>
`;
}

export function renderMatrixText(m: ConformanceMatrix): string {
  const rows = m.capabilities.map((c) => {
    const n = (s: CheckStatus) => c.checks.filter((x) => x.status === s).length;
    const metrics = c.checks.flatMap((x) => x.metrics).slice(0, 2).map(formatMetric).join('; ');
    return [c.capability, c.seed.join(',') || '-', LABEL[c.status], `${n('passed') + n('flaky')}/${n('failed')}/${n('skipped') + n('notrun')}`, metrics];
  });
  const head = ['capability', 'seed', 'result', 'pass/fail/skip', 'key metrics'];
  const widths = head.map((hd, i) => Math.min(40, Math.max(hd.length, ...rows.map((r) => r[i].length))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : (c.length > widths[i] ? `${c.slice(0, widths[i] - 1)}…` : c.padEnd(widths[i])))).join('  ');
  const t = m.totals;
  return [`conformance matrix (${m.runStatus}): ${t.passed} passed, ${t.failed} failed, ${t.flaky} flaky, ${t.skipped} skipped, ${t.notrun} not run`,
    line(head), ...rows.map(line)].join('\n');
}

function writeAtomic(path: string, data: string): void {
  // Rename over the old file so a viewer never sees half a matrix.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function writeMatrix(m: ConformanceMatrix, outputDir: string): { json: string; html: string } {
  mkdirSync(outputDir, { recursive: true });
  const json = join(outputDir, 'conformance-matrix.json');
  const html = join(outputDir, 'conformance-matrix.html');
  writeAtomic(json, `${JSON.stringify(m, null, 2)}\n`);
  writeAtomic(html, renderMatrixHtml(m));
  return { json, html };
}

export default class MatrixReporter implements Reporter {
  private readonly outputDirOption: string;
  private outputDir: string;
  private readonly quiet: boolean;
  private rootDir = process.cwd();
  private suite: Suite | undefined;
  // Last result per test id: retries overwrite earlier attempts.
  private readonly results = new Map<string, Collected>();

  constructor(options: MatrixReporterOptions = {}) {
    this.outputDirOption = options.outputDir ?? 'reports';
    this.outputDir = resolve(this.outputDirOption);
    this.quiet = options.quiet ?? false;
  }

  onBegin(config: FullConfig, suite: Suite): void {
    this.rootDir = config.rootDir;
    // Like Playwright's own outputFile options: relative to the config file's directory.
    if (config.configFile) this.outputDir = resolve(dirname(config.configFile), this.outputDirOption);
    this.suite = suite;
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    this.results.set(test.id, { test, result });
  }

  onEnd(result: FullResult): void {
    try {
      const tests = this.suite?.allTests() ?? [...this.results.values()].map((c) => c.test);
      const entries = tests.map((test) => ({ test, result: this.results.get(test.id)?.result }));
      const matrix = buildMatrix(entries, result.status, this.rootDir);
      const { html } = writeMatrix(matrix, this.outputDir);
      if (!this.quiet) console.log(`\n${renderMatrixText(matrix)}\nmatrix: ${html}`);
    } catch (e) {
      // Never let the matrix break the run's own exit status.
      console.error(`kvnet matrix reporter: could not write the matrix: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  printsToStdio(): boolean {
    return false;
  }
}
