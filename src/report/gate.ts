// `kvnet gate`: the nightly CI decision from a run's conformance matrix. Exit 0 when every
// required capability passed; 1 otherwise, listing what failed and why.
import { readFileSync } from 'node:fs';
import type { ConformanceMatrix } from './matrix-reporter.ts';

export const GATE_USAGE = `usage: kvnet gate [--matrix FILE] [--require CAPABILITY ...] [--no-skips] [--allow-thresholds]
  reads reports/conformance-matrix.json (default) and fails when a capability failed;
  --require: also fail when that capability did not run or was skipped
  --no-skips: fail on any skipped check
  --allow-thresholds: measurements below threshold warn instead of failing`;

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
    if (!cap || cap.checks.every((c) => c.status !== 'passed')) {
      ok = false;
      lines.push(`FAIL required capability "${r}" ${cap ? 'did not pass any check' : 'is not in the matrix'}`);
    }
  }
  if (m.runStatus !== 'passed' && m.runStatus !== 'failed') {
    ok = false;
    lines.push(`FAIL the run ended "${m.runStatus}"`);
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
  let m: ConformanceMatrix;
  try {
    m = JSON.parse(readFileSync(o.matrix, 'utf8')) as ConformanceMatrix;
  } catch (e) {
    console.error(`kvnet gate: cannot read ${o.matrix} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run \`npx playwright test\` first`);
    return 2;
  }
  const { ok, lines } = evaluateGate(m, o);
  for (const l of lines) console.log(l);
  return ok ? 0 : 1;
}
