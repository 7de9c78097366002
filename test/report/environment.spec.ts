import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { categories, environmentProperties, writeAllureEnvironment } from '../../src/report/environment.ts';

test.describe('allure environment and categories', () => {
  test('environment.properties lists the run facts, escaped as Java properties', () => {
    const props = environmentProperties({
      target: 'lab: ocp-4.17', kubernetesVersion: 'v1.30.4', kubevirtVersion: 'v1.3.1', nodeCount: 3, podNetworkMtu: 1400, cni: 'OVN-Kubernetes',
      kvnetVersion: '9.9.9', extra: { 'dual stack': true, note: 'é\nx' },
    });
    expect(props.split('\n')).toEqual([
      'Target=lab: ocp-4.17',
      'Kubernetes\\ version=v1.30.4',
      'KubeVirt\\ version=v1.3.1',
      'Nodes=3',
      'Pod\\ network\\ MTU=1400',
      'CNI=OVN-Kubernetes',
      'kvnet\\ version=9.9.9',
      'dual\\ stack=true',
      'note=\\u00e9\\nx',
      '',
    ]);
    // kvnet version defaults to package.json; missing facts are omitted.
    expect(environmentProperties({})).toMatch(/^kvnet\\ version=\d+\.\d+\.\d+\n$/);
  });

  test('categories: the four documented buckets, mutually exclusive by construction', () => {
    const cats = categories();
    expect(cats.map((c) => c.name)).toEqual(['Measurement below threshold', 'Infrastructure / timeout', 'Product failure', 'Unsupported (skipped)']);
    const byName = Object.fromEntries(cats.map((c) => [c.name, c]));
    expect(byName['Unsupported (skipped)'].matchedStatuses).toEqual(['skipped']);
    expect(byName['Product failure'].matchedStatuses).toEqual(['failed']);
    // Java regexes (Allure matches the whole message); emulate (?i) with the JS flag.
    const matches = (name: string, msg: string) => {
      const src = byName[name].messageRegex ?? '';
      const ci = src.startsWith('(?i)');
      return new RegExp(`^(?:${ci ? src.slice(4) : src})$`, ci ? 'i' : '').test(msg);
    };
    const cases: Array<[string, string]> = [
      ['Error: [threshold] rtt p99 = 9 ms, expected <= 5 ms\n\nexpect(received).toBeLessThanOrEqual(expected)', 'Measurement below threshold'],
      ['Test timeout of 30000ms exceeded.', 'Infrastructure / timeout'],
      ['Error: read ECONNRESET', 'Infrastructure / timeout'],
      ['ssh: handshake failed\nmore', 'Infrastructure / timeout'],
      ['Error: VM got its static IP\n\nExpected: "10.0.0.4"\nReceived: "10.0.0.5"', 'Product failure'],
    ];
    for (const [msg, want] of cases) {
      const hits = ['Measurement below threshold', 'Infrastructure / timeout', 'Product failure'].filter((n) => matches(n, msg));
      expect(hits, msg).toEqual([want]);
    }
  });

  test('writeAllureEnvironment writes both files into the results dir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvnet-env-'));
    try {
      writeAllureEnvironment({ target: 'sim', nodeCount: 2 }, join(dir, 'allure-results'));
      expect(readFileSync(join(dir, 'allure-results', 'environment.properties'), 'utf8')).toContain('Nodes=2');
      const cats = JSON.parse(readFileSync(join(dir, 'allure-results', 'categories.json'), 'utf8')) as Array<{ name: string }>;
      expect(cats).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
