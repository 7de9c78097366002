// Real tools on this machine's loopback through `sh -c`: proves the parsers match real output.
import { execSync } from 'node:child_process';
import { test, expect } from '@playwright/test';
import { icmpLatency } from '../../src/probes/icmp-latency.ts';
import { tcpThroughput, udpThroughput } from '../../src/probes/throughput.ts';
import { pathMtu } from '../../src/probes/path-mtu.ts';
import { tcpConnect, udpExchange, startTcpResponder, startUdpEcho } from '../../src/probes/reachability.ts';
import { egressSource } from '../../src/probes/egress-source.ts';
import { resolve } from '../../src/probes/dns.ts';
import { localExec } from './local-exec.ts';

const has = (tool: string): boolean => {
  try { execSync(`command -v ${tool}`, { stdio: 'ignore' }); return true; } catch { return false; }
};

test.describe('live loopback', () => {
  test.describe.configure({ mode: 'serial' });

  test('icmpLatency to 127.0.0.1 and ::1', async () => {
    test.skip(!has('ping'), 'ping not installed');
    const r = await icmpLatency(localExec, '127.0.0.1', { count: 5 });
    expect(r).toMatchObject({ sent: 5, received: 5, address: '127.0.0.1' });
    expect(r.samples).toHaveLength(5);
    expect(r.stats.max).toBeLessThan(50);
    const r6 = await icmpLatency(localExec, '::1', { count: 2, family: 6 });
    expect(r6.received).toBe(2);
  });

  test('tcpThroughput and udpThroughput to 127.0.0.1 for 1 s', async () => {
    test.skip(!has('iperf3') || !has('ss'), 'iperf3/ss not installed');
    const r = await tcpThroughput(localExec, localExec, '127.0.0.1', { seconds: 1, port: 5311 });
    expect(r.bitsPerSecond).toBeGreaterThan(1e8);
    expect(r.intervals.length).toBeGreaterThanOrEqual(1);
    const u = await udpThroughput(localExec, localExec, '127.0.0.1', { seconds: 1, port: 5311, bitrate: '50M' });
    expect(u.lossPct).toBeGreaterThanOrEqual(0);
    expect(u.jitterMs).toBeGreaterThanOrEqual(0);
    expect(execSync('ss -ltn').toString()).not.toMatch(/:5311\s/); // server gone
  });

  test('pathMtu on lo is capped at hi 9000 (lo MTU 65536)', async () => {
    test.skip(!has('ping'), 'ping not installed');
    const r = await pathMtu(localExec, '127.0.0.1', { hi: 9000 });
    expect(r).toMatchObject({ maxPayload: 9000, pathMtu: 9028, capped: true });
  });

  test('socat probes: tcp responder, udp echo, egress source', async () => {
    test.skip(!has('socat') || !has('ss'), 'socat/ss not installed');
    const stopTcp = await startTcpResponder(localExec, 5312, 'hello from lo');
    try {
      expect(await tcpConnect(localExec, '127.0.0.1', 5312, { readReply: true })).toMatchObject({ reachable: true, reply: 'hello from lo' });
      expect(await tcpConnect(localExec, '::1', 5312)).toMatchObject({ reachable: true });
    } finally { await stopTcp(); }
    const refused = await tcpConnect(localExec, '127.0.0.1', 5312, { timeoutMs: 1000 });
    expect(refused.reachable).toBe(false);
    expect(refused.error).toMatch(/refused/i);
    const stopUdp = await startUdpEcho(localExec, 5313);
    try {
      expect(await udpExchange(localExec, '::1', 5313, { payload: 'abc' })).toMatchObject({ reachable: true, reply: 'abc' });
    } finally { await stopUdp(); }
    expect((await egressSource(localExec, localExec, '127.0.0.1', 5314)).sourceAddress).toBe('127.0.0.1');
    expect((await egressSource(localExec, localExec, '::1', 5314)).sourceAddress).toBe('::1');
  });

  test('resolve localhost with getent', async () => {
    test.skip(!has('getent'), 'getent not installed');
    const r = await resolve(localExec, 'localhost', { family: 4, count: 3 });
    expect(r.failures).toBe(0);
    expect(r.samples).toHaveLength(3);
    expect(r.addresses).toContain('127.0.0.1');
  });

  test('a lookup bounded with limitS runs under timeout and still answers', async () => {
    test.skip(!has('getent') || !has('timeout'), 'getent or timeout not installed');
    const r = await resolve(localExec, 'localhost', { family: 4, limitS: 2 });
    expect(r.command).toContain("timeout 2 getent");
    expect(r.addresses).toContain('127.0.0.1');
  });
});
