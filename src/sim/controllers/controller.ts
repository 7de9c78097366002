// A controller is a reconcile loop: store events enqueue keys; a worker reconciles each key
// until it returns without error. Requeue with a delay is how a controller waits.
import type { Kind } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export abstract class Controller {
  private readonly queue = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = false;
  private stopped = false;
  private unsubscribe?: () => void;

  constructor(protected readonly api: Registry, readonly name: string) {}

  /** Which events matter, and which keys they wake. */
  protected abstract keysFor(e: StoreEvent): string[];
  protected abstract reconcile(key: string): Promise<ReconcileResult | void>;

  start(): this {
    this.unsubscribe = this.api.store.subscribe((e) => this.keysFor(e).forEach((k) => this.enqueue(k)));
    this.resync();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.timers.forEach(clearTimeout);
  }

  /** Enqueue every existing object once, as an informer's initial list does. */
  protected resync(): void {}

  enqueue(key: string, afterMs = 0): void {
    if (this.stopped) return;
    if (afterMs > 0) {
      if (this.timers.has(key)) return;
      this.timers.set(key, setTimeout(() => { this.timers.delete(key); this.enqueue(key); }, afterMs));
      return;
    }
    this.queue.add(key);
    if (!this.running) { this.running = true; setImmediate(() => void this.drain()); }
  }

  private async drain(): Promise<void> {
    while (this.queue.size && !this.stopped) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      try {
        const r = await this.reconcile(key);
        if (r?.requeueAfterMs) this.enqueue(key, r.requeueAfterMs);
      } catch (err) {
        if (!this.stopped) console.error(`${this.name}: reconcile ${key}: ${(err as Error).stack ?? err}`);
        this.enqueue(key, 500);
      }
    }
    this.running = false;
  }
}

export function keyOf(ns: string | undefined, name: string | undefined): string {
  return `${ns ?? ''}/${name ?? ''}`;
}
export function splitKey(key: string): [string | undefined, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i) || undefined, key.slice(i + 1)];
}
export function isKind(e: StoreEvent, k: Kind): boolean {
  return e.kind === k;
}
