// Bad input gets a message that says what to fix: CLI flags, profiles, gates.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { loadProfile } from '../../src/fixtures/profile.ts';
import { requestedProjects } from '../../src/fixtures/projects.ts';
import { ConfigError, configErrorMatrix } from '../../src/report/config-error.ts';
import { evaluateGate } from '../../src/report/gate.ts';
import type { ConformanceMatrix } from '../../src/report/matrix-reporter.ts';

const run = promisify(execFile);
const dir = resolve('test-results', 'unit-cli');
mkdirSync(dir, { recursive: true });

async function kvnet(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, ['bin/kvnet.js', ...args]);
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

test('an unknown command, flag or out-of-range value exits 2 and says what to fix', async () => {
  expect(await kvnet('sim', 'up', '--nodes', '0')).toMatchObject({ code: 2, out: expect.stringContaining('--nodes must be a whole number from 1 to 16 (got "0")') });
  expect(await kvnet('sim', 'up', '--mtu', 'big')).toMatchObject({ code: 2, out: expect.stringContaining('--mtu must be a whole number from 1280 to 9000') });
  expect(await kvnet('sim', 'up', '--colour')).toMatchObject({ code: 2, out: expect.stringContaining('unknown flag --colour; known flags: --nodes') });
  expect(await kvnet('launch')).toMatchObject({ code: 2, out: expect.stringContaining('unknown command "launch"') });
  expect(await kvnet('cleanup')).toMatchObject({ code: 2, out: expect.stringContaining('--run-id is required') });
  expect(await kvnet('gate', '--matrix', resolve(dir, 'missing.json'))).toMatchObject({ code: 2, out: expect.stringContaining('run `npx playwright test` first') });
});

test('a profile with an unknown key, a wrong type or bad YAML is refused with the key named', () => {
  const write = (name: string, text: string) => { const p = resolve(dir, name); writeFileSync(p, text); return p; };
  expect(() => loadProfile('sim', write('a.yaml', 'thresholds:\n  masquerade:\n    icmpP99: 3\n'))).toThrow('unknown key "thresholds.masquerade.icmpP99"; allowed here: icmpP99Ms, maxLossPct, minTcpGbps');
  expect(() => loadProfile('sim', write('b.yaml', 'thresholds:\n  masquerade:\n    minTcpGbps: fast\n'))).toThrow('"thresholds.masquerade.minTcpGbps" must be a non-negative number (got "fast")');
  expect(() => loadProfile('sim', write('c.yaml', 'guest: [1'))).toThrow('not valid YAML');
  expect(() => loadProfile('sim', resolve(dir, 'nope.yaml'))).toThrow('cannot read the file (ENOENT)');
  const p = loadProfile('cluster', write('d.yaml', 'guest:\n  image: registry.example.com/img:1\n'));
  expect(p.guest.image).toBe('registry.example.com/img:1');
  expect(p.thresholds.masquerade.icmpP99Ms, 'untouched keys keep the target default').toBe(5);
});

test('projects: the cluster project is only declared when asked for', () => {
  const saved = process.env.KVNET_PROJECTS;
  try {
    delete process.env.KVNET_PROJECTS;
    expect(requestedProjects(['node', 'playwright', 'test'])).toEqual(['sim']);
    delete process.env.KVNET_PROJECTS;
    expect(requestedProjects(['node', 'playwright', 'test', '--project=cluster'])).toEqual(['cluster']);
    delete process.env.KVNET_PROJECTS;
    expect(requestedProjects(['x', '--project', 'sim', '--project', 'cluster'])).toEqual(['sim', 'cluster']);
    delete process.env.KVNET_PROJECTS;
    expect(() => requestedProjects(['x', '--project=nosuch']), 'unknown names are a configuration error').toThrow('unknown project "nosuch": the projects are "sim" and "cluster"');
  } finally {
    if (saved === undefined) delete process.env.KVNET_PROJECTS;
    else process.env.KVNET_PROJECTS = saved;
  }
});

test('the gate fails on a failed check, can forgive thresholds, and enforces required capabilities', () => {
  const m: ConformanceMatrix = {
    generatedAt: '', runStatus: 'failed', totals: { passed: 1, failed: 1, flaky: 0, skipped: 1, notrun: 0 },
    capabilities: [
      { capability: 'Masquerade', seed: ['8.2.1'], status: 'failed', checks: [
        { title: 'ICMP latency', file: 'f', line: 1, seed: ['8.2.1'], status: 'failed', failureKind: 'threshold', reason: '[threshold] ICMP p99', durationMs: 1, retries: 0, metrics: [] },
        { title: 'ports', file: 'f', line: 2, seed: ['8.2.1'], status: 'passed', durationMs: 1, retries: 0, metrics: [] },
      ] },
      { capability: 'Jumbo frames', seed: ['8.2.3'], status: 'skipped', checks: [{ title: 'mtu', file: 'f', line: 3, seed: ['8.2.3'], status: 'skipped', reason: 'no MTU', durationMs: 0, retries: 0, metrics: [] }] },
    ],
  };
  const base = { matrix: '', require: [], noSkips: false, allowThresholds: false };
  expect(evaluateGate(m, base).ok).toBe(false);
  expect(evaluateGate(m, { ...base, allowThresholds: true }).ok).toBe(true);
  expect(evaluateGate(m, { ...base, allowThresholds: true, noSkips: true }).ok).toBe(false);
  const req = evaluateGate(m, { ...base, allowThresholds: true, require: ['Jumbo frames'] });
  expect(req.ok).toBe(false);
  expect(req.lines.join('\n')).toContain('required capability "Jumbo frames" did not pass 1 of 1 checks: mtu (skipped)');
  // A forgiven threshold miss is not a failure of a required capability; a failure is.
  expect(evaluateGate(m, { ...base, allowThresholds: true, require: ['Masquerade'] }).ok).toBe(true);
  expect(evaluateGate(m, { ...base, require: ['Masquerade'] }).lines.join('\n')).toContain('"Masquerade" did not pass 1 of 2 checks: ICMP latency (failed)');
  // A run that failed with no failed check broke outside the tests (e.g. the sim did not start): never a pass.
  const empty: ConformanceMatrix = { generatedAt: '', runStatus: 'failed', totals: { passed: 0, failed: 0, flaky: 0, skipped: 0, notrun: 0 }, capabilities: [] };
  expect(evaluateGate(empty, { ...base, allowThresholds: true }).lines.join('\n')).toContain('FAIL the run failed outside any check');
});

test('--require needs every check of the capability to pass: one pass and the rest skipped is not enough', () => {
  const check = (title: string, status: 'passed' | 'skipped' | 'notrun') => ({ title, file: 'f', line: 1, seed: ['8.5'], status, durationMs: 0, retries: 0, metrics: [] });
  const m: ConformanceMatrix = {
    generatedAt: '', runStatus: 'passed', totals: { passed: 1, failed: 0, flaky: 0, skipped: 1, notrun: 1 },
    capabilities: [{ capability: 'Linux bridge', seed: ['8.5'], status: 'passed', checks: [check('ping', 'passed'), check('vlan', 'skipped'), check('mtu', 'notrun')] }],
  };
  const base = { matrix: '', require: [], noSkips: false, allowThresholds: true };
  expect(evaluateGate(m, base).ok, 'without --require, skips are not failures').toBe(true);
  const r = evaluateGate(m, { ...base, require: ['Linux bridge'] });
  expect(r.ok).toBe(false);
  expect(r.lines.join('\n')).toContain('required capability "Linux bridge" did not pass 2 of 3 checks: vlan (skipped); mtu (notrun)');
  m.capabilities[0].checks = m.capabilities[0].checks.map((c) => ({ ...c, status: 'passed' as const }));
  expect(evaluateGate(m, { ...base, require: ['Linux bridge'] }).ok).toBe(true);
});

test('the gate refuses a file that is not a conformance matrix with exit 2 and one line', async () => {
  const totals = { passed: 0, failed: 0, flaky: 0, skipped: 0, notrun: 0 };
  const cases: [string, unknown, string][] = [
    ['null', null, 'the top level is null, not an object'],
    ['empty object', {}, '"runStatus" must be one of'],
    ['array', [], 'the top level is an array, not an object'],
    ['no capabilities', { runStatus: 'passed', totals }, '"capabilities" must be an array'],
    ['no totals', { runStatus: 'failed', capabilities: [] }, '"totals" must count'],
    ['a check without status', { runStatus: 'failed', totals, capabilities: [{ capability: 'x', checks: [{ title: 't', seed: [] }] }] }, 'capabilities[0].checks[0] needs'],
  ];
  for (const [name, doc, why] of cases) {
    const p = resolve(dir, `not-a-matrix-${name.replace(/ /g, '-')}.json`);
    writeFileSync(p, JSON.stringify(doc));
    const r = await kvnet('gate', '--allow-thresholds', '--matrix', p);
    expect(r, name).toMatchObject({ code: 2, out: expect.stringContaining(`is not a conformance matrix (${why}`) });
    expect(r.out.trim().split('\n'), `${name}: one line`).toHaveLength(1);
    expect(r.out, name).not.toContain('    at ');
  }
  const text = resolve(dir, 'not-json.json');
  writeFileSync(text, 'last night');
  expect(await kvnet('gate', '--matrix', text)).toMatchObject({ code: 2, out: expect.stringContaining('(not JSON)') });
});

test('the gate reports a run stopped on a configuration mistake as configuration, with that run\'s exit code', async () => {
  const p = resolve(dir, 'config-error.json');
  writeFileSync(p, JSON.stringify(configErrorMatrix(new ConfigError('kubeconfig', 'KUBECONFIG=/nonexistent: cannot read the file (ENOENT)'))));
  for (const args of [[], ['--allow-thresholds'], ['--require', 'Masquerade']]) {
    const r = await kvnet('gate', '--matrix', p, ...args);
    expect(r.code, r.out).toBe(4);
    expect(r.out).toContain('configuration error: KUBECONFIG=/nonexistent: cannot read the file (ENOENT)');
    expect(r.out).not.toContain('gate failed');
  }
});
