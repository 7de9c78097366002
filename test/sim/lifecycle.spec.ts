// `kvnet sim up` as a user runs it: ready line, clean stop on SIGINT, nothing left after SIGKILL.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, test } from '@playwright/test';
import { Guest } from '../../src/guest/guest.ts';
import { generateKeyPair } from '../../src/guest/keys.ts';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { masqueradeVm, sshKeySecret } from '../../src/kube/vm.ts';
import { snapshotHost } from '../../src/sim/fabric/host-snapshot.ts';

test.describe.configure({ mode: 'serial' });

function simUp(dir: string): { child: ChildProcess; ready: Promise<string> } {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'up', '--kubeconfig', resolve(dir, 'kubeconfig')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).on('line', (l) => { if (l.startsWith('kvnet sim ready ')) res(l); });
    child.on('exit', (c) => rej(new Error(`kvnet sim up exited with ${c} before it was ready`)));
  });
  return { child, ready };
}

function leftovers(marker: string): string {
  try {
    return execFileSync('pgrep', ['-af', marker], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.includes('pgrep')).join('\n');
  } catch {
    return '';
  }
}

async function waitGone(marker: string, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  let left = leftovers(marker);
  while (left && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    left = leftovers(marker);
  }
  return left;
}

test('sim up prints exactly one ready line with the kubeconfig, serves 2 Ready nodes, and stops cleanly on SIGINT', async () => {
  const dir = resolve('test-results', 'sim-lifecycle-int');
  const { child, ready } = simUp(dir);
  const line = await ready;
  expect(line).toBe(`kvnet sim ready kubeconfig=${resolve(dir, 'kubeconfig')}`);
  const kube = Kube.fromFile(resolve(dir, 'kubeconfig'));
  const nodes = await kube.list<KObject>('v1', 'Node');
  expect(nodes.map((n) => n.metadata?.name)).toEqual(['node-1', 'node-2']);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(code).toBe(0);
  expect(existsSync(resolve(dir, 'run')) ? execFileSync('ls', [resolve(dir, 'run')], { encoding: 'utf8' }).trim() : '').toBe('');
  expect(await waitGone(resolve(dir, 'run'))).toBe('');
});

test('a SIGKILL of the sim with a running guest leaves no process, netns or host change behind', async () => {
  const before = await snapshotHost();
  const dir = resolve('test-results', 'sim-lifecycle-kill');
  const { child, ready } = simUp(dir);
  await ready;
  const kube = Kube.fromFile(resolve(dir, 'kubeconfig'));
  const keys = generateKeyPair();
  await kube.create(sshKeySecret('k', 'default', keys.publicKey));
  await kube.create(masqueradeVm({ name: 'victim', namespace: 'default', sshKeySecret: 'k' }));
  const guest = await Guest.connect({ kc: kube.kc, namespace: 'default', vmi: 'victim', user: 'fedora', privateKey: keys.privateKey, timeoutMs: 60_000 });
  expect((await guest.execOk('hostname')).trim()).toBe('victim');
  guest.close();
  expect(leftovers(resolve(dir, 'run')), 'the guest agent runs under the state dir').not.toBe('');
  child.kill('SIGKILL');
  expect(await waitGone(resolve(dir, 'run')), 'no sandbox process survives').toBe('');
  expect(await snapshotHost()).toEqual(before);
});
