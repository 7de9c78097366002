import { expect, test } from '@playwright/test';
import { barsSvg, escapeXml, histogramSvg, lineSvg, niceTicks } from '../../src/report/svg.ts';
import { checkWellFormed } from './xml.ts';

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test.describe('svg charts', () => {
  test('histogram: well-formed, one bar per bin, counts add up, p50/p99 markers', () => {
    const samples = Array.from({ length: 500 }, (_, i) => 0.2 + (i % 37) / 50);
    const svg = histogramSvg(samples, { title: 'ICMP RTT <pod→vm>', unit: 'ms', bins: 12 });
    expect(checkWellFormed(svg)).toBeUndefined();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 640 360"/);
    expect(svg).toContain('ICMP RTT &lt;pod→vm&gt;');
    expect(count(svg, /class="bar"/g)).toBe(12);
    const total = [...svg.matchAll(/data-count="(\d+)"/g)].reduce((a, m) => a + Number(m[1]), 0);
    expect(total).toBe(500);
    expect(count(svg, /class="marker"/g)).toBe(2);
    expect(svg).toContain('ms (n=500, 12 bins)');
  });

  test('histogram: automatic bins are bounded; degenerate and empty inputs still render', () => {
    const auto = histogramSvg(Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 10), { title: 't', unit: 'ms' });
    const bins = count(auto, /class="bar"/g);
    expect(bins).toBeGreaterThanOrEqual(5);
    expect(bins).toBeLessThanOrEqual(40);
    const same = histogramSvg([3, 3, 3], { title: 'same', unit: 'ms' });
    expect(checkWellFormed(same)).toBeUndefined();
    expect(count(same, /class="bar"/g)).toBe(1);
    const none = histogramSvg([NaN], { title: 'none', unit: 'ms' });
    expect(checkWellFormed(none)).toBeUndefined();
    expect(none).toContain('no samples');
  });

  test('line: one point per interval, polyline, mean, axis labels', () => {
    const pts = [9.1, 9.4, 9.3, 8.7, 9.5];
    const svg = lineSvg(pts, { title: 'TCP throughput', unit: 'Gbit/s', xLabel: 'second' });
    expect(checkWellFormed(svg)).toBeUndefined();
    expect(count(svg, /class="point"/g)).toBe(5);
    expect(svg).toMatch(/<polyline class="series"[^>]* points="(?:[\d.]+,[\d.]+ ?){5}"/);
    expect(svg).toContain('class="x-label"');
    expect(svg).toContain('>second<');
    expect(svg).toContain('>Gbit/s<');
    expect(svg).toContain('mean 9.2 Gbit/s');
    expect(checkWellFormed(lineSvg([], { title: 'e', unit: 'x', xLabel: 'i' }))).toBeUndefined();
  });

  test('bars: one bar per entry with its value; labels escaped', () => {
    const svg = barsSvg([{ label: 'pod-a', value: 340 }, { label: 'pod-b & c', value: 328 }, { label: 'pod-d', value: 0 }], { title: 'Load', unit: 'requests' });
    expect(checkWellFormed(svg)).toBeUndefined();
    expect(count(svg, /class="bar"/g)).toBe(3);
    expect([...svg.matchAll(/data-value="([\d.]+)"/g)].map((m) => Number(m[1]))).toEqual([340, 328, 0]);
    expect(svg).toContain('pod-b &amp; c');
    const many = barsSvg(Array.from({ length: 12 }, (_, i) => ({ label: `backend-${i}`, value: i })), { title: 'many', unit: 'req' });
    expect(checkWellFormed(many)).toBeUndefined();
    expect(many).toContain('rotate(-35');
  });

  test('helpers', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
    expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0.1, 0.35)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
    expect(checkWellFormed('<a><b></a>')).toBeDefined();
  });
});
