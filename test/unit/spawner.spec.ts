// The sim's spawner: long-lived children started by a small helper, seen as ChildProcess-like handles.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { Spawner, type SpawnedProcess } from '../../src/sim/spawner.ts';

const exited = (p: SpawnedProcess) => new Promise<[number | null, string | null]>((r) => p.once('exit', (c: number | null, s: string | null) => r([c, s])));

test('a child gets its stdin, and its stdout, stderr and exit status come back', async () => {
  const spawner = new Spawner(mkdtempSync(join(tmpdir(), 'kvnet-spawner-')));
  try {
    const p = spawner.spawn(['sh', '-c', 'read x; echo "got $x"; echo oops >&2; exit 3']);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: string) => { out += d; });
    p.stderr.on('data', (d: string) => { err += d; });
    const done = exited(p);
    p.end('hello\n');
    expect(await done).toEqual([3, null]);
    expect(p.exitCode).toBe(3);
    expect(out).toBe('got hello\n');
    expect(err).toBe('oops\n');
    expect(p.pid).toBeGreaterThan(0);
  } finally {
    spawner.close();
  }
});

test('kill signals the child; a missing program exits 127 with the reason', async () => {
  const spawner = new Spawner(mkdtempSync(join(tmpdir(), 'kvnet-spawner-')));
  try {
    const sleeper = spawner.spawn(['sleep', '30']);
    const done = exited(sleeper);
    await expect.poll(() => sleeper.pid).toBeGreaterThan(0);
    expect(sleeper.kill('SIGKILL')).toBe(true);
    expect(await done).toEqual([null, 'SIGKILL']);
    expect(sleeper.signalCode).toBe('SIGKILL');
    expect(sleeper.kill('SIGKILL')).toBe(false);

    const missing = spawner.spawn(['/nonexistent/kvnet-no-such-program']);
    let err = '';
    missing.stderr.on('data', (d: string) => { err += d; });
    expect((await exited(missing))[0]).toBe(127);
    expect(err).toContain('ENOENT');
  } finally {
    spawner.close();
  }
});
