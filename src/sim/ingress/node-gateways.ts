// One node gateway process per node netns (see node-gateway.ts), started with the data plane.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bundleEntry } from '../bundle.ts';
import { spawnIn } from '../fabric/exec.ts';

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'node-gateway.ts');

export interface NodeGateways {
  close(): void;
}

export async function startNodeGateways(stateDir: string, nodes: string[], socketFor: (node: string) => string): Promise<NodeGateways> {
  const dir = join(stateDir, 'ingress');
  mkdirSync(dir, { recursive: true });
  const script = bundleEntry(ENTRY, join(dir, 'node-gateway.cjs'));
  const procs: ChildProcess[] = await Promise.all(nodes.map(async (node) => {
    const p = spawnIn(node, [process.execPath, script, socketFor(node)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: p.stdout! }).once('line', () => resolve());
      p.once('exit', (code) => reject(new Error(`node gateway for ${node} exited (${code})`)));
    });
    return p;
  }));
  return { close: () => procs.forEach((p) => p.kill('SIGKILL')) };
}
