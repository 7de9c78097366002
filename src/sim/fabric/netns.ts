// A network namespace managed with `ip netns` (bind-mounted under /run/netns).
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { frag, ipBatch, nft, run, sh, spawnIn, sysctl, type RunOptions, type RunResult } from './exec.ts';

/** Make a netns name safe: ip-netns allows any file name, but keep it short and readable. */
export function netnsName(prefix: string, name: string, max = 48): string {
  const clean = name.replace(/[^A-Za-z0-9_.-]/g, '-');
  const full = `${prefix}${clean}`;
  if (full.length <= max) return full;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  return `${full.slice(0, max - 9)}-${hash}`;
}

export interface NetnsOptions {
  /** Turn on IPv4 and IPv6 forwarding. */
  forwarding?: boolean;
  /** Disable IPv6 DAD (default true). */
  noDad?: boolean;
  /**
   * false: bridged frames skip the IP netfilter hooks (br_netfilter's bridge-nf-call-*), for a
   * netns whose bridges need no IP-level rules: the machine switch, a launcher. Nodes
   * keep them, as kube-proxy needs. Default: the kernel's (on when br_netfilter is loaded).
   */
  bridgeNetfilter?: boolean;
}

/** Sysctls for a fabric netns: no IPv6 DAD (addresses usable at once), optional forwarding. */
export function netnsSysctls(opts: NetnsOptions): Record<string, number> {
  const s: Record<string, number> = {};
  if (opts.noDad ?? true) {
    s['net.ipv6.conf.all.accept_dad'] = 0;
    s['net.ipv6.conf.default.accept_dad'] = 0;
  }
  if (opts.forwarding) {
    s['net.ipv4.ip_forward'] = 1;
    s['net.ipv6.conf.all.forwarding'] = 1;
  }
  if (opts.bridgeNetfilter === false) {
    // '?': only where br_netfilter is loaded (the keys exist only then).
    for (const f of ['iptables', 'ip6tables', 'arptables']) s[`?net.bridge.bridge-nf-call-${f}`] = 0;
  }
  return s;
}

export class Netns {
  private readonly children = new Set<ChildProcess>();
  constructor(readonly name: string) {}

  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** Script fragment creating the namespaces, lo up, sysctls: fold it into a bigger job. */
  static addScript(names: string[], opts: NetnsOptions = {}): string {
    const sysctls = netnsSysctls(opts);
    return [
      frag.ip(names.map((n) => `netns add ${n}`)),
      ...names.map((n) => frag.ip(['link set lo up'], n)),
      ...(Object.keys(sysctls).length ? names.map((n) => frag.inNetns(n, sysctls)) : []),
    ].join('\n');
  }

  /** Create several namespaces in one worker job. */
  static async addMany(names: string[], opts: NetnsOptions = {}): Promise<Netns[]> {
    await sh(Netns.addScript(names, opts));
    return names.map((n) => new Netns(n));
  }

  static async add(name: string, opts: NetnsOptions = {}): Promise<Netns> {
    const [ns] = await Netns.addMany([name], opts);
    return ns;
  }

  async setForwarding(on = true): Promise<void> {
    await sysctl({ 'net.ipv4.ip_forward': on ? 1 : 0, 'net.ipv6.conf.all.forwarding': on ? 1 : 0 }, this.name);
  }

  exec(cmd: string[], opts: Omit<RunOptions, 'netns'> = {}): Promise<RunResult> {
    return run(cmd, { ...opts, netns: this.name });
  }

  ip(lines: string[]): Promise<void> {
    return ipBatch(lines, this.name);
  }

  nft(script: string): Promise<void> {
    return nft(script, this.name);
  }

  /** Start a long-lived process in this netns; it is killed by delete(). */
  spawn(cmd: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawnIn(this.name, cmd, opts);
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Kill spawned processes and remove the netns (interfaces inside go with it). */
  async delete(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    await sh(`ip netns delete ${this.name}`, { allowFail: true });
  }
}
