// A run told to stop, as CI cancellation, `timeout`, Ctrl-C and a closed terminal do it: the signal
// goes to the whole process group of `npx playwright test` (or of `kvnet sim up`) while VMs boot.
// Every report is written, nothing prints a stack trace, and the host is left as it was.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, test } from '@playwright/test';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { cmdline, leftIn, newTmpEntries, pidNamespace, processesIn, processGroup, processesWith, sandboxInit, tmpEntries } from './host-leftovers.ts';

test.describe.configure({ mode: 'serial' });

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** From the signal to the last process of the group gone, reports included (allure runs Java). */
const STOP_BOUND_MS = 90_000;
/** A frame of a stack trace, as Node prints one. */
const STACK_FRAME = /^\s+at (?:.+ \()?(?:file:\/\/|\/|node:).+:\d+(?::\d+)?\)?$/m;

interface Run { child: ChildProcess; output: () => string; exited: Promise<number | null> }

/** Started detached: a process group of its own, as `setsid` gives one, to signal as a whole. */
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  // 'close': every holder of the output pipes (the whole tree, not just npx) has exited.
  const exited = new Promise<number | null>((r) => child.on('close', (code, sig) => r(code ?? (sig ? 128 : null))));
  return { child, output: () => out, exited };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined> | T | undefined, run?: Run): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve(fn()).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${run ? `\n${run.output().slice(-3000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The command lines of `list()` once it is empty, or after 10 s of waiting for that. */
async function gone(list: () => number[]): Promise<string[]> {
  const end = Date.now() + 10_000;
  while (list().length && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  return list().map(cmdline);
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['KVNET_SIM_KUBECONFIG', 'KVNET_SIM_STATE', 'KVNET_NO_REPORT', 'KVNET_PROJECTS', 'PLAYWRIGHT_JSON_OUTPUT_NAME', 'TEST_WORKER_INDEX', 'TEST_PARALLEL_INDEX']) delete env[k];
  return env;
}

for (const sig of SIGNALS) {
  test(`${sig} to the process group of a running \`npx playwright test\` writes every report, stops the sim and leaves the host as it was`, async () => {
    test.setTimeout(300_000);
    const id = `sig-${sig.toLowerCase()}-${process.pid}-${Date.now().toString(36)}`;
    const dir = resolve('test-results', 'nested', id);
    const reports = resolve(dir, 'reports');
    const runDir = resolve('.kvnet', 'playwright', id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tmpBefore = tmpEntries();
    // The run's own temp files (Node's tmpdir, mktemp) go to a TMPDIR of its own, which must end
    // empty; what guests write to /tmp names the harness process (see newTmpEntries).
    const tmp = resolve(dir, 'tmp');
    mkdirSync(tmp);

    // One quick spec; its beforeAll boots four VMs, so the signal lands while VMs and guests exist.
    const run = start('npx', ['playwright', 'test', 'suites/headless-fqdn.spec.ts', `--output=${resolve(dir, 'out')}`], cleanEnv({
      KVNET_PROFILE: resolve('test/fixtures/profiles/fast.yaml'), KVNET_REPORT_DIR: reports, KVNET_RUN_ID: id, TMPDIR: tmp,
    }));
    const pgid = run.child.pid as number;
    const group = new Set<number>();
    const sample = setInterval(() => { for (const p of processGroup(pgid)) group.add(p); }, 500);
    try {
      // A test is running: its scope's first VMI is Running in the sim the run started.
      const kubeconfig = resolve(runDir, 'kubeconfig');
      await until('the run to start its sim', 120_000, () => (existsSync(kubeconfig) ? true : undefined), run);
      const kube = Kube.fromFile(kubeconfig);
      await until('a VMI of the spec to be Running', 120_000, async () => {
        const vmis = await kube.list<KObject & { status?: { phase?: string } }>('kubevirt.io/v1', 'VirtualMachineInstance');
        return vmis.some((v) => v.status?.phase === 'Running') || undefined;
      }, run);
      const init = sandboxInit(runDir);
      expect(init, 'the sandbox runs under tini').toBeDefined();
      const sandboxNs = pidNamespace(init as number);
      expect(processesIn(sandboxNs).length, 'sim, spawner and guest agents run in the sandbox').toBeGreaterThan(3);

      const t0 = Date.now();
      process.kill(-pgid, sig);
      const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_BOUND_MS))]);
      const out = run.output();
      expect(code, `the run ended within ${STOP_BOUND_MS} ms of ${sig}:\n${out.slice(-3000)}`).not.toBe('timeout');
      await until('the process group to be gone', 10_000, () => (groupAlive(pgid) ? undefined : true), run);
      const stopMs = Date.now() - t0;

      expect(out, 'the run was interrupted, not finished').toMatch(/interrupted|did not run/);
      expect(out, 'no stack trace').not.toMatch(STACK_FRAME);
      expect(out).not.toContain('EPIPE');
      for (const f of ['junit.xml', 'conformance-matrix.json', 'conformance-matrix.html', 'allure-report/index.html']) {
        expect(existsSync(resolve(reports, f)), `reports/${f} written`).toBe(true);
      }
      expect(existsSync(runDir), `${runDir} (kubeconfig, sim.json with the token and TLS key) removed`).toBe(false);
      // The kernel kills the rest of a pid namespace as its pid 1 exits, after pid 1 has closed its
      // files (our pipe): give the dying a moment to be reaped.
      expect(await gone(() => processesIn(sandboxNs)), 'no process left in the sandbox').toEqual([]);
      expect(await gone(() => processesWith(runDir)), 'no process of the sim left on the host').toEqual([]);
      expect(await newTmpEntries(tmpBefore, group), 'nothing new in the host /tmp').toEqual([]);
      expect(leftIn(tmp), 'nothing left in the run\'s TMPDIR').toEqual([]);
      test.info().annotations.push({ type: 'stop', description: `${sig}: exit ${code} after ${stopMs} ms` });
    } finally {
      clearInterval(sample);
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    }
  });
}

for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
  test(`\`kvnet sim up\` stops in order on ${sig} to its process group, as on Ctrl-C`, async () => {
    const dir = resolve('test-results', `sim-signal-${sig.toLowerCase()}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const run = start(process.execPath, ['bin/kvnet.js', 'sim', 'up', '--kubeconfig', resolve(dir, 'kubeconfig')], cleanEnv({}));
    const pgid = run.child.pid as number;
    try {
      await new Promise<void>((res, rej) => {
        createInterface({ input: run.child.stdout! }).on('line', (l) => { if (l.startsWith('kvnet sim ready ')) res(); });
        void run.exited.then((c) => rej(new Error(`kvnet sim up exited with ${c} before it was ready:\n${run.output()}`)));
      });
      const sandboxNs = pidNamespace(sandboxInit(resolve(dir, 'run')) as number);
      expect(sandboxNs).not.toBe('');
      process.kill(-pgid, sig);
      expect(await run.exited).toBe(0);
      expect(run.output()).not.toMatch(STACK_FRAME);
      expect(readdirSync(resolve(dir, 'run')), 'the state dir is removed').toEqual([]);
      expect(await gone(() => processesIn(sandboxNs))).toEqual([]);
    } finally {
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    }
  });
}
