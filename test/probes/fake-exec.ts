// A scripted Exec: answers each command from a handler and records what ran.
import type { Exec, ExecResultLike } from '../../src/probes/target.ts';

export type Reply = Partial<ExecResultLike> | string;

export class FakeExec implements Exec {
  readonly commands: string[] = [];
  readonly timeouts: (number | undefined)[] = [];
  constructor(private readonly handler: (cmd: string) => Reply, readonly id = 'fake/vm') {}

  async exec(cmd: string, opts?: { timeoutMs?: number }): Promise<ExecResultLike> {
    this.commands.push(cmd);
    this.timeouts.push(opts?.timeoutMs);
    const r = this.handler(cmd);
    if (typeof r === 'string') return { stdout: r, stderr: '', code: 0 };
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', code: r.code === undefined ? 0 : r.code };
  }
}

/** Replies for startBackground's launch, readiness poll and kill. */
export function backgroundReply(cmd: string): Reply | undefined {
  if (cmd.startsWith('nohup ')) return '4242\n';
  if (cmd.includes('ss -l')) return 'READY\n';
  if (cmd.startsWith('kill ')) return '';
  return undefined;
}
