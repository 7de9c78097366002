// Fault matrices: one sim per file, a healthy baseline, then one nested suite run per fault that
// must fail EXACTLY the listed tests. Nested runs share a run id, SSH key and kept scopes, so each
// run adopts the VMs the previous one booted (a fault run costs about one boot, not a topology).
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { generateKeyPair, writeKeyPair } from '../../src/guest/keys.ts';
import { Kube } from '../../src/kube/client.ts';
import { cleanupRun, EXPECTED_FAILURES_ENV, KEEP_RUN_ENV, KEEP_SCOPES_ENV, SSH_KEY_ENV } from '../../src/fixtures/lab.ts';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import type { FaultName, FaultSpec } from '../../src/sim/faults.ts';
import { startSim, type SimHandle, type StartSimOptions } from '../../src/sim/up.ts';
import { runSuites, type Outcome } from './suite-runner.ts';

export interface FaultCase {
  fault: string;
  spec?: Record<string, unknown>;
  title?: string;
  /** The exact set of failing tests: each a unique substring of a full test title. */
  fail: string[];
  /** The suites this case runs, when the fault cannot reach the others (default: all of the matrix's). */
  suites?: string[];
  /** Only the tests matching this (Playwright --grep), when the fault's effect on the others is not deterministic. */
  grep?: string;
  /** Leave out the tests matching this (Playwright --grep-invert). */
  grepInvert?: string;
  /** Failing-test substring → pattern its error message must match. */
  messages?: Record<string, RegExp>;
  /** Run under a run id of its own, so the VMs boot under the fault (for faults that act only on VMs started while set). */
  fresh?: boolean;
}

const FAILED: ReadonlySet<Outcome['status']> = new Set(['failed', 'timedOut', 'interrupted']);

/** The one outcome `part` names; throws when none or several match (the matrix would be ambiguous). */
export function resolveEntry(outcomes: Outcome[], part: string): Outcome {
  const hits = outcomes.filter((o) => o.title.includes(part));
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) throw new Error(`fault matrix: no test title contains "${part}"; titles: ${outcomes.map((o) => o.title).join(' | ')}`);
  throw new Error(`fault matrix: "${part}" is not unique, it matches: ${hits.map((o) => o.title).join(' | ')}`);
}

/** Differences between the failed set and the expected one, as readable lines (empty = exact match). */
export function failedSetDiff(outcomes: Outcome[], c: Pick<FaultCase, 'fail' | 'messages'>): string[] {
  const expected = new Map(c.fail.map((part) => [part, resolveEntry(outcomes, part)]));
  const expectedTitles = new Set([...expected.values()].map((o) => o.title));
  const lines: string[] = [];
  for (const [part, o] of expected) {
    if (!FAILED.has(o.status)) lines.push(`missing failure: "${part}" → ${o.title} was ${o.status}`);
  }
  for (const o of outcomes) {
    if (FAILED.has(o.status) && !expectedTitles.has(o.title)) lines.push(`unexpected failure: ${o.title}: ${firstLines(o.message)}`);
  }
  for (const [part, re] of Object.entries(c.messages ?? {})) {
    const o = resolveEntry(outcomes, part);
    if (FAILED.has(o.status) && !re.test(o.message)) lines.push(`wrong message: "${part}" → ${o.title}: expected ${re}, got: ${firstLines(o.message)}`);
  }
  return lines;
}

function firstLines(m: string): string {
  return m.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' · ') || '(no message)';
}

function defaultTitle(c: FaultCase): string {
  const spec = c.spec && Object.keys(c.spec).length ? ` ${JSON.stringify(c.spec)}` : '';
  return c.fail.length ? `"${c.fault}"${spec} fails exactly: ${c.fail.join(' | ')}` : `"${c.fault}"${spec} fails nothing`;
}

/** What a matrix file may use beside its cases: the sim, once beforeAll has started it. */
export interface FaultMatrixHandle { sim(): SimHandle }

/**
 * `config`: a Playwright config other than the suites' (self-tests of fixture specs).
 * `setup`: runs once against the started sim, before the baseline (cluster settings the faults need, as a user would set them).
 */
export function faultMatrix(o: { suites: string[]; sim?: StartSimOptions['settings']; cases: FaultCase[]; grep?: string; config?: string; setup?: (kube: Kube) => Promise<void> }): FaultMatrixHandle {
  test.describe.configure({ mode: 'serial', timeout: 900_000 });
  const id = o.suites.map((s) => s.replace(/^.*\/|\.spec\.ts$/g, '')).join('+');
  // Short: the sim's unix sockets live below it, and a socket path has at most 107 bytes.
  const dir = resolve('test-results', 'fault-matrix', createHash('sha1').update(id).digest('hex').slice(0, 8));
  const runId = `matrix-${id.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-${Date.now().toString(36)}`;
  let sim: SimHandle | undefined;
  let env: Record<string, string> = {};

  test.beforeAll(async () => {
    test.setTimeout(300_000);
    sim = await startSim({ settings: { mtu: 9000, ...o.sim }, kubeconfig: resolve(dir, 'kubeconfig') });
    const keys = writeKeyPair(resolve(dir, 'keys'), generateKeyPair(`kvnet-${runId}`));
    env = { KVNET_RUN_ID: runId, [SSH_KEY_ENV]: keys.privateKeyPath, [KEEP_SCOPES_ENV]: '1', [KEEP_RUN_ENV]: '1' };
    await o.setup?.(Kube.fromFile(sim.kubeconfig));
  });

  test.afterAll(async () => {
    if (sim) await cleanupRun(Kube.fromFile(sim.kubeconfig), runId).catch(() => undefined);
    await sim?.stop();
    rmSync(resolve(dir, 'keys'), { recursive: true, force: true });
  });

  const args = (grep = o.grep, invert?: string) => [...(grep ? ['--grep', grep] : []), ...(invert ? ['--grep-invert', invert] : []), ...(o.config ? ['-c', o.config] : [])];
  // Expected failures keep their worker (and its adopted VMs); an unexpected outcome still replaces it.
  // `fresh`: a run id of its own, so the VMs boot under the fault.
  const run = (name: string, fail: string[] = [], fresh = false, suites = o.suites, grep?: string, invert?: string) => runSuites(`${id}-${name}`, suites, (sim as SimHandle).kubeconfig, 'sim',
    { ...env, [EXPECTED_FAILURES_ENV]: JSON.stringify(fail), ...(fresh ? { KVNET_RUN_ID: `${runId}-${name}` } : {}) }, args(grep, invert));

  test('the suites pass on the healthy sim (the baseline the faults break)', async () => {
    const { code, outcomes } = await run('healthy');
    expect(outcomes.filter((x) => FAILED.has(x.status)).map((x) => `${x.title}: ${firstLines(x.message)}`)).toEqual([]);
    expect(outcomes.length, 'the suites declare tests').toBeGreaterThan(0);
    expect(code).toBe(0);
  });

  for (const [i, c] of o.cases.entries()) {
    test(c.title ?? defaultTitle(c), async () => {
      const admin = new SimAdmin((sim as SimHandle).stateDir);
      await admin.inject(c.fault as FaultName, (c.spec ?? {}) as FaultSpec);
      let outcomes: Outcome[];
      try {
        // The case's position keeps two cases of one fault in directories (and run ids) of their own.
        ({ outcomes } = await run(`${i + 1}-${c.fault}`, c.fail, c.fresh, c.suites, c.grep, c.grepInvert));
      } finally {
        await admin.clear(c.fault as FaultName);
      }
      const diff = failedSetDiff(outcomes, c);
      expect(diff, `under "${c.fault}" the failed set differs from the expected one:\n${diff.join('\n')}`).toEqual([]);
    });
  }
  return {
    sim: () => {
      if (!sim) throw new Error('faultMatrix: the sim is not started (its beforeAll failed)');
      return sim;
    },
  };
}
