// `kvnet preflight` reads the suites' static requirements (playwright --list) and says, per suite
// and capability, which are unmet on the target and why, before anything boots.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { formatPreflight, type ListedTest } from '../../src/fixtures/preflight.ts';
import { defaultProfile } from '../../src/fixtures/profile.ts';
import { requirementAnnotation, requires } from '../../src/fixtures/requirements.ts';
import type { ClusterFacts } from '../../src/kube/discovery.ts';
import { startSim } from '../../src/sim/up.ts';

const cap = (feature: string, seed: string) => [{ type: '@allure.label.feature', description: feature }, { type: 'seed', description: seed }];
const facts: ClusterFacts = { kubernetesVersion: 'v1.31', groups: ['kubevirt.io'], schedulableNodes: ['n1', 'n2'], dualStack: false, nodeResources: [], namespaces: [] };

test('formatting: per file and capability, met and unmet requirements with counts', () => {
  const tests: ListedTest[] = [
    { file: 'b.spec.ts', title: 'Bridge › t1', annotations: [...cap('Linux bridge', '8.5'), requirementAnnotation(requires.api('nmstate.io', 'kubernetes-nmstate')), requirementAnnotation(requires.nodes(2))] },
    { file: 'b.spec.ts', title: 'Bridge › t2', annotations: [...cap('Linux bridge', '8.5'), requirementAnnotation(requires.nodes(2))] },
    { file: 'a.spec.ts', title: 'Masq › v6', annotations: [...cap('Masquerade', '8.2.1'), requirementAnnotation(requires.dualStack())] },
  ];
  const r = formatPreflight(tests, facts, defaultProfile('cluster'));
  expect(r.text).toBe([
    'a.spec.ts',
    '  Masquerade (seed 8.2.1): 0 of 1 tests can run',
    '    ✗ a dual-stack cluster network: the cluster network is single-stack',
    'b.spec.ts',
    '  Linux bridge (seed 8.5): 1 of 2 tests can run',
    '    ✗ API nmstate.io (kubernetes-nmstate) [1 of 2 tests]: the target serves no nmstate.io API (kubernetes-nmstate not installed)',
    '    ✓ 2 schedulable nodes',
  ].join('\n'));
  expect([r.unmetTests, r.total]).toEqual([2, 3]);
});

test('against a control-plane sim: the fixture specs\' unmet requirements, before anything boots', async () => {
  test.setTimeout(120_000);
  const sim = await startSim({ dataPlane: false, kubeconfig: resolve('test-results', 'unit-preflight', 'kubeconfig') });
  try {
    const r = await promisify(execFile)(process.execPath, ['bin/kvnet.js', 'preflight', '--kubeconfig', sim.kubeconfig, '--target', 'sim', '--config', 'test/fixtures/specs/playwright.config.ts'], { env: { ...process.env, KVNET_PROFILE: '' } });
    expect(r.stdout).toContain('test/fixtures/specs/lab.fixture.ts');
    expect(r.stdout).toContain('  Needs an API (seed 0.2): 0 of 1 tests can run\n    ✗ API example.invalid (an operator): the target serves no example.invalid API (an operator not installed)');
    expect(r.stdout).toContain('    ✗ profile sriov.pfName (an SR-IOV PF) [1 of 4 tests]: the profile sets no sriov.pfName (an SR-IOV PF)');
    expect(r.stdout).toContain('    ✓ 2 schedulable nodes');
    expect(r.stdout).toMatch(/3 of 5 tests can run; 2 will skip for an unmet requirement/);
  } finally {
    await sim.stop();
  }
});
