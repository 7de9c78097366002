// An Exec that runs `sh -c` on this machine, for live tests against real tools.
import { spawn } from 'node:child_process';
import type { Exec, ExecResultLike } from '../../src/probes/target.ts';

export const localExec: Exec = {
  id: 'local',
  exec(cmd: string, opts?: { timeoutMs?: number }): Promise<ExecResultLike> {
    return new Promise((resolve, reject) => {
      const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`local: '${cmd}' timed out`)); }, opts?.timeoutMs ?? 60_000);
      p.stdout.on('data', (d: Buffer) => out.push(d));
      p.stderr.on('data', (d: Buffer) => err.push(d));
      p.on('error', reject);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code });
      });
    });
  },
};
