// The agent applying cloud-init networking for real, in a private user+net
// namespace (rootless: unshare -Urn) with a veth eth0 standing in for the vNIC.
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { freePort, startAgent } from './helpers.ts';

const canUnshare = spawnSync('unshare', ['-Urn', 'ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']).status === 0;

test('cloud-init networkData + DHCP lease are applied inside the guest netns (seed 8.2.2)', async () => {
  test.skip(!canUnshare, 'unshare -Urn with veth links not available');
  // A user+net namespace with a veth eth0 standing in for the vNIC; the agent's root inside it.
  const script = 'ip link add eth0 address 02:00:00:00:00:06 type veth peer name tap0 && ip link set tap0 up && exec "$@"';
  const agent = await startAgent({
    name: 'vm6', hostname: 'vm6', sshPort: await freePort(), sshListen: '::', skipNetwork: false,
    networkData: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    addresses: [ fd10:0:2::2/120 ]\n    gateway6: fd10:0:2::1\n    nameservers: { addresses: [10.0.0.53] }\n',
    dhcpLeases: { eth0: { address: '10.0.2.2/24', gateway: '10.0.2.1', mtu: 1400 } },
    defaultInterfaces: [{ name: 'eth0', mac: '02:00:00:00:00:06' }],
  }, { argv: ['unshare', '-Urn', 'sh', '-c', script, 'sh'], sysfs: true });
  try {
    expect(agent.ready.networkErrors).toEqual([]);
    const status = agent.statuses.at(-1) ?? [];
    expect(status.filter((s) => s.interfaceName === 'eth0')).toEqual([{ interfaceName: 'eth0', mac: '02:00:00:00:00:06', ipAddresses: ['10.0.2.2/24', 'fd10:0:2::2/120'], mtu: 1400, state: expect.any(String) }]);
    expect(agent.ready.resolvConf).toBe('nameserver 10.96.0.10\nnameserver 10.0.0.53\n');
  } finally {
    await agent.stop();
  }
});
