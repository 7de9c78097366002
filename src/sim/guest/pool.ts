// Warm guests: a few guest netns, each with an agent already started and waiting for its
// config on stdin. A VM boot takes one, so Node's start-up is off the boot's critical path —
// the way a real node keeps its virt-launcher image cached.
import type { ChildProcess } from 'node:child_process';
import { spawnIn, sh } from '../fabric/exec.ts';
import { Netns } from '../fabric/netns.ts';

export interface WarmGuest {
  netns: string;
  agent: ChildProcess;
  /** The agent's recent stderr, for error messages. */
  stderr(): string;
  /** Hands the agent its config: it boots from here. */
  boot(configPath: string): void;
}

export class GuestPool {
  private readonly ready: WarmGuest[] = [];
  private readonly waiters: ((g: WarmGuest) => void)[] = [];
  private filling = 0;
  private seq = 0;
  private closed = false;

  constructor(private readonly agentScript: string, private readonly size = 3) {}

  start(): void {
    this.refill();
  }

  async take(): Promise<WarmGuest> {
    const g = this.ready.shift();
    this.refill();
    if (g) return g;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private refill(): void {
    while (!this.closed && this.ready.length + this.filling < this.size + this.waiters.length) {
      this.filling++;
      this.warm().then((g) => {
        this.filling--;
        const w = this.waiters.shift();
        if (w) w(g);
        else this.ready.push(g);
      }, (e: Error) => {
        this.filling--;
        console.error(`guest pool: ${e.message}`);
        if (!this.closed) setTimeout(() => this.refill(), 1000);
      });
    }
  }

  private async warm(): Promise<WarmGuest> {
    const netns = `vm-${process.pid}-${++this.seq}`;
    await sh(Netns.addScript([netns]));
    // Its own mount and UTS namespaces: the guest's /sys shows its own links, and it sets its own hostname.
    const agent = spawnIn(netns, [
      'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', 'mount -t sysfs sysfs /sys && exec "$@"', 'guest',
      process.execPath, this.agentScript, '--config-from-stdin',
    ], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, KVNET_GUEST_BIND_RESOLV: '1' } });
    let tail = '';
    agent.stderr?.setEncoding('utf8').on('data', (d: string) => { tail = (tail + d).slice(-4000); });
    agent.stdin?.on('error', () => undefined);
    return { netns, agent, stderr: () => tail, boot: (path) => agent.stdin?.end(`${path}\n`) };
  }

  async close(): Promise<void> {
    this.closed = true;
    const unused = this.ready.splice(0);
    for (const g of unused) g.agent.kill('SIGKILL');
    await Promise.all(unused.map((g) => new Netns(g.netns).delete().catch(() => undefined)));
  }
}
