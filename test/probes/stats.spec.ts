import { test, expect } from '@playwright/test';
import { percentile, ratio, summarize } from '../../src/probes/stats.ts';

test('empty input gives zeros with count 0, no NaN', () => {
  const s = summarize([]);
  expect(s).toEqual({ count: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0, stddev: 0, lossPct: 0 });
  expect(summarize([], { sent: 5 }).lossPct).toBe(100);
});

test('single sample: all locations equal, stddev 0', () => {
  const s = summarize([3.5], { sent: 1 });
  expect(s).toMatchObject({ count: 1, min: 3.5, p50: 3.5, p90: 3.5, p99: 3.5, max: 3.5, mean: 3.5, stddev: 0, lossPct: 0 });
});

test('percentiles interpolate linearly (type 7) on unsorted input', () => {
  const s = summarize([4, 1, 3, 2]); // sorted 1 2 3 4
  expect(s.p50).toBeCloseTo(2.5);
  expect(s.p90).toBeCloseTo(3.7); // h = 3·0.9 = 2.7 → 3 + 0.7·1
  expect(s.p99).toBeCloseTo(3.97);
  expect(s.mean).toBe(2.5);
  expect(s.stddev).toBeCloseTo(Math.sqrt(5 / 3)); // sample stddev (n-1)
  expect(percentile([10, 20], 0)).toBe(10);
  expect(percentile([10, 20], 1)).toBe(20);
});

test('lossPct from sent vs received, clamped', () => {
  expect(summarize([1, 1, 1], { sent: 4 }).lossPct).toBe(25);
  expect(summarize([1, 1, 1], { sent: 2 }).lossPct).toBe(0);
  expect(summarize([1], { sent: 0 }).lossPct).toBe(0);
});

test('non-finite samples throw', () => {
  expect(() => summarize([1, Number.NaN])).toThrow(/non-finite/);
});

test('ratio never returns NaN', () => {
  expect(ratio(3, 4)).toBe(0.75);
  expect(ratio(0, 0)).toBe(1);
  expect(ratio(2, 0)).toBe(Infinity);
});
