// `kvnet gate`: the nightly CI decision from a run's conformance matrix. Exit 0 when every
// required capability passed; 1 otherwise, listing what failed and why; 2 for a usage mistake or
// a file that is not a matrix; 3-7 when the run stopped on a configuration mistake (config-error.ts).
import { readFileSync } from 'node:fs';
import { CONFIG_ERROR_KINDS, CONFIG_EXIT_CODES, type ConfigErrorKind } from './config-error.ts';
import type { ConformanceMatrix } from './matrix-reporter.ts';

export const GATE_USAGE = `usage: kvnet gate [--matrix FILE] [--require CAPABILITY ...] [--no-skips] [--allow-thresholds]
  reads reports/conformance-matrix.json (default) and fails when a capability failed;
  --require: also fail unless every check of that capability passed (not run or skipped fails it)
  --no-skips: fail on any skipped check
  --allow-thresholds: measurements below threshold warn instead of failing
exit: 0 passed, 1 failed, 2 usage or not a matrix, 3-7 the run stopped on a configuration error
  (3 profile, 4 kubeconfig, 5 API server unreachable, 6 project, 7 sim tools missing), whatever the flags`;

export interface GateOptions {
  matrix: string;
  require: string[];
  noSkips: boolean;
  allowThresholds: boolean;
}

export function evaluateGate(m: ConformanceMatrix, o: GateOptions): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  for (const cap of m.capabilities) {
    for (const c of cap.checks) {
      const bad = c.status === 'failed' && !(o.allowThresholds && c.failureKind === 'threshold');
      const skipped = c.status === 'skipped' || c.status === 'notrun';
      if (bad || (o.noSkips && skipped)) {
        ok = false;
        lines.push(`FAIL ${cap.capability} [${c.seed.join(',')}] ${c.title}: ${c.reason ?? c.status}`);
      } else if (c.status === 'failed') {
        lines.push(`WARN ${cap.capability} ${c.title}: ${c.reason ?? ''}`);
      }
    }
  }
  for (const r of o.require) {
    const cap = m.capabilities.find((c) => c.capability === r);
    // A required capability passes only whole: each check passed (a forgiven threshold miss counts).
    const notPassed = cap?.checks.filter((c) => c.status !== 'passed' && c.status !== 'flaky' && !(o.allowThresholds && c.status === 'failed' && c.failureKind === 'threshold')) ?? [];
    if (!cap || !cap.checks.length || notPassed.length) {
      ok = false;
      const why = !cap ? 'is not in the matrix' : !cap.checks.length ? 'has no checks'
        : `did not pass ${notPassed.length} of ${cap.checks.length} checks: ${notPassed.map((c) => `${c.title} (${c.status})`).join('; ')}`;
      lines.push(`FAIL required capability "${r}" ${why}`);
    }
  }
  if (m.runStatus !== 'passed' && m.runStatus !== 'failed') {
    ok = false;
    lines.push(`FAIL the run ended "${m.runStatus}"`);
  } else if (m.runStatus === 'failed' && m.totals.failed === 0) {
    // Failed with no failed check: global setup (a sim that did not start), a worker or teardown broke.
    ok = false;
    lines.push('FAIL the run failed outside any check (global setup, teardown or a worker); see its log');
  }
  lines.push(`${ok ? 'gate passed' : 'gate failed'}: ${m.totals.passed} passed, ${m.totals.failed} failed, ${m.totals.skipped} skipped`);
  return { ok, lines };
}

export function runGate(args: string[]): number {
  const o: GateOptions = { matrix: 'reports/conformance-matrix.json', require: [], noSkips: false, allowThresholds: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--matrix') o.matrix = args[++i];
    else if (a === '--require') o.require.push(args[++i]);
    else if (a === '--no-skips') o.noSkips = true;
    else if (a === '--allow-thresholds') o.allowThresholds = true;
    else { console.error(`kvnet gate: unknown argument "${a}"\n${GATE_USAGE}`); return 2; }
    if (args[i] === undefined) { console.error(`kvnet gate: ${a} needs a value\n${GATE_USAGE}`); return 2; }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(o.matrix, 'utf8'));
  } catch (e) {
    const why = e instanceof SyntaxError ? 'not JSON' : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    console.error(`kvnet gate: cannot read ${o.matrix} (${why}); run \`npx playwright test\` first`);
    return 2;
  }
  const wrong = matrixProblem(doc);
  if (wrong) {
    console.error(`kvnet gate: ${o.matrix} is not a conformance matrix (${wrong}); point --matrix at the conformance-matrix.json a run wrote`);
    return 2;
  }
  const m = doc as ConformanceMatrix;
  if (m.configurationError) {
    // Nothing ran: neither a pass nor a product failure, whatever --allow-thresholds says.
    console.log(`configuration error: ${m.configurationError.message}`);
    console.log(`gate: the run stopped on a configuration mistake (${m.configurationError.kind}) before any test ran; fix it and run again`);
    return CONFIG_EXIT_CODES[m.configurationError.kind];
  }
  const { ok, lines } = evaluateGate(m, o);
  for (const l of lines) console.log(l);
  return ok ? 0 : 1;
}

const STATUSES = new Set(['passed', 'failed', 'flaky', 'skipped', 'notrun']);
const RUN_STATUSES = new Set(['passed', 'failed', 'timedout', 'interrupted']);

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** What makes `doc` not a matrix the reporter (or a configuration error) wrote; undefined when it is one. */
export function matrixProblem(doc: unknown): string | undefined {
  if (!isObject(doc)) return `the top level is ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}, not an object`;
  if (typeof doc.runStatus !== 'string' || !RUN_STATUSES.has(doc.runStatus)) return `"runStatus" must be one of ${[...RUN_STATUSES].join(', ')}`;
  if (!isObject(doc.totals) || [...STATUSES].some((s) => typeof (doc.totals as Record<string, unknown>)[s] !== 'number')) return `"totals" must count ${[...STATUSES].join(', ')}`;
  if (!Array.isArray(doc.capabilities)) return '"capabilities" must be an array';
  for (const [i, cap] of doc.capabilities.entries()) {
    if (!isObject(cap) || typeof cap.capability !== 'string' || !Array.isArray(cap.checks)) return `capabilities[${i}] needs "capability" and "checks"`;
    for (const [j, c] of cap.checks.entries()) {
      if (!isObject(c) || typeof c.title !== 'string' || typeof c.status !== 'string' || !STATUSES.has(c.status) || !Array.isArray(c.seed)) {
        return `capabilities[${i}].checks[${j}] needs "title", "seed" and a "status" of ${[...STATUSES].join(', ')}`;
      }
    }
  }
  if (doc.configurationError !== undefined) {
    const ce = doc.configurationError;
    if (!isObject(ce) || !CONFIG_ERROR_KINDS.includes(ce.kind as ConfigErrorKind) || typeof ce.message !== 'string') return `"configurationError" needs a "kind" of ${CONFIG_ERROR_KINDS.join(', ')} and a "message"`;
  }
  return undefined;
}
