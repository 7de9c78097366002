import { test, expect } from '@playwright/test';
import { parseUserData, netplanToIpCommands, parseNetplan, buildResolvConf } from '../../src/sim/guest/cloud-init.ts';
import { toStatus } from '../../src/sim/guest/agent.ts';

const K1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 user1@x';
const K2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 user2@x';
const j = (cmds: string[][]): string[] => cmds.map((c) => c.join(' '));

test.describe('parseUserData', () => {
  test('top-level keys, user and password (KubeVirt fedora example)', () => {
    const r = parseUserData(`#cloud-config\nuser: fedora\npassword: fedora\nchpasswd: { expire: False }\nssh_authorized_keys:\n  - ${K1}\n`);
    expect(r.authorizedKeys).toEqual([K1]);
    expect(r.users).toEqual([{ name: 'fedora', password: 'fedora' }]);
  });

  test('users[] with keys, plain_text_passwd, passwd hash and "default"', () => {
    const r = parseUserData(`#cloud-config
users:
  - default
  - name: alice
    ssh_authorized_keys: [ "${K2}" ]
    plain_text_passwd: s3cret
    lock_passwd: false
  - name: bob
    passwd: "$6$salt$abc"
  - name: carol
    plain_text_passwd: locked-by-default
`, 'cloud-user');
    expect(r.authorizedKeys).toEqual([]);
    expect(r.users).toEqual([
      { name: 'cloud-user' },
      { name: 'alice', authorizedKeys: [K2], password: 's3cret' },
      { name: 'bob', passwordHash: '$6$salt$abc', locked: true },
      { name: 'carol', password: 'locked-by-default', locked: true },
    ]);
    // chpasswd, which runs later, sets a new password and so unlocks it.
    const c = parseUserData('#cloud-config\nusers:\n  - name: dan\n    plain_text_passwd: a\nchpasswd:\n  list: |\n    dan:b\n');
    expect(c.users).toEqual([{ name: 'dan', password: 'b' }]);
  });

  test('ssh_pwauth and disable_root: cloud-init booleans; absent means the image default (password SSH off, root disabled)', () => {
    expect(parseUserData('#cloud-config\n').sshPwauth).toBeUndefined();
    expect(parseUserData('#cloud-config\nssh_pwauth: true\n').sshPwauth).toBe(true);
    expect(parseUserData('#cloud-config\nssh_pwauth: "yes"\n').sshPwauth).toBe(true);
    expect(parseUserData('#cloud-config\nssh_pwauth: false\n').sshPwauth).toBe(false);
    expect(parseUserData('#cloud-config\nssh_pwauth: unchanged\n').sshPwauth).toBeUndefined();
    expect(parseUserData('#cloud-config\n').disableRoot).toBe(true);
    expect(parseUserData('#cloud-config\ndisable_root: false\n').disableRoot).toBe(false);
    expect(parseUserData('#cloud-config\nuser: cloud\n').defaultUser).toBe('cloud');
  });

  test('chpasswd list (string and array) and users form', () => {
    const a = parseUserData('#cloud-config\nchpasswd:\n  list: |\n    root:toor\n    carol:RANDOM\n    dave:pw2\n');
    expect(a.users).toEqual([{ name: 'root', password: 'toor' }, { name: 'dave', password: 'pw2' }]);
    const b = parseUserData('#cloud-config\nchpasswd:\n  users:\n    - {name: erin, password: pw3, type: text}\n    - {name: frank, password: "$6$x$y", type: hash}\n');
    expect(b.users).toEqual([{ name: 'erin', password: 'pw3' }, { name: 'frank', passwordHash: '$6$x$y' }]);
  });

  test('non cloud-config payloads carry nothing; invalid YAML throws', () => {
    expect(parseUserData('#!/bin/sh\necho hi\n')).toEqual({ authorizedKeys: [], defaultUser: 'fedora', users: [], disableRoot: true });
    expect(parseUserData('')).toEqual({ authorizedKeys: [], defaultUser: 'fedora', users: [], disableRoot: true });
    expect(() => parseUserData('#cloud-config\nusers: [a\n')).toThrow(/invalid YAML/);
  });
});

test.describe('netplanToIpCommands', () => {
  const lease = { eth0: { address: '10.0.2.2/24', gateway: '10.0.2.1', mtu: 1400 } };

  test('no networkData: leased interfaces get DHCP (cloud-init fallback)', () => {
    expect(j(netplanToIpCommands(undefined, lease))).toEqual([
      'ip link set dev eth0 up',
      'ip link set dev eth0 mtu 1400',
      'ip addr add 10.0.2.2/24 dev eth0',
      'ip -4 route add default via 10.0.2.1 dev eth0',
    ]);
  });

  test('seed 8.2.2 dual-stack masquerade: dhcp4 + static v6 + gateway6', () => {
    const nd = 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    addresses: [ fd10:0:2::2/120 ]\n    gateway6: fd10:0:2::1\n';
    expect(j(netplanToIpCommands(nd, { eth0: { address: '10.0.2.2/24', gateway: '10.0.2.1' } }))).toEqual([
      'ip link set dev eth0 up',
      'ip addr add 10.0.2.2/24 dev eth0',
      'ip -6 addr add fd10:0:2::2/120 dev eth0 nodad',
      'ip -4 route add default via 10.0.2.1 dev eth0',
      'ip -6 route add default via fd10:0:2::1 dev eth0',
    ]);
  });

  test('dhcp4 without a lease leaves no IPv4', () => {
    const nd = 'version: 2\nethernets:\n  eth1:\n    dhcp4: true\n';
    expect(j(netplanToIpCommands(nd, lease))).toEqual([
      'ip link set dev eth1 up',
      'ip link set dev eth0 up', 'ip link set dev eth0 mtu 1400',
      'ip addr add 10.0.2.2/24 dev eth0', 'ip -4 route add default via 10.0.2.1 dev eth0',
    ]);
  });

  test('static addresses, gateway4, routes, mtu, match.macaddress + set-name', () => {
    const nd = `network:
  version: 2
  ethernets:
    secondary:
      match: { macaddress: "02:00:00:AA:BB:01" }
      set-name: net1
      mtu: 9000
      addresses: [192.168.10.5/24, "fd00:10::5/64"]
      gateway4: 192.168.10.1
      routes:
        - { to: 10.200.0.0/16, via: 192.168.10.254, metric: 100 }
        - { to: "fd00:99::/64", via: "fd00:10::1" }
        - { to: 172.16.0.0/12, via: 192.168.10.253, on-link: true, table: 100 }
`;
    expect(j(netplanToIpCommands(nd, {}, [{ name: 'eth1', mac: '02:00:00:aa:bb:01' }]))).toEqual([
      'ip link set dev eth1 down',
      'ip link set dev eth1 name net1',
      'ip link set dev net1 mtu 9000',
      'ip link set dev net1 up',
      'ip -4 addr add 192.168.10.5/24 dev net1',
      'ip -6 addr add fd00:10::5/64 dev net1 nodad',
      'ip -4 route add default via 192.168.10.1 dev net1',
      'ip -4 route add 10.200.0.0/16 via 192.168.10.254 dev net1 metric 100',
      'ip -6 route add fd00:99::/64 via fd00:10::1 dev net1',
      'ip -4 route add 172.16.0.0/12 via 192.168.10.253 dev net1 table 100 onlink',
    ]);
  });

  test('explicit mtu and gateway4 win over the lease; dhcp4-overrides use-routes', () => {
    const nd = 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    mtu: 1300\n    gateway4: 10.0.2.254\n';
    expect(j(netplanToIpCommands(nd, lease))).toEqual([
      'ip link set dev eth0 mtu 1300', 'ip link set dev eth0 up',
      'ip addr add 10.0.2.2/24 dev eth0', 'ip -4 route add default via 10.0.2.254 dev eth0',
    ]);
    const nd2 = 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    dhcp4-overrides: { use-routes: false }\n';
    expect(j(netplanToIpCommands(nd2, lease))).not.toContain('ip -4 route add default via 10.0.2.1 dev eth0');
  });

  test('mentioned without dhcp4: the lease is not used', () => {
    const nd = 'version: 2\nethernets:\n  eth0:\n    addresses: [10.0.2.50/24]\n';
    expect(j(netplanToIpCommands(nd, lease))).toEqual(['ip link set dev eth0 up', 'ip -4 addr add 10.0.2.50/24 dev eth0']);
  });

  test('nameservers → resolv.conf; version 1 rejected', () => {
    const nd = 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    nameservers: { addresses: [10.0.0.53, "fd00::53"], search: [corp.example] }\n';
    const p = parseNetplan(nd, lease);
    expect(p.nameservers).toEqual(['10.0.0.53', 'fd00::53']);
    expect(buildResolvConf('nameserver 10.96.0.10\nsearch ns1.svc.cluster.local svc.cluster.local\n', p.nameservers, p.search)).toBe(
      'nameserver 10.96.0.10\nsearch ns1.svc.cluster.local svc.cluster.local corp.example\nnameserver 10.0.0.53\nnameserver fd00::53\n');
    expect(() => parseNetplan('version: 1\nconfig: []\n')).toThrow(/version 2/);
  });
});

test('toStatus drops lo and link-local, keeps global v4/v6', () => {
  const s = toStatus([
    { ifname: 'lo', address: '00:00:00:00:00:00', mtu: 65536, operstate: 'UNKNOWN', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    { ifname: 'eth0', address: '02:00:00:00:00:01', mtu: 1400, operstate: 'UP', addr_info: [
      { family: 'inet', local: '10.0.2.2', prefixlen: 24, scope: 'global' },
      { family: 'inet6', local: 'fd10:0:2::2', prefixlen: 120, scope: 'global' },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ] },
  ]);
  expect(s).toEqual([{ interfaceName: 'eth0', mac: '02:00:00:00:00:01', ipAddresses: ['10.0.2.2/24', 'fd10:0:2::2/120'], mtu: 1400, state: 'UP' }]);
});
