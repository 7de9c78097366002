import { test, expect } from '@playwright/test';
import { timeAsync } from '../../src/probes/harness-timing.ts';

test('timeAsync runs exactly iterations (+warmup) and reports ms', async () => {
  let calls = 0;
  const t = await timeAsync('sleep5', async () => { calls++; await new Promise((r) => setTimeout(r, 5)); }, { iterations: 4, warmup: 2 });
  expect(calls).toBe(6);
  expect(t.samples).toHaveLength(4);
  expect(t.stats.count).toBe(4);
  expect(t.stats.min).toBeGreaterThanOrEqual(4);
  expect(t.stats.max).toBeLessThan(500);
});

test('timeAsync throws the function error', async () => {
  await expect(timeAsync('boom', async () => { throw new Error('api down'); }, { iterations: 2, warmup: 0 })).rejects.toThrow('api down');
});
