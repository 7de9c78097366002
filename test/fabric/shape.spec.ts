// Link shaping (src/sim/fabric/shape.ts): iperf3 between two nodes over the machine switch carries
// about the NIC rate once every node NIC is shaped, in both directions, and much more before.
import { expect, test } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../../src/sim/fabric/sandbox.ts';

const entry = fileURLToPath(new URL('./shape-entry.ts', import.meta.url));

interface Result { rate: number; unshaped: number; shaped: number; shapedReverse: number; qdiscs: Record<string, string> }

test('node NICs shaped to 1 Gbit/s carry 0.7x..1.1x of it each way; unshaped they carry over 2x', async () => {
  test.setTimeout(120_000);
  const sb = startSandbox({ entry, args: ['--rate', '1', '--seconds', '2'], stateDir: mkdtempSync(join(tmpdir(), 'kvnet-shape-')) });
  await sb.ready;
  expect(await sb.exited, sb.lines.join('\n')).toBe(0);
  const line = sb.lines.find((l) => l.startsWith('RESULT '));
  expect(line, sb.lines.join('\n')).toBeTruthy();
  const r = JSON.parse((line as string).slice(7)) as Result;
  test.info().annotations.push({ type: 'throughput Gbit/s', description: `unshaped ${r.unshaped.toFixed(2)}, shaped ${r.shaped.toFixed(3)}, reverse ${r.shapedReverse.toFixed(3)}` });
  // Every cable end has the htb root and its bfifo leaf: node side and switch side, eth0 and spare NICs.
  expect(Object.keys(r.qdiscs)).toEqual(expect.arrayContaining(['node-1/eth0', 'machine/m-node-1', 'node-2/eth1', 'node-2/eth3']));
  for (const [end, q] of Object.entries(r.qdiscs)) {
    expect(q, end).toMatch(/qdisc htb 1: root/);
    expect(q, end).toMatch(/qdisc bfifo 10: parent 1:1/);
  }
  expect(r.shaped).toBeGreaterThanOrEqual(0.7 * r.rate);
  expect(r.shaped).toBeLessThanOrEqual(1.1 * r.rate);
  expect(r.shapedReverse).toBeGreaterThanOrEqual(0.7 * r.rate);
  expect(r.shapedReverse).toBeLessThanOrEqual(1.1 * r.rate);
  // The control: the same path without shaping is far faster, so the bound above is the shaping's.
  expect(r.unshaped).toBeGreaterThan(2 * r.rate);
});
