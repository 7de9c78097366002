// tcpRequests judges each request by socat's own exit status: a socat that printed part of a
// reply and then failed is a failed request (a pipeline once reported `tr`'s status instead).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { tcpRequests } from '../../src/probes/request-latency.ts';
import type { Exec } from '../../src/probes/target.ts';
import { localExec } from './local-exec.ts';

/** localExec with a scripted `socat` first on PATH. */
function withFakeSocat(script: string): { exec: Exec; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kvnet-fake-socat-'));
  writeFileSync(join(dir, 'socat'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, 'socat'), 0o755);
  return {
    exec: { id: 'local+fake-socat', exec: (cmd, o) => localExec.exec(`PATH=${dir}:$PATH; export PATH; ${cmd}`, o) },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('a socat that fails after partial output counts as a failed request', async () => {
  const f = withFakeSocat(`printf 'backend-a\\npart'; exit 1`);
  try {
    const r = await tcpRequests(f.exec, '10.0.0.1', 80, { count: 3, timeoutMs: 1000 });
    expect(r.failures).toBe(3);
    expect(r.samples).toEqual([]);
    expect(r.replies).toEqual([]);
  } finally {
    f.done();
  }
});

test('a socat that succeeds is a sample with its reply (the positive control of the same path)', async () => {
  const f = withFakeSocat(`printf 'backend-a\\n'; exit 0`);
  try {
    const r = await tcpRequests(f.exec, '10.0.0.1', 80, { count: 3, timeoutMs: 1000 });
    expect(r.failures).toBe(0);
    expect(r.samples).toHaveLength(3);
    expect(r.distribution).toEqual({ 'backend-a': 3 });
  } finally {
    f.done();
  }
});
