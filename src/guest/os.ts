// The guest command layer: argv in, one quoting function, root handled once. Probes and suites
// build commands as argv here instead of each pasting shell strings (and their own sudo).
import type { Exec, ExecResultLike } from '../probes/target.ts';

export type Argv = readonly string[];

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** The one quoting function: each word POSIX single-quoted unless it is plainly safe. */
export function shellLine(argv: Argv): string {
  if (argv.length === 0) throw new Error('shellLine: empty argv');
  return argv.map((w) => (w !== '' && SAFE_WORD.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface RunOptions {
  timeoutMs?: number;
  /** Run as root: `sudo -n` unless the login user already is root. */
  root?: boolean;
  stdin?: string;
}

function exitText(r: ExecResultLike & { signal?: string | null }): string {
  return r.code === null ? `killed by ${r.signal ? `SIG${r.signal}` : 'a signal'}` : `exited ${r.code}`;
}

type StdinExec = Exec & { exec(cmd: string, opts?: { timeoutMs?: number; stdin?: string }): Promise<ExecResultLike> };

export class GuestOs {
  private sudo: boolean | undefined;

  /** `o.sudo`: whether root needs `sudo -n`; by default asked once from the guest (`id -u`). */
  constructor(private readonly exec: Exec, o: { sudo?: boolean } = {}) {
    this.sudo = o.sudo;
  }

  get id(): string {
    return this.exec.id ?? 'guest';
  }

  private async needsSudo(): Promise<boolean> {
    if (this.sudo === undefined) {
      // A non-root user without sudo (the sim's guests: capabilities instead) runs root commands as itself.
      const r = await this.exec.exec('id -u; command -v sudo', { timeoutMs: 15_000 });
      const [uid, sudo] = r.stdout.trim().split('\n');
      this.sudo = uid.trim() !== '0' && !!sudo?.trim();
    }
    return this.sudo;
  }

  /** The shell line `run` sends for argv (exported for probes that compose pipelines). */
  async line(argv: Argv, o: { root?: boolean } = {}): Promise<string> {
    return shellLine(o.root && (await this.needsSudo()) ? ['sudo', '-n', ...argv] : argv);
  }

  async run(argv: Argv, o: RunOptions = {}): Promise<ExecResultLike> {
    const cmd = await this.line(argv, o);
    return (this.exec as StdinExec).exec(cmd, { timeoutMs: o.timeoutMs, ...(o.stdin !== undefined ? { stdin: o.stdin } : {}) });
  }

  /** run that throws with the argv, exit code and stderr when the command fails. */
  async runOk(argv: Argv, o: RunOptions = {}): Promise<string> {
    const r = await this.run(argv, o);
    if (r.code !== 0) throw new Error(`${this.id}: \`${shellLine(argv)}\`${o.root ? ' (as root)' : ''} ${exitText(r)}: ${(r.stderr || r.stdout).trim().slice(0, 1500)}`);
    return r.stdout;
  }

  /** Global-scope addresses of `dev` as CIDRs. */
  async addresses(dev: string, family?: 4 | 6): Promise<string[]> {
    const out = await this.runOk(['ip', '-j', ...(family ? [`-${family}`] : []), 'addr', 'show', 'dev', dev, 'scope', 'global']);
    const parsed = JSON.parse(out || '[]') as { addr_info?: { local: string; prefixlen: number; family: string }[] }[];
    return parsed.flatMap((l) => l.addr_info ?? []).filter((a) => !family || a.family === (family === 4 ? 'inet' : 'inet6')).map((a) => `${a.local}/${a.prefixlen}`);
  }

  async link(dev: string): Promise<{ mtu: number; mac: string; up: boolean }> {
    const [l] = JSON.parse(await this.runOk(['ip', '-j', 'link', 'show', 'dev', dev])) as { mtu: number; address: string; flags?: string[]; operstate?: string }[];
    if (!l) throw new Error(`${this.id}: no link ${dev}`);
    return { mtu: l.mtu, mac: l.address, up: (l.flags ?? []).includes('UP') };
  }

  /** Sets `dev`'s MAC (as root) for the duration of fn, and always puts the old one back. */
  async withMac<T>(dev: string, mac: string, fn: () => Promise<T>): Promise<T> {
    const old = (await this.link(dev)).mac;
    await this.runOk(['ip', 'link', 'set', 'dev', dev, 'address', mac], { root: true });
    try {
      return await fn();
    } finally {
      await this.runOk(['ip', 'link', 'set', 'dev', dev, 'address', old], { root: true });
    }
  }

  /** Pings `ip` once per try until a reply comes back (bounded: `tries`, default 10, one second each). */
  async reaches(ip: string, o: { dev?: string; tries?: number; family?: 4 | 6 } = {}): Promise<boolean> {
    const family = o.family ?? (ip.includes(':') ? 6 : 4);
    const tries = o.tries ?? 10;
    for (let i = 0; i < tries; i++) {
      const r = await this.run(['ping', `-${family}`, '-c', '1', '-W', '1', ...(o.dev ? ['-I', o.dev] : []), ip], { timeoutMs: 10_000 });
      if (r.code === 0) return true;
    }
    return false;
  }

  /** Fails naming every tool the guest image lacks. */
  async requireTools(tools: string[]): Promise<void> {
    if (tools.length === 0) return;
    const r = await this.exec.exec(`for t in ${tools.map((t) => shellLine([t])).join(' ')}; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done`, { timeoutMs: 30_000 });
    const missing = r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    if (missing.length) throw new Error(`guest ${this.id} lacks ${missing.join(', ')}: use a guest image (profile guest.image) that has them, or add them to the profile's guest.tools so cloud-init installs them`);
  }

  /** Waits for cloud-init to finish (packages installed); a no-op where the guest has no cloud-init. */
  async cloudInitDone(timeoutMs = 300_000): Promise<void> {
    const r = await this.exec.exec('command -v cloud-init >/dev/null 2>&1 || exit 0; cloud-init status --wait >/dev/null; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ] || exit $s', { timeoutMs });
    // Exit 2 is "done with recoverable errors" (cloud-init >= 23.4): the tool check that follows decides.
    if (r.code !== 0) throw new Error(`guest ${this.id}: cloud-init did not finish (${exitText(r)}): ${(r.stderr || r.stdout).trim().slice(0, 1500)}`);
  }
}
