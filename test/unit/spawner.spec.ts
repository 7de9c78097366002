// The sim's spawner: long-lived children started by a small helper, seen as ChildProcess-like handles.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { Spawner, type SpawnedProcess } from '../../src/sim/spawner.ts';

const dirs: string[] = [];
const stateDir = () => { const d = mkdtempSync(join(tmpdir(), 'kvnet-spawner-')); dirs.push(d); return d; };
test.afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const exited = (p: SpawnedProcess) => new Promise<[number | null, string | null]>((r) => p.once('exit', (c: number | null, s: string | null) => r([c, s])));

test('a child gets its stdin, and its stdout, stderr and exit status come back', async () => {
  const spawner = new Spawner(stateDir());
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
  const spawner = new Spawner(stateDir());
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

test('a helper killed under the sim is no crash: its children report exit, later requests fail softly', async () => {
  const spawner = new Spawner(stateDir());
  const errors: Error[] = [];
  const onError = (e: Error) => errors.push(e);
  process.on('uncaughtException', onError);
  try {
    const sleeper = spawner.spawn(['sleep', '30']);
    const done = exited(sleeper);
    await expect.poll(() => sleeper.pid).toBeGreaterThan(0);
    const helper = spawner.helperPid as number;
    process.kill(helper, 'SIGKILL');
    // Before the event loop hears of it (the helper is a zombie, the channel still looks open):
    // what the sim's stop does then is write to a dead pipe, which used to crash it with EPIPE.
    const until = Date.now() + 2000;
    while (!/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${helper}/stat`, 'utf8')) && Date.now() < until) { /* spin: no event loop turn */ }
    expect(sleeper.kill('SIGTERM')).toBe(true);
    sleeper.end();
    expect(await done).toEqual([null, 'SIGKILL']);
    expect(sleeper.kill('SIGTERM')).toBe(false);
    // A start after that is reported as never run: 127 once the channel is known closed, or gone
    // with the helper when the write is what finds out.
    const late = spawner.spawn(['true']);
    expect([[127, null], [null, 'SIGKILL']]).toContainEqual(await exited(late));
    await new Promise((r) => setTimeout(r, 100));
    expect(errors).toEqual([]);
  } finally {
    process.off('uncaughtException', onError);
    spawner.close();
  }
});
