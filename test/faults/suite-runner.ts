// Runs conformance suites the way a user does (`npx playwright test`), against a given
// kubeconfig, and returns per-test outcomes from Playwright's JSON reporter.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface Outcome {
  title: string;
  status: 'passed' | 'failed' | 'timedOut' | 'skipped' | 'interrupted';
  message: string;
}

interface JsonSpec { title: string; tests: { results: { status: Outcome['status']; error?: { message?: string } }[] }[] }
interface JsonSuite { title: string; specs?: JsonSpec[]; suites?: JsonSuite[] }

function collect(s: JsonSuite, path: string[], out: Outcome[]): void {
  for (const spec of s.specs ?? []) {
    const r = spec.tests[0]?.results.at(-1);
    out.push({ title: [...path, spec.title].join(' › '), status: r?.status ?? 'skipped', message: stripAnsi(r?.error?.message ?? '') });
  }
  for (const child of s.suites ?? []) collect(child, [...path, child.title].filter(Boolean), out);
}

function stripAnsi(s: string): string {
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}

/** `target`: 'sim' reuses the sim behind `kubeconfig`; 'cluster' runs --project=cluster against it. */
export async function runSuites(id: string, files: string[], kubeconfig: string, target: 'sim' | 'cluster', extraEnv: Record<string, string> = {}, extraArgs: string[] = []): Promise<{ code: number | null; outcomes: Outcome[]; log: string }> {
  const dir = resolve('test-results', 'nested', id);
  mkdirSync(dir, { recursive: true });
  const json = resolve(dir, 'results.json');
  // PLAYWRIGHT_JSON_OUTPUT_NAME adds the JSON reporter to the config's own.
  const args = ['playwright', 'test', ...files, `--output=${resolve(dir, 'out')}`, ...(target === 'cluster' ? ['--project=cluster'] : []), ...extraArgs];
  const env: NodeJS.ProcessEnv = {
    ...process.env, KVNET_PROFILE: resolve('test/fixtures/profiles/fast.yaml'), KVNET_NO_REPORT: '1', KVNET_REPORT_DIR: resolve(dir, 'reports'),
    PLAYWRIGHT_JSON_OUTPUT_NAME: json, KVNET_RUN_ID: `nested-${id}`, ...extraEnv,
    ...(target === 'sim' ? { KVNET_SIM_KUBECONFIG: kubeconfig } : { KUBECONFIG: kubeconfig }),
  };
  delete env.KVNET_PROJECTS;
  delete env.TEST_WORKER_INDEX;
  delete env.TEST_PARALLEL_INDEX;
  const child = spawn('npx', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d));
  child.stderr.on('data', (d: Buffer) => (log += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  writeFileSync(resolve(dir, 'log.txt'), log);
  const outcomes: Outcome[] = [];
  try {
    collect(JSON.parse(readFileSync(json, 'utf8')) as JsonSuite, [], outcomes);
  } catch (e) {
    throw new Error(`nested playwright run ${id} wrote no JSON report (exit ${code}): ${(e as Error).message}\n${log.slice(-3000)}`);
  }
  return { code, outcomes, log };
}

export function find(outcomes: Outcome[], titlePart: string): Outcome {
  const o = outcomes.find((x) => x.title.includes(titlePart));
  if (!o) throw new Error(`no test titled like "${titlePart}" in: ${outcomes.map((x) => x.title).join(' | ')}`);
  return o;
}
