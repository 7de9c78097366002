import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { parseIperf3, tcpThroughput, udpThroughput } from '../../src/probes/throughput.ts';
import { backgroundReply, FakeExec } from './fake-exec.ts';

// Fixtures are real iperf 3.12 output captured on loopback.
const fixture = (f: string): string => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

test('TCP: receiver rate, retransmits, per-interval samples; server started and stopped', async () => {
  const server = new FakeExec((c) => backgroundReply(c) ?? '');
  const client = new FakeExec(() => fixture('iperf3-tcp.json'));
  const r = await tcpThroughput(client, server, '10.244.1.17', { seconds: 3 });
  expect(client.commands).toEqual(["iperf3 -c 10.244.1.17 -p 5201 -J -t 3 --connect-timeout 3000"]);
  expect(server.commands[0]).toMatch(/^nohup iperf3 -s -1 -p 5201 <\/dev\/null/);
  expect(server.commands.at(-1)).toMatch(/^kill 4242/);
  const j = JSON.parse(fixture('iperf3-tcp.json'));
  expect(r.protocol).toBe('tcp');
  expect(r.bitsPerSecond).toBe(j.end.sum_received.bits_per_second);
  expect(r.sentBitsPerSecond).toBe(j.end.sum_sent.bits_per_second);
  expect(r.retransmits).toBe(j.end.sum_sent.retransmits);
  expect(r.intervals).toHaveLength(3);
  expect(r.stats.count).toBe(3);
  expect(r.lossPct).toBeUndefined();
  expect(r.version).toBe('iperf 3.12');
});

test('UDP: loss, jitter from the receiver side, -u -b on the command', async () => {
  const server = new FakeExec((c) => backgroundReply(c) ?? '');
  const client = new FakeExec(() => fixture('iperf3-udp.json'));
  const r = await udpThroughput(client, server, 'fd10::5', { bitrate: '500M', family: 6, port: 5301, parallel: 2, reverse: true });
  expect(client.commands[0]).toBe("iperf3 -c fd10::5 -p 5301 -J -t 3 --connect-timeout 3000 -6 -u -b 500M -P 2 -R");
  const j = JSON.parse(fixture('iperf3-udp.json'));
  expect(r.protocol).toBe('udp');
  expect(r.lossPct).toBe(j.end.sum_received.lost_percent);
  expect(r.jitterMs).toBe(j.end.sum_received.jitter_ms);
  expect(r.lostPackets).toBe(j.end.sum_received.lost_packets);
  expect(r.retransmits).toBeUndefined();
  expect(r.intervals.length).toBeGreaterThan(0);
});

test('parallel reverse v6 fixture parses', () => {
  const r = parseIperf3(fixture('iperf3-tcp-v6-p2-reverse.json'));
  expect(r.bitsPerSecond).toBeGreaterThan(0);
  expect(r.retransmits).toBeGreaterThanOrEqual(0);
});

test('iperf3 error JSON throws with its text, and the server is still stopped', async () => {
  const server = new FakeExec((c) => backgroundReply(c) ?? '');
  const client = new FakeExec(() => ({ stdout: fixture('iperf3-error.json'), code: 1 }));
  await expect(tcpThroughput(client, server, '10.0.0.9')).rejects.toThrow('iperf3: unable to connect to server: Connection refused');
  expect(server.commands.at(-1)).toMatch(/^kill 4242/);
});

test('non-JSON output throws with stderr', () => {
  expect(() => parseIperf3('', 'sh: iperf3: not found')).toThrow(/did not print JSON: sh: iperf3: not found/);
});

test('server that never listens is an error naming the port', async () => {
  const server = new FakeExec((c) => (c.startsWith('nohup') ? '77\n' : c.includes('ss -l') ? { stdout: 'DIED\niperf3: error - unable to start listener\n', code: 3 } : ''));
  const client = new FakeExec(() => '');
  await expect(tcpThroughput(client, server, '10.0.0.9')).rejects.toThrow(/not listening on tcp\/5201.*unable to start listener/s);
  expect(client.commands).toEqual([]);
  expect(server.commands.at(-1)).toMatch(/^kill 77/);
});
