// Warm guests: a few guest netns, each with an agent already started and waiting for its
// config on stdin. A VM boot takes one, so Node's start-up is off the boot's critical path —
// the way a real node keeps its virt-launcher image cached.
import { inNetns, sh } from '../fabric/exec.ts';
import { Netns } from '../fabric/netns.ts';
import { WARM_LINE, lineSplitter, parseReportLine, type AgentReport, type GuestConfig } from './config.ts';
import { GUEST_PATH, guestRootCommand } from './root.ts';

/** A running guest agent, as the pool's spawn function hands it back (see sim/spawner.ts). */
export interface AgentProcess {
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly stdout: { on(event: 'data', fn: (text: string) => void): unknown };
  readonly stderr: { on(event: 'data', fn: (text: string) => void): unknown };
  /** Write to stdin and close it. */
  end(data?: string): void;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'exit', fn: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'exit', fn: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

export type SpawnAgent = (cmd: string[], env: NodeJS.ProcessEnv) => AgentProcess;

/** Plumbing made ahead for each warm guest (the sim's prepared launcher netns). */
export interface WarmPlumbing<L> {
  prepare(guestNetns: string): Promise<L>;
  discard(prepared: L): Promise<void>;
}

export interface WarmGuest<L = unknown> {
  netns: string;
  /** What WarmPlumbing.prepare made for this guest, if the pool has one. */
  prepared?: L;
  agent: AgentProcess;
  /** The agent's recent stderr, for error messages. */
  stderr(): string;
  /** Hands the agent its config (one JSON line on its stdin): it boots from here. */
  boot(config: GuestConfig): void;
  /** The agent's reports (ready, status), as its stdout lines arrive. */
  onReport(fn: (r: AgentReport) => void): void;
}

const MAX_WARMING = 2;
const WARM_TIMEOUT_MS = 60_000;

export class GuestPool<L = unknown> {
  private readonly ready: WarmGuest<L>[] = [];
  private readonly waiters: ((g: WarmGuest<L>) => void)[] = [];
  private filling = 0;
  private seq = 0;
  private closed = false;

  constructor(private readonly agentScript: string, private readonly spawn: SpawnAgent, private readonly size = 3, private readonly plumbing?: WarmPlumbing<L>) {}

  start(): void {
    this.refill();
  }

  async take(): Promise<WarmGuest<L>> {
    const g = this.ready.shift();
    if (g) { this.refill(); return g; }
    return new Promise((resolve) => { this.waiters.push(resolve); this.refill(); });
  }

  /**
   * Warming a guest is a Node start-up (~0.2 s of CPU). Refills start at once, but at most
   * MAX_WARMING at a time (more when boots are waiting), so that a burst of boots does not also
   * start a burst of Node processes.
   */
  private refill(): void {
    while (!this.closed && this.filling < Math.max(MAX_WARMING, this.waiters.length) && this.ready.length + this.filling < this.size + this.waiters.length) this.warmOne();
  }

  private warmOne(): void {
    this.filling++;
    this.warm().then((g) => {
      this.filling--;
      const w = this.waiters.shift();
      if (w) w(g);
      else this.ready.push(g);
      this.refill();
    }, (e: Error) => {
      this.filling--;
      console.error(`guest pool: ${e.message}`);
      if (!this.closed) setTimeout(() => this.refill(), 1000);
    });
  }

  private async warm(): Promise<WarmGuest<L>> {
    const netns = `vm-${process.pid}-${++this.seq}`;
    await sh(Netns.addScript([netns]));
    // Its own root, mount, UTS and PID namespaces (root.ts): its own /sys, /proc, /etc and hostname,
    // and nothing of the host's filesystem.
    const agent = this.spawn(inNetns(netns, guestRootCommand(this.agentScript, ['--warm'])), { PATH: GUEST_PATH });
    let tail = '';
    agent.stderr.on('data', (d: string) => { tail = (tail + d).slice(-4000); });
    const listeners: ((r: AgentReport) => void)[] = [];
    // Warm means warmed up: the agent says so on stdout once its sshd is listening.
    const warmedUp = new Promise<void>((resolve, reject) => {
      agent.stdout.on('data', lineSplitter((line) => {
        if (line === WARM_LINE) return resolve();
        const r = parseReportLine(line);
        if (r) for (const fn of listeners) fn(r);
      }));
      agent.once('exit', (code) => reject(new Error(`warm guest agent exited (${code}): ${tail.trim().split('\n').at(-1) ?? ''}`)));
      setTimeout(() => reject(new Error(`guest agent not warm after ${WARM_TIMEOUT_MS} ms`)), WARM_TIMEOUT_MS).unref();
    });
    warmedUp.catch(() => undefined);
    const preparing = this.plumbing?.prepare(netns);
    let prepared: L | undefined;
    try {
      prepared = await preparing;
      await warmedUp;
    } catch (e) {
      agent.kill('SIGKILL');
      const left = prepared ?? await preparing?.catch(() => undefined);
      if (left !== undefined) await this.plumbing?.discard(left).catch(() => undefined);
      await new Netns(netns).delete().catch(() => undefined);
      throw e;
    }
    return { netns, prepared, agent, stderr: () => tail, boot: (cfg) => agent.end(`${JSON.stringify(cfg)}\n`), onReport: (fn) => { listeners.push(fn); } };
  }

  async close(): Promise<void> {
    this.closed = true;
    const unused = this.ready.splice(0);
    for (const g of unused) g.agent.kill('SIGKILL');
    await Promise.all(unused.map(async (g) => {
      if (g.prepared !== undefined) await this.plumbing?.discard(g.prepared).catch(() => undefined);
      await new Netns(g.netns).delete().catch(() => undefined);
    }));
  }
}
