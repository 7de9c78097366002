import { test, expect } from '@playwright/test';
import { dfPing, pathMtu } from '../../src/probes/path-mtu.ts';
import { FakeExec } from './fake-exec.ts';

/** A path that passes DF payloads up to `max` bytes. */
const pathUpTo = (max: number): FakeExec =>
  new FakeExec((cmd) => {
    const size = Number(/-s (\d+)/.exec(cmd)?.[1]);
    return size <= max
      ? { stdout: `${size + 8} bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.1 ms\n`, code: 0 }
      : { stderr: 'ping: local error: message too long, mtu=1500\n', code: 1 };
  });

for (const [max, family, mtu] of [[1472, 4, 1500], [1452, 6, 1500], [8972, 4, 9000], [1200, 4, 1228]] as const) {
  test(`converges on payload ${max} (IPv${family} MTU ${mtu})`, async () => {
    const g = pathUpTo(max);
    const r = await pathMtu(g, family === 6 ? 'fd00::2' : '10.0.0.2', { family });
    expect(r).toMatchObject({ maxPayload: max, pathMtu: mtu, capped: false, family });
    expect(r.probes.length).toBeLessThan(20);
    expect(g.commands[0]).toMatch(new RegExp(`^ping -n -${family} -M do -s 1200 -c 1 -W 1 `));
  });
}

test('capped when hi passes', async () => {
  const r = await pathMtu(pathUpTo(65000), '10.0.0.2', { hi: 9000 });
  expect(r).toMatchObject({ maxPayload: 9000, pathMtu: 9028, capped: true });
  expect(r.probes).toEqual([{ size: 1200, ok: true }, { size: 9000, ok: true }]);
});

test('a single lost probe is retried before a size counts as failed', async () => {
  let n = 0;
  const flaky = new FakeExec((cmd) => {
    const size = Number(/-s (\d+)/.exec(cmd)?.[1]);
    if (size === 1400 && n++ === 0) return { code: 1 }; // first 1400 probe lost
    return size <= 1472 ? { stdout: '1408 bytes from x: icmp_seq=1 ttl=64 time=0.1 ms\n' } : { code: 1 };
  });
  const r = await pathMtu(flaky, '10.0.0.2', { lo: 1200, hi: 1600 });
  expect(r.maxPayload).toBe(1472);
});

test('lo failing throws; dfPing throws on hard ping errors', async () => {
  await expect(pathMtu(pathUpTo(1000), '10.0.0.2')).rejects.toThrow(/1200-byte DF ping to 10.0.0.2 got no reply/);
  const bad = new FakeExec(() => ({ stderr: 'ping: connect: Network is unreachable\n', code: 2 }));
  await expect(dfPing(bad, '10.0.0.2', 1400, 4)).rejects.toThrow(/Network is unreachable/);
  expect(await dfPing(pathUpTo(1472), '10.0.0.2', 1472, 4)).toBe(true);
  expect(await dfPing(pathUpTo(1472), '10.0.0.2', 1473, 4)).toBe(false);
});
