// The sim publishes its profile keys beside its kubeconfig, from the topology; the sim project
// loads them over the harness defaults, and a missing or broken file is a configuration error.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { defaultProfile, loadProfile, publishedProfilePath } from '../../src/fixtures/profile.ts';
import { ConfigError } from '../../src/report/config-error.ts';
import { writePublishedProfile } from '../../src/sim/kubeconfig.ts';
import { simProfile } from '../../src/sim/modules/index.ts';
import { TOPOLOGY, type Topology } from '../../src/sim/topology.ts';
import { startSim } from '../../src/sim/up.ts';

const dir = resolve('test-results', 'unit-published-profile');
test.beforeAll(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
});

test('the published profile is what the topology says', () => {
  expect(simProfile(TOPOLOGY)).toEqual({
    secondary: {
      noGuestAgentImage: 'quay.io/containerdisks/fedora:41',
      bridgePort: 'eth1', altBridgePort: 'eth2', hotplugBridgePort: 'eth5', localnetBridge: 'br-ex',
      underlayHostIPv4: '192.168.126.250', underlayPrefix: 24, underlayHostPort: 8080, underlayVmIPv4Base: '192.168.126.100',
      underlayVlan: 300, underlayVlanHostIPv4: '172.16.30.250', underlayVlanVmIPv4Base: '172.16.30.100',
      dhcpRange: '10.203.1.100-10.203.1.200/24',
    },
    migration: { networkNic: 'eth4', networkRange: '10.200.5.0/24' },
  });
  // Read from the data, not copied: another topology publishes other keys.
  const other: Topology = {
    ...TOPOLOGY,
    nodeNics: TOPOLOGY.nodeNics.map((n) => (n.name === 'eth1' ? { ...n, name: 'ens5' } : n.name === 'eth4' ? { ...n, name: 'ens9' } : n)),
    outsideHost: { ...TOPOLOGY.outsideHost, native: '192.168.126.240/25', vlans: { 300: '172.16.30.240/24' } },
  };
  expect(simProfile(other)).toMatchObject({
    secondary: { bridgePort: 'ens5', underlayHostIPv4: '192.168.126.240', underlayPrefix: 25, underlayVlanHostIPv4: '172.16.30.240' },
    migration: { networkNic: 'ens9' },
  });
});

test('the sim project loads the published keys over the harness defaults; the built-in profile has no topology', () => {
  const base = defaultProfile('sim');
  expect([base.secondary.bridgePort, base.secondary.underlayHostIPv4, base.migration.networkNic, base.secondary.dhcpRange]).toEqual(['', '', '', '']);
  const kubeconfig = resolve(dir, 'kubeconfig');
  writePublishedProfile(kubeconfig, simProfile());
  const p = loadProfile('sim', '', kubeconfig);
  expect(p.secondary.bridgePort).toBe('eth1');
  expect(p.migration).toEqual({ ...base.migration, networkNic: 'eth4', networkRange: '10.200.5.0/24' });
  expect({ ...p, secondary: base.secondary, migration: base.migration }, 'judgments stay the harness defaults').toEqual(base);
  // KVNET_PROFILE still has the last word.
  const over = resolve(dir, 'over.yaml');
  writeFileSync(over, 'secondary:\n  bridgePort: eth7\n');
  expect(loadProfile('sim', over, kubeconfig).secondary).toMatchObject({ bridgePort: 'eth7', altBridgePort: 'eth2' });
});

test('a missing or broken published profile is a ConfigError that names the file', () => {
  const kubeconfig = resolve(dir, 'none', 'kubeconfig');
  const err = (f: () => unknown): ConfigError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error('no error');
  };
  const missing = err(() => loadProfile('sim', '', kubeconfig));
  expect(missing.kind).toBe('profile');
  expect(missing.message).toContain(`KVNET_SIM_KUBECONFIG=${kubeconfig}: the sim's published profile ${publishedProfilePath(kubeconfig)} cannot be read (ENOENT)`);
  mkdirSync(resolve(dir, 'none'), { recursive: true });
  writeFileSync(publishedProfilePath(kubeconfig), '{"secondary": ');
  expect(err(() => loadProfile('sim', '', kubeconfig)).message).toMatch(/published profile .* is not valid JSON/);
  writeFileSync(publishedProfilePath(kubeconfig), '{"secondary": {"bridgeport": "eth1"}}');
  expect(err(() => loadProfile('sim', '', kubeconfig)).message).toContain('unknown key "secondary.bridgeport"; allowed here: bridgePort');
  writeFileSync(publishedProfilePath(kubeconfig), '{"secondary": {"underlayVlan": "300"}}');
  expect(err(() => loadProfile('sim', '', kubeconfig)).message).toContain('"secondary.underlayVlan" must be a non-negative number (got "300")');
  // The cluster project never reads it.
  expect(loadProfile('cluster', '', kubeconfig).secondary.bridgePort).toBe('');
});

test('a sim writes its profile beside the kubeconfig (0600) and takes it away when it stops', async () => {
  const sim = await startSim({ dataPlane: false, kubeconfig: resolve(dir, 'sim', 'kubeconfig') });
  const file = publishedProfilePath(sim.kubeconfig);
  try {
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(simProfile());
  } finally {
    await sim.stop();
  }
  expect(existsSync(file)).toBe(false);
});
