import { test, expect } from '@playwright/test';
import { tcpConnect, udpExchange, startUdpEcho, startTcpResponder } from '../../src/probes/reachability.ts';
import { egressSource, normalizeAddress } from '../../src/probes/egress-source.ts';
import { resolve } from '../../src/probes/dns.ts';
import { backgroundReply, FakeExec } from './fake-exec.ts';

test('tcpConnect: brackets IPv6, reports timing', async () => {
  const g = new FakeExec(() => '\nKVNET rc=0 ns=2500000\n');
  const r = await tcpConnect(g, 'fd00::5', 8080, { timeoutMs: 2000 });
  expect(g.commands[0]).toContain("socat -u /dev/null 'TCP:[fd00::5]:8080,connect-timeout=2.000'");
  expect(r).toEqual({ reachable: true, rttMs: 2.5, command: "socat -u /dev/null 'TCP:[fd00::5]:8080,connect-timeout=2.000'", tool: 'socat' });
});

test('tcpConnect: refused is unreachable with socat stderr', async () => {
  const g = new FakeExec(() => ({ stdout: '\nKVNET rc=1 ns=900000\n', stderr: 'socat[1] E connect(5, AF=2 10.0.0.1:80, 16): Connection refused\n' }));
  const r = await tcpConnect(g, '10.0.0.1', 80);
  expect(r.reachable).toBe(false);
  expect(r.error).toMatch(/Connection refused/);
});

test('tcpConnect readReply returns the responder text', async () => {
  const g = new FakeExec(() => 'hello from b\nKVNET rc=0 ns=1000000\n');
  const r = await tcpConnect(g, '10.0.0.1', 80, { readReply: true });
  expect(r.reply).toBe('hello from b');
  expect(g.commands[0]).toContain("-u TCP:10.0.0.1:80,connect-timeout=3.000 STDOUT");
});

test('udpExchange: echo reply is reachable; silence is not', async () => {
  const ok = new FakeExec(() => 'kvnet-ping\nKVNET rc=0 ns=1200000\n');
  const r = await udpExchange(ok, '10.0.0.1', 5353);
  expect(r).toMatchObject({ reachable: true, reply: 'kvnet-ping', rttMs: 1.2 });
  expect(ok.commands[0]).toContain("printf %s kvnet-ping | socat -t 3.000 -T 3.000 - UDP:10.0.0.1:5353,readbytes=10");
  const silent = new FakeExec(() => '\nKVNET rc=0 ns=3000000000\n');
  expect(await udpExchange(silent, '10.0.0.1', 5353)).toMatchObject({ reachable: false, error: 'no UDP reply within 3000ms' });
});

test('responders run socat in the background and stop by pid', async () => {
  const g = new FakeExec((c) => backgroundReply(c) ?? '');
  const stopUdp = await startUdpEcho(g, 5353);
  expect(g.commands[0]).toMatch(/^nohup socat UDP6-RECVFROM:5353,ipv6only=0,reuseaddr,fork PIPE/);
  expect(g.commands[1]).toContain('ss -lun');
  await stopUdp();
  expect(g.commands.at(-1)).toMatch(/^kill 4242/);
  const h = new FakeExec((c) => backgroundReply(c) ?? '');
  const stopTcp = await startTcpResponder(h, 8080, "it's b", { family: 4 });
  expect(h.commands[0]).toMatch(/^printf %s 'it'\\''s b' > \/tmp\/kvnet-resp-8080-/);
  expect(h.commands[1]).toMatch(/^nohup socat -U TCP4-LISTEN:8080,reuseaddr,fork OPEN:\/tmp\/kvnet-resp-8080-/);
  await stopTcp();
  expect(h.commands.at(-1)).toMatch(/^rm -f \/tmp\/kvnet-resp-8080-/);
});

test('egressSource normalizes $SOCAT_PEERADDR and stops the listener', async () => {
  const peer = new FakeExec((c) => backgroundReply(c) ?? '');
  const from = new FakeExec(() => '[0000:0000:0000:0000:0000:ffff:0a00:0005]\n');
  const r = await egressSource(from, peer, '10.0.0.9', 7000);
  expect(r.sourceAddress).toBe('10.0.0.5');
  expect(peer.commands[0]).toContain("TCP4-LISTEN:7000,reuseaddr 'SYSTEM:echo $SOCAT_PEERADDR'");
  expect(peer.commands.at(-1)).toMatch(/^kill 4242/);
  expect(normalizeAddress('[fd00:0000:0000:0000:0000:0000:0000:0001]')).toBe('fd00::1');
  expect(normalizeAddress('192.0.2.7')).toBe('192.0.2.7');
});

test('resolve: one exec for N timed lookups, failures counted', async () => {
  const out = [
    'S 0 1500000', 'A 10.96.0.1       STREAM kubernetes.default.svc.cluster.local', 'A 10.96.0.1       DGRAM  ', 'A 10.96.0.1       RAW    ',
    'S 2 900000',
    'S 0 2500000', 'A 10.96.0.1       STREAM kubernetes.default.svc.cluster.local',
  ].join('\n');
  const g = new FakeExec(() => out + '\n');
  const r = await resolve(g, 'kubernetes.default', { family: 4, count: 3 });
  expect(g.commands).toHaveLength(1);
  expect(g.commands[0]).toContain("getent ahostsv4 kubernetes.default");
  expect(r).toMatchObject({ addresses: ['10.96.0.1'], samples: [1.5, 2.5], failures: 1, tool: 'getent' });
  expect(r.stats.lossPct).toBeCloseTo(100 / 3);
});
