// A configuration mistake stops `npx playwright test` before the sim starts or any spec runs: one
// line naming the fix, no stack trace, its own exit code, and `kvnet gate` then says
// "configuration error" instead of reading last night's matrix or calling it a product failure.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { loadProfile, pinProfiles } from '../../src/fixtures/profile.ts';
import { requestedProjects, resolveProjects } from '../../src/fixtures/projects.ts';
import { checkKubeconfig, checkReachable, clusterKubeconfig } from '../../src/fixtures/run-config.ts';
import { ConfigError } from '../../src/report/config-error.ts';

const root = resolve('test-results', 'run-config');
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });

/**
 * A run stopped by validation is Playwright's start-up and no more: 2-5 s idle, a sim start alone
 * ~24 s. The proof that nothing started is the absent state dir and the reports dir holding only
 * the record; the clock is a loose second witness (a 2-core box at load 15 took 12 s to start up).
 */
const FAST_MS = 30_000;

function file(name: string, text: string): string {
  const p = resolve(root, name);
  writeFileSync(p, text);
  return p;
}

function kubeconfig(name: string, server: string, extra: { currentContext?: boolean; token?: string } = {}): string {
  return file(name, `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: { server: "${server}", insecure-skip-tls-verify: true }
users:
- name: u
  user: { token: ${extra.token ?? 'abc'} }
contexts:
- name: ctx
  context: { cluster: c, user: u }
${extra.currentContext === false ? '' : 'current-context: ctx\n'}`);
}

/** A loopback port nothing listens on: bound by us, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

interface Run { code: number | null; out: string; ms: number; reports: string; runId: string }

/** `npx playwright test` as a user types it, with a deadline in case validation let a sim start. */
async function playwright(id: string, args: string[], env: Record<string, string>): Promise<Run> {
  const reports = resolve(root, id, 'reports');
  mkdirSync(reports, { recursive: true });
  // Last night's results: a config error must replace them, not leave them for the gate.
  writeFileSync(resolve(reports, 'conformance-matrix.json'), JSON.stringify({ generatedAt: '', runStatus: 'passed', totals: { passed: 1, failed: 0, flaky: 0, skipped: 0, notrun: 0 }, capabilities: [] }));
  const runId = `cfg-${id}-${Date.now().toString(36)}`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, KVNET_REPORT_DIR: reports, KVNET_NO_REPORT: '1', KVNET_RUN_ID: runId, ...env };
  for (const k of ['KVNET_PROJECTS', 'KVNET_PINNED_PROFILES', 'TEST_WORKER_INDEX', 'TEST_PARALLEL_INDEX', ...['KVNET_PROFILE', 'KUBECONFIG', 'KVNET_SIM_KUBECONFIG'].filter((k) => !(k in env))]) delete childEnv[k];
  const started = Date.now();
  const child = spawn('npx', ['playwright', 'test', ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const deadline = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 40_000);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearTimeout(deadline);
  return { code, out, ms: Date.now() - started, reports, runId };
}

const run = promisify(execFile);
async function gate(reports: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, ['bin/kvnet.js', 'gate', '--matrix', resolve(reports, 'conformance-matrix.json'), ...args]);
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

async function expectConfigError(r: Run, code: number, kind: string, ...fix: string[]): Promise<void> {
  const lines = r.out.split('\n').filter((l) => l.trim());
  expect(r.code, r.out).toBe(code);
  expect(lines, 'one message and nothing else').toHaveLength(1);
  expect(lines[0]).toContain(`kvnet: configuration error (${kind}): `);
  for (const f of fix) expect(lines[0]).toContain(f);
  expect(r.out, 'no stack trace').not.toContain('    at ');
  expect(r.ms, 'stopped before any sim start').toBeLessThan(FAST_MS);
  expect(existsSync(resolve('.kvnet', 'playwright', r.runId)), 'no sim state dir for this run').toBe(false);
  // Only the record: no reporter began, and global setup wrote no environment after the check.
  expect(readdirSync(r.reports).sort()).toEqual(['conformance-matrix.html', 'conformance-matrix.json', 'junit.xml']);
  const m = JSON.parse(readFileSync(resolve(r.reports, 'conformance-matrix.json'), 'utf8')) as { configurationError?: { kind: string } };
  expect(m.configurationError?.kind, 'the stale matrix was replaced').toBe(kind);
  expect(readFileSync(resolve(r.reports, 'junit.xml'), 'utf8')).toContain('<error type="configuration"');
  // The gate reports configuration with the run's code, never 1, even when forgiving thresholds.
  for (const args of [[], ['--allow-thresholds']]) {
    const g = await gate(r.reports, ...args);
    expect(g.code, g.out).toBe(code);
    expect(g.out).toContain(`configuration error: ${lines[0].slice(`kvnet: configuration error (${kind}): `.length)}`);
  }
}

test.describe('a configuration mistake stops the run with one message and its own exit code', () => {
  test('profile: a KVNET_PROFILE that is missing, not YAML, or has an unknown key exits 3', async () => {
    const missing = resolve(root, 'no-such-profile.yaml');
    await expectConfigError(await playwright('profile-missing', [], { KVNET_PROFILE: missing }), 3, 'profile', `KVNET_PROFILE=${missing}: cannot read the file (ENOENT)`, 'point KVNET_PROFILE at a profile YAML file');
    await expectConfigError(await playwright('profile-yaml', [], { KVNET_PROFILE: file('bad.yaml', 'guest: [1\n') }), 3, 'profile', 'not valid YAML', 'fix the file');
    await expectConfigError(await playwright('profile-key', ['--project=cluster'], { KVNET_PROFILE: file('key.yaml', 'timeouts:\n  vmRunning: 5\n') }), 3, 'profile', 'unknown key "timeouts.vmRunning"; allowed here: vmRunningMs, sshMs');
  });

  test('kubeconfig: KUBECONFIG=/nonexistent or a kubeconfig without a current context exits 4 and names KUBECONFIG', async () => {
    await expectConfigError(await playwright('kc-missing', ['--project=cluster'], { KUBECONFIG: '/nonexistent' }), 4, 'kubeconfig', 'KUBECONFIG=/nonexistent: cannot read the file (ENOENT)', 'point KUBECONFIG at your cluster\'s kubeconfig');
    const noCtx = kubeconfig('no-context.yaml', 'https://127.0.0.1:6443', { currentContext: false });
    await expectConfigError(await playwright('kc-context', ['--project=cluster'], { KUBECONFIG: noCtx }), 4, 'kubeconfig', `KUBECONFIG=${noCtx}: no current context`, 'config use-context <name>` (contexts: ctx)');
  });

  test('unreachable: a kubeconfig whose server is a closed loopback port exits 5: "is the cluster up?"', async () => {
    const server = `https://127.0.0.1:${await closedPort()}`;
    const kc = kubeconfig('closed.yaml', server);
    await expectConfigError(await playwright('closed-port', ['--project=cluster'], { KUBECONFIG: kc }), 5, 'unreachable', `is the cluster up? check your kubeconfig's server ${server}`, `KUBECONFIG=${kc}`);
  });

  test('tools: a machine without the sim\'s tools exits 7 with the apt-get line, instead of a stack from global setup', async () => {
    // A PATH with node, npx and sh only: every tool the sim needs is missing.
    const bin = resolve(root, 'bin');
    mkdirSync(bin, { recursive: true });
    const which = (b: string) => execFileSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).trim();
    for (const b of ['node', 'npx', 'sh']) symlinkSync(which(b), resolve(bin, b));
    await expectConfigError(await playwright('tools', [], { PATH: bin }), 7, 'tools', 'the bundled sim needs tools this machine lacks: ip (builds the sim fabric); nft', 'sudo apt-get install -y iproute2 nftables');
  });

  test('project: --project=nosuch exits 6 and lists the projects', async () => {
    await expectConfigError(await playwright('project', ['--project=nosuch'], {}), 6, 'project', 'unknown project "nosuch"', '"sim" and "cluster"');
  });
});

test('--project=Sim is the sim project: Playwright matches names case-insensitively, and so does kvnet', async () => {
  const saved = process.env.KVNET_PROJECTS;
  try {
    delete process.env.KVNET_PROJECTS;
    expect(requestedProjects(['node', 'playwright', 'test', '--project=Sim'])).toEqual(['sim']);
    expect(process.env.KVNET_PROJECTS, 'what workers and global setup see').toBe('sim');
    delete process.env.KVNET_PROJECTS;
    expect(requestedProjects(['node', 'playwright', 'test', '--project', 'CLUSTER', 'Sim'])).toEqual(['sim', 'cluster']);
  } finally {
    if (saved === undefined) delete process.env.KVNET_PROJECTS;
    else process.env.KVNET_PROJECTS = saved;
  }
  expect(resolveProjects(['s*'])).toEqual(['sim']);
  expect(() => resolveProjects(['x*'])).toThrow(ConfigError);
  // And Playwright runs the sim project's tests for it (--list runs no global setup, so no sim).
  const r = await playwright('list-Sim', ['--list', '--project=Sim', 'suites/masquerade.spec.ts'], {});
  expect(r.code, r.out).toBe(0);
  expect(r.out).toMatch(/\[sim\] › masquerade\.spec\.ts/);
});

test('an API server that accepts but never answers is unreachable after a bounded wait', async () => {
  const held: import('node:net').Socket[] = [];
  const srv = createServer((sock) => held.push(sock)); // accepts the TCP connection, never speaks TLS
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const server = `https://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const src = { variable: 'KUBECONFIG' as const, path: kubeconfig('silent.yaml', server) };
    const started = Date.now();
    const err = await checkReachable(checkKubeconfig(src), src, 500).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unreachable', message: expect.stringContaining(`no answer in 500 ms): is the cluster up? check your kubeconfig's server ${server}`) });
    expect(Date.now() - started).toBeLessThan(10_000);
  } finally {
    for (const s of held) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

test('without KUBECONFIG: ~/.kube/config, else a message naming KUBECONFIG (none needed in a pod)', () => {
  const home = resolve(root, 'home');
  expect(() => clusterKubeconfig({ HOME: home })).toThrow('KUBECONFIG is not set and ~/.kube/config does not exist');
  expect(clusterKubeconfig({ HOME: home, KUBERNETES_SERVICE_HOST: '10.0.0.1' }), 'in a pod client-node uses the service account').toBeUndefined();
  mkdirSync(resolve(home, '.kube'), { recursive: true });
  writeFileSync(resolve(home, '.kube', 'config'), '');
  expect(clusterKubeconfig({ HOME: home })).toMatchObject({ variable: 'KUBECONFIG', path: resolve(home, '.kube', 'config'), label: expect.stringContaining('(KUBECONFIG is unset)') });
  expect(clusterKubeconfig({ HOME: home, KUBECONFIG: `:${resolve(root, 'a')}:/b` })?.path, 'the first file, as the suites load').toBe(resolve(root, 'a'));
});

test('workers get the profile global setup validated, not a re-read of the file', () => {
  const path = file('pinned.yaml', 'measure:\n  pingCount: 7\n');
  const saved = { profile: process.env.KVNET_PROFILE, pinned: process.env.KVNET_PINNED_PROFILES };
  try {
    process.env.KVNET_PROFILE = path;
    pinProfiles(['sim']);
    writeFileSync(path, 'guest: [1\n'); // changed (here: broken) after validation
    expect(loadProfile('sim').measure.pingCount).toBe(7);
  } finally {
    for (const [k, v] of [['KVNET_PROFILE', saved.profile], ['KVNET_PINNED_PROFILES', saved.pinned]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test.describe('a reachable API server passes, and refused credentials are a kubeconfig error', () => {
  let sim: ChildProcess | undefined;
  const kc = resolve(root, 'sim', 'kubeconfig');

  test.beforeAll(async () => {
    mkdirSync(resolve(root, 'sim'), { recursive: true });
    sim = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'up', '--no-dataplane', '--kubeconfig', kc], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      createInterface({ input: sim!.stdout! }).on('line', (l) => l.startsWith('kvnet sim ready') && res());
      sim!.on('exit', (c) => rej(new Error(`kvnet sim up exited with ${c}`)));
    });
  });

  test.afterAll(async () => {
    if (sim && sim.exitCode === null) {
      sim.kill('SIGINT');
      await new Promise((r) => sim?.on('exit', r));
    }
  });

  test('GET /version through the kubeconfig answers; a bad token is a 401 naming the context', async () => {
    const src = { variable: 'KUBECONFIG' as const, path: kc };
    await checkReachable(checkKubeconfig(src), src);
    const bad = file('bad-token.yaml', readFileSync(kc, 'utf8').replace(/token: .*/, 'token: not-the-token'));
    const badSrc = { variable: 'KUBECONFIG' as const, path: bad };
    const err = await checkReachable(checkKubeconfig(badSrc), badSrc).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ kind: 'kubeconfig', message: expect.stringContaining('refused the credentials of context') });
  });
});
