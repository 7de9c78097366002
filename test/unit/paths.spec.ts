// expectBlocked only passes when the control on the same path answered first; path names read
// like cilium's ('a → b 10.0.0.2:80/tcp').
import { expect, test } from '@playwright/test';
import { expectBlocked, expectReachable, icmpPath, mtuPath, tcpPath, udpPath, type PathProbe } from '../../src/fixtures/paths.ts';
import { FakeExec } from '../probes/fake-exec.ts';

const trailer = (rc: number, body = '') => `${body}\nKVNET rc=${rc} ns=1000000\n`;
/** A guest whose socat connects to the allowed ports only. */
function guest(allowed: number[]): { name: string; guest: FakeExec } {
  return {
    name: 'client',
    guest: new FakeExec((c) => {
      const port = Number(/TCP:[^:]+:(\d+)/.exec(c)?.[1] ?? /UDP:[^:]+:(\d+)/.exec(c)?.[1]);
      if (!allowed.includes(port)) return { stdout: trailer(1), stderr: 'socat: Connection refused' };
      return trailer(0, c.includes('UDP:') ? 'kvnet-ping' : 'hello from far');
    }),
  };
}
const far = { name: 'far', host: '10.128.1.5' };

test('path names', () => {
  const g = guest([]);
  expect(tcpPath(g, far, 8080).path).toBe('client → far 10.128.1.5:8080/tcp');
  expect(udpPath(g, { name: 'dns', host: 'fd00::10' }, 53).path).toBe('client → dns [fd00::10]:53/udp');
  expect(icmpPath({ ...g, name: 'c' }, { name: 'a', host: '10.200.0.1' }, { dev: 'vlan 200' }).path).toBe('c (vlan 200) → a 10.200.0.1 icmp');
  expect(mtuPath(g, far, 8900).path).toBe('client → far 10.128.1.5 icmp df 8900');
});

test('blocked path with an answering control passes', async () => {
  const g = guest([8080]);
  await expectBlocked(tcpPath(g, far, 9090), { control: tcpPath(g, far, 8080) });
  // The control ran first, on the same client and host.
  expect(g.guest.commands[0]).toContain('TCP:10.128.1.5:8080');
  expect(g.guest.commands[1]).toContain('TCP:10.128.1.5:9090');
});

test('a down control makes the check inconclusive, and the blocked path is not even tried', async () => {
  const g = guest([]);
  await expect(expectBlocked(tcpPath(g, far, 9090), { control: tcpPath(g, far, 8080) })).rejects.toThrow('inconclusive: control client → far 10.128.1.5:8080/tcp is down: socat: Connection refused');
  expect(g.guest.commands).toHaveLength(1);
});

test('a blocked path that answers fails naming the path', async () => {
  const g = guest([8080, 9090]);
  await expect(expectBlocked(tcpPath(g, far, 9090), { control: tcpPath(g, far, 8080) })).rejects.toThrow('client → far 10.128.1.5:9090/tcp must be blocked, but it answered');
});

test('expectReachable fails with the path and the detail; expectText must be in the reply', async () => {
  const g = guest([8080]);
  await expectReachable(tcpPath(g, far, 8080, { expectText: 'hello' }));
  await expect(expectReachable(tcpPath(g, far, 8080, { expectText: 'backend-b' }))).rejects.toThrow(/client → far 10\.128\.1\.5:8080\/tcp must answer: connected, but the reply .* lacks "backend-b"/);
  await expect(expectReachable(udpPath(g, far, 53))).rejects.toThrow('client → far 10.128.1.5:53/udp must answer: socat: Connection refused');
});

test('mtuPath: full MTU crosses, or the detail says what the path carries', async () => {
  const limit = (max: number) => ({ name: 'a', guest: new FakeExec((c) => {
    const size = Number(/-s (\d+)/.exec(c)?.[1]);
    return size <= max ? '64 bytes from 10.0.0.2: icmp_seq=1\n' : { code: 1, stdout: '' };
  }) });
  expect(await mtuPath(limit(8972), far, 9000).run()).toEqual({ ok: true, detail: 'a 8972-byte DF payload (9000-byte packet) crossed' });
  const r = await mtuPath(limit(8472), far, 9000).run();
  expect(r).toEqual({ ok: false, detail: 'the path carries 8500-byte packets, not 9000 (largest DF payload 8472)' });
});

test('a probe that throws propagates (an infrastructure error is not "blocked")', async () => {
  const boom: PathProbe = { path: 'x → y', run: () => Promise.reject(new Error('ssh: connection lost')) };
  await expect(expectBlocked(boom, { control: tcpPath(guest([1]), far, 1) })).rejects.toThrow('ssh: connection lost');
});
