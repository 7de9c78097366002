// The downtime sampler's parsing of `ping -D -O` output: send times, outages, the settled tail.
import { expect, test } from '@playwright/test';
import { downtimeOf, downtimePingCommand, parseDowntimePing, settled } from '../../src/probes/downtime.ts';

/** ping -D -O output for requests every 10 ms from t=1000 s; `lost` seqs get no reply (and their "no answer yet" line). */
function pingOutput(n: number, lost: Set<number>, rtt = 0.3): string {
  const lines = ['PING 10.128.1.5 (10.128.1.5) 56(84) bytes of data.'];
  for (let s = 1; s <= n; s++) {
    const sentAt = 1000 + (s - 1) * 0.01;
    if (lost.has(s)) {
      // Printed as the next request goes out.
      if (s < n) lines.push(`[${(sentAt + 0.01).toFixed(6)}] no answer yet for icmp_seq=${s}`);
    } else {
      lines.push(`[${(sentAt + rtt / 1000).toFixed(6)}] 64 bytes from 10.128.1.5: icmp_seq=${s} ttl=63 time=${rtt} ms`);
    }
  }
  lines.push('', '--- 10.128.1.5 ping statistics ---', `${n} packets transmitted, ${n - lost.size} received, ${Math.round(100 * lost.size / n)}% packet loss, time ${n * 10}ms`);
  return lines.join('\n');
}

test('a clean run has no outage and send times 10 ms apart', () => {
  const tl = parseDowntimePing(pingOutput(100, new Set()), 10);
  expect(tl).toHaveLength(100);
  expect(tl[0].tMs).toBe(0);
  expect(tl[99].tMs).toBeCloseTo(990, 1);
  expect(tl[50].atMs).toBeCloseTo(1_000_500, 1);
  const d = downtimeOf(tl, 10);
  expect(d).toMatchObject({ longestGapMs: 0, totalMs: 0, lostCount: 0, sent: 100, outages: [] });
});

test('a cut of 30 requests reads as a 300 ms gap, from the first unanswered request to the first answered after', () => {
  const lost = new Set(Array.from({ length: 30 }, (_, i) => 41 + i));
  lost.add(90);
  const d = downtimeOf(parseDowntimePing(pingOutput(100, lost), 10), 10);
  expect(d.outages).toHaveLength(2);
  expect(d.outages[0]).toMatchObject({ lost: 30, open: false });
  expect(d.outages[0].startMs).toBeCloseTo(400, 1);
  expect(d.longestGapMs).toBeCloseTo(300, 1);
  expect(d.totalMs).toBeCloseTo(310, 1);
  expect(d.lostCount).toBe(31);
});

test('requests with no line at all are placed between their neighbours; duplicates and ICMP errors are not replies', () => {
  const text = [
    '[1000.000300] 64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.3 ms',
    '[1000.010300] 64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=0.3 ms',
    '[1000.010400] 64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=0.4 ms (DUP!)',
    '[1000.020000] From 10.0.0.254 icmp_seq=3 Destination Host Unreachable',
    '[1000.040300] 64 bytes from 10.0.0.1: icmp_seq=5 ttl=64 time=0.3 ms',
    '5 packets transmitted, 3 received, +1 errors, 40% packet loss, time 40ms',
  ].join('\n');
  const tl = parseDowntimePing(text, 10);
  expect(tl.map((s) => s.ok)).toEqual([true, true, false, false, true]);
  expect(tl[1].rttMs).toBe(0.3);
  expect(tl[2].tMs).toBeCloseTo(20, 1);
  expect(tl[3].tMs).toBeCloseTo(30, 1);
  expect(downtimeOf(tl, 10).longestGapMs).toBeCloseTo(20, 1);
});

test('the unanswered tail of the last 200 ms is undecided, an older one is an open outage', () => {
  const tail = parseDowntimePing(pingOutput(100, new Set([99, 100])), 10);
  expect(settled(tail, 200)).toHaveLength(98);
  expect(downtimeOf(settled(tail, 200), 10).lostCount).toBe(0);
  const down = settled(parseDowntimePing(pingOutput(100, new Set(Array.from({ length: 50 }, (_, i) => 51 + i))), 10), 200);
  const d = downtimeOf(down, 10);
  expect(d.outages).toHaveLength(1);
  expect(d.outages[0]).toMatchObject({ open: true, lost: 30 });
  expect(d.longestGapMs).toBeCloseTo(300, 1);
});

test('the command: 10 ms interval, timestamps, unanswered reports, a deadline; -6 for an IPv6 literal', () => {
  expect(downtimePingCommand('10.0.0.1', 10, 600)).toEqual(['ping', '-n', '-D', '-O', '-i', '0.010', '-W', '1', '-w', '600', '10.0.0.1']);
  expect(downtimePingCommand('fd01::5', 10, 60)).toContain('-6');
});

test('requests held up and answered late in a burst are no loss, but they are an interruption', () => {
  // Requests every 10 ms; 20..34 wait for a moved link and are all answered at t = 350 ms.
  const tl = Array.from({ length: 60 }, (_, i) => {
    const tMs = i * 10;
    const rttMs = i >= 20 && i < 35 ? 350 - tMs : 0.3;
    return { seq: i + 1, tMs, atMs: 1_000_000 + tMs, ok: true, rttMs };
  });
  const d = downtimeOf(tl, 10);
  expect(d.lostCount, 'nothing was lost').toBe(0);
  expect(d.longestGapMs).toBe(0);
  // Replies stop after the one sent at 190 ms (arrives 190.3) and resume at 350: 159.7 ms − one interval.
  expect(d.longestSilenceMs).toBeCloseTo(149.7, 1);
  expect(d.interruptionMs).toBe(d.longestSilenceMs);
  // Control: the same timeline answered on time has no silence beyond the interval.
  expect(downtimeOf(tl.map((x) => ({ ...x, rttMs: 0.3 })), 10).interruptionMs).toBe(0);
});
