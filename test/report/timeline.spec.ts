import { expect, test } from '@playwright/test';
import { timelineSvg, type TimelinePoint } from '../../src/report/timeline.ts';
import { checkWellFormed } from './xml.ts';

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

function points(n: number, lost: (i: number) => boolean): TimelinePoint[] {
  return Array.from({ length: n }, (_, i) => (lost(i) ? { tMs: i * 10, ok: false } : { tMs: i * 10, ok: true, rttMs: 0.2 + (i % 7) / 10 }));
}

test('timeline: well-formed; one band per outage with its length; series broken at the gap; events', () => {
  const pts = points(3000, (i) => i >= 1000 && i < 1050);
  const svg = timelineSvg(pts, { title: 'downtime <a→b>', outages: [{ startMs: 10_000, endMs: 10_500, durationMs: 500 }], events: [{ tMs: 9_000, label: 'Running' }] });
  expect(checkWellFormed(svg)).toBeUndefined();
  expect(svg).toContain('downtime &lt;a→b&gt;');
  expect(count(svg, /class="gap"/g)).toBe(1);
  expect(svg).toContain('data-duration-ms="500"');
  expect(svg).toContain('>500 ms<');
  expect(count(svg, /class="series"/g)).toBe(2);
  expect(count(svg, /class="event"/g)).toBe(1);
  expect(svg).toContain('3000 requests, 50 without reply');
  // Bucketed per pixel column: 3000 samples do not make 3000 points.
  const pairs = [...svg.matchAll(/class="series"[^>]*points="([^"]*)"/g)].flatMap((m) => m[1].split(' '));
  expect(pairs.length).toBeLessThan(800);
});

test('timeline: a clean run is one series and no band; an empty one still renders', () => {
  const svg = timelineSvg(points(200, () => false), { title: 'clean' });
  expect(checkWellFormed(svg)).toBeUndefined();
  expect(count(svg, /class="gap"/g)).toBe(0);
  expect(count(svg, /class="lost"/g)).toBe(0);
  expect(count(svg, /class="series"/g)).toBe(1);
  const none = timelineSvg([], { title: 'none' });
  expect(checkWellFormed(none)).toBeUndefined();
  expect(none).toContain('no samples');
});
