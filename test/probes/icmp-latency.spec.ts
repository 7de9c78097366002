import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { icmpLatency, parsePing } from '../../src/probes/icmp-latency.ts';
import { heldOutput } from '../../src/probes/target.ts';
import { FakeExec } from './fake-exec.ts';

const fixture = (f: string): string => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

test('v4 with a lost seq: per-packet samples, loss from the missing seq', async () => {
  const g = new FakeExec(() => fixture('ping-v4-loss.txt'));
  const r = await icmpLatency(g, '10.244.1.17', { count: 5, family: 4, size: 56 });
  expect(g.commands).toEqual([heldOutput("ping -n -c 5 -i 0.2 -W 2 -4 -s 56 10.244.1.17")]);
  expect(r.command).toBe("ping -n -c 5 -i 0.2 -W 2 -4 -s 56 10.244.1.17");
  expect(r.tool).toBe('iputils ping');
  expect(r.address).toBe('10.244.1.17');
  expect(r.samples).toEqual([0.512, 0.433, 0.401, 1.2]);
  expect(r.replies[0]).toEqual({ seq: 1, ttl: 63, timeMs: 0.512, dup: false });
  expect(r.lostSeqs).toEqual([3]);
  expect(r).toMatchObject({ sent: 5, received: 4, duplicates: 0 });
  expect(r.stats).toMatchObject({ count: 4, min: 0.401, max: 1.2, lossPct: 20 });
});

test('v6 with a duplicate: DUP not counted as a sample, no loss', async () => {
  const g = new FakeExec(() => fixture('ping-v6-dup.txt'));
  const r = await icmpLatency(g, 'fd10:244::1:11', { count: 4, family: 6 });
  expect(g.commands[0]).toBe(heldOutput("ping -n -c 4 -i 0.2 -W 2 -6 fd10:244::1:11"));
  expect(r.address).toBe('fd10:244::1:11');
  expect(r.samples).toEqual([0.61, 0.58, 0.7, 0.65]);
  expect(r.duplicates).toBe(1);
  expect(r.replies.filter((x) => x.dup)).toEqual([{ seq: 2, ttl: 64, timeMs: 0.59, dup: true }]);
  expect(r.stats.lossPct).toBe(0);
  expect(r.lostSeqs).toEqual([]);
});

test('new iputils v6 header without space parses too', () => {
  const r = parsePing('PING ::1(::1) 56 data bytes\n64 bytes from ::1: icmp_seq=1 ttl=64 time=0.065 ms\n\n--- ::1 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\n');
  expect(r.address).toBe('::1');
  expect(r.samples).toEqual([0.065]);
});

test('exit 1 with no replies is a result with 100% loss, not an error', async () => {
  const g = new FakeExec(() => ({ stdout: fixture('ping-v4-all-lost.txt'), code: 1 }));
  const r = await icmpLatency(g, '10.99.0.77', { count: 3 });
  expect(r).toMatchObject({ sent: 3, received: 0, errors: 3, exitCode: 1, lostSeqs: [1, 2, 3] });
  expect(r.stats).toMatchObject({ count: 0, lossPct: 100 });
});

test('unknown host is an error carrying stderr', async () => {
  const g = new FakeExec(() => ({ stderr: 'ping: nosuch.invalid: Name or service not known\n', code: 2 }));
  await expect(icmpLatency(g, 'nosuch.invalid')).rejects.toThrow(/exited 2: ping: nosuch.invalid: Name or service not known/);
});

test('unparseable output is an error', async () => {
  const g = new FakeExec(() => 'something else entirely\n');
  await expect(icmpLatency(g, 'x')).rejects.toThrow(/no summary line/);
  const g2 = new FakeExec(() => '--- x ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss\n');
  await expect(icmpLatency(g2, 'x')).rejects.toThrow(/parsed 0 distinct replies but ping reports 2/);
});
