// The agent applying cloud-init networking for real, in a private user+net
// namespace (rootless: unshare -Urn) with a veth eth0 standing in for the vNIC.
import { test, expect } from '@playwright/test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestConfig, GuestInterfaceStatus, GuestReady } from '../../src/sim/guest/config.ts';
import { ROOT, freePort } from './helpers.ts';

const canUnshare = spawnSync('unshare', ['-Urn', 'ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']).status === 0;

test('cloud-init networkData + DHCP lease are applied inside the guest netns (seed 8.2.2)', async () => {
  test.skip(!canUnshare, 'unshare -Urn with veth links not available');
  const dir = mkdtempSync(join(tmpdir(), 'kvnet-guest-ns-'));
  const cfg: GuestConfig = {
    name: 'vm6', namespace: 'ns1', hostname: 'vm6', sshPort: await freePort(), sshListen: '::',
    authorizedKeys: [], users: [],
    networkData: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    addresses: [ fd10:0:2::2/120 ]\n    gateway6: fd10:0:2::1\n    nameservers: { addresses: [10.0.0.53] }\n',
    dhcpLeases: { eth0: { address: '10.0.2.2/24', gateway: '10.0.2.1', mtu: 1400 } },
    defaultInterfaces: [{ name: 'eth0', mac: '02:00:00:00:00:06' }],
    resolvConf: 'nameserver 10.96.0.10\n',
    hostKeyPath: join(dir, 'hostkey'), readyFile: join(dir, 'ready.json'), statusFile: join(dir, 'status.json'),
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const script = `ip link add eth0 address 02:00:00:00:00:06 type veth peer name tap0 && ip link set tap0 up && exec ${process.execPath} --import tsx src/sim/guest/main.ts ${join(dir, 'config.json')}`;
  const proc = spawn('unshare', ['-Urn', 'sh', '-c', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d; });
  try {
    await expect.poll(() => existsSync(cfg.readyFile), { timeout: 20_000 }).toBe(true);
    const ready = JSON.parse(readFileSync(cfg.readyFile, 'utf8')) as GuestReady;
    expect(ready.networkErrors, stderr).toEqual([]);
    const status = JSON.parse(readFileSync(cfg.statusFile, 'utf8')) as GuestInterfaceStatus[];
    expect(status.filter((s) => s.interfaceName === 'eth0')).toEqual([{ interfaceName: 'eth0', mac: '02:00:00:00:00:06', ipAddresses: ['10.0.2.2/24', 'fd10:0:2::2/120'], mtu: 1400, state: expect.any(String) }]);
    expect(readFileSync(ready.resolvConfPath, 'utf8')).toBe('nameserver 10.96.0.10\nnameserver 10.0.0.53\n');
  } finally {
    proc.kill('SIGTERM');
  }
});
