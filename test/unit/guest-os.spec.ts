// GuestOs: argv quoted by the one function, root through `sudo -n` only for non-root users.
import { expect, test } from '@playwright/test';
import { GuestOs, shellLine } from '../../src/guest/os.ts';
import { FakeExec } from '../probes/fake-exec.ts';
import { localExec } from '../probes/local-exec.ts';

test('shellLine leaves plain words alone and single-quotes the rest', () => {
  expect(shellLine(['ping', '-c', '1', 'fd00::1', 'TCP:10.0.0.1:80,connect-timeout=3'])).toBe('ping -c 1 fd00::1 TCP:10.0.0.1:80,connect-timeout=3');
  expect(shellLine(['printf', '%s', "it's $HOME", '', 'a b', '[::1]:80'])).toBe(`printf %s 'it'\\''s $HOME' '' 'a b' '[::1]:80'`);
  expect(() => shellLine([])).toThrow(/empty/);
});

test('shellLine round-trips arbitrary words through a real sh', async () => {
  const words = ["it's", '$(echo x)', '`id`', 'a\nb', '*', '-n', 'ü', '"q"', '\\'];
  const r = await localExec.exec(`for w in ${shellLine(words.slice(0, 1))} ${shellLine(words.slice(1))}; do printf '%s\\0' "$w"; done`);
  expect(r.stdout.split('\0').slice(0, -1)).toEqual(words);
});

test('root: sudo -n for a non-root login (asked once), nothing for root', async () => {
  const user = new FakeExec((c) => (c === 'id -u' ? '1000\n' : ''));
  const os = new GuestOs(user);
  await os.run(['nft', 'list', 'ruleset'], { root: true });
  await os.run(['ip', 'link', 'set', 'dev', 'eth0', 'address', '02:00:00:00:00:01'], { root: true });
  await os.run(['ip', 'addr']);
  expect(user.commands).toEqual(['id -u', 'sudo -n nft list ruleset', 'sudo -n ip link set dev eth0 address 02:00:00:00:00:01', 'ip addr']);
  const root = new FakeExec((c) => (c === 'id -u' ? '0\n' : ''));
  await new GuestOs(root).run(['nft', 'list', 'ruleset'], { root: true });
  expect(root.commands).toEqual(['id -u', 'nft list ruleset']);
});

test('runOk names the argv, exit code and stderr', async () => {
  const g = new FakeExec(() => ({ code: 2, stderr: 'Cannot find device "eth9"' }));
  await expect(new GuestOs(g, { sudo: false }).runOk(['ip', 'link', 'show', 'dev', 'eth9'])).rejects.toThrow('fake/vm: `ip link show dev eth9` exited 2: Cannot find device "eth9"');
});

test('addresses and link parse ip -j; withMac always restores the old MAC', async () => {
  const g = new FakeExec((c) => {
    if (c.startsWith('ip -j -4 addr')) return JSON.stringify([{ addr_info: [{ family: 'inet', local: '10.0.2.2', prefixlen: 24 }] }]);
    if (c.startsWith('ip -j link')) return JSON.stringify([{ mtu: 1400, address: '02:00:00:00:00:aa', flags: ['BROADCAST', 'UP'] }]);
    if (c.includes('address 02:00:00:00:00:bb')) return '';
    return '';
  });
  const os = new GuestOs(g, { sudo: true });
  expect(await os.addresses('eth0', 4)).toEqual(['10.0.2.2/24']);
  expect(await os.link('eth0')).toEqual({ mtu: 1400, mac: '02:00:00:00:00:aa', up: true });
  await expect(os.withMac('eth0', '02:00:00:00:00:bb', async () => { throw new Error('inside'); })).rejects.toThrow('inside');
  expect(g.commands.slice(-2)).toEqual(['sudo -n ip link set dev eth0 address 02:00:00:00:00:bb', 'sudo -n ip link set dev eth0 address 02:00:00:00:00:aa']);
});

test('reaches pings until a reply, bounded by tries', async () => {
  let n = 0;
  const g = new FakeExec(() => ({ code: ++n < 3 ? 1 : 0 }));
  expect(await new GuestOs(g, { sudo: false }).reaches('10.0.0.2', { tries: 5, dev: 'eth1' })).toBe(true);
  expect(g.commands).toEqual(Array(3).fill('ping -4 -c 1 -W 1 -I eth1 10.0.0.2'));
  const never = new FakeExec(() => ({ code: 1 }));
  expect(await new GuestOs(never, { sudo: false }).reaches('fd00::2', { tries: 2 })).toBe(false);
  expect(never.commands).toEqual(['ping -6 -c 1 -W 1 fd00::2', 'ping -6 -c 1 -W 1 fd00::2']);
});

test('requireTools names what is missing and where to add it; cloudInitDone is a no-op without cloud-init', async () => {
  const os = new GuestOs(localExec, { sudo: false });
  await os.requireTools(['sh']);
  await expect(os.requireTools(['sh', 'kvnet-no-such-tool'])).rejects.toThrow(/lacks kvnet-no-such-tool: .*guest\.tools/);
  const noCi = new FakeExec(() => '');
  await new GuestOs(noCi, { sudo: false }).cloudInitDone();
  expect(noCi.commands[0]).toMatch(/^command -v cloud-init >\/dev\/null 2>&1 \|\| exit 0; cloud-init status --wait/);
  await expect(new GuestOs(new FakeExec(() => ({ code: 1, stdout: 'status: error' })), { sudo: false }).cloudInitDone()).rejects.toThrow(/cloud-init did not finish \(exited 1\)/);
});
