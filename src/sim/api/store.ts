// The object store: one resourceVersion counter, an event history for watches, and subscribers.
// It knows nothing of API semantics; those live in registry.ts.
import type { Kind } from './kinds.ts';
import type { KObject } from './types.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  kind: Kind;
  object: KObject;
  /** The object before this event, for MODIFIED and DELETED. */
  old?: KObject;
  rv: number;
}

const HISTORY = 50_000;

export class Store {
  private readonly tables = new Map<Kind, Map<string, KObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private rv = 1;
  /** The newest resourceVersion dropped from the history. */
  private compacted = 0;

  get resourceVersion(): number {
    return this.rv;
  }

  private table(kind: Kind): Map<string, KObject> {
    let t = this.tables.get(kind);
    if (!t) this.tables.set(kind, (t = new Map()));
    return t;
  }

  get(kind: Kind, namespace: string | undefined, name: string): KObject | undefined {
    return this.table(kind).get(`${namespace ?? ''}/${name}`);
  }

  list(kind: Kind, namespace?: string): KObject[] {
    const all = [...this.table(kind).values()];
    return namespace ? all.filter((o) => o.metadata.namespace === namespace) : all;
  }

  kinds(): Kind[] {
    return [...this.tables.keys()];
  }

  /** Writes the object with a fresh resourceVersion and tells subscribers. */
  put(kind: Kind, obj: KObject): KObject {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const old = this.table(kind).get(key);
    obj.metadata.resourceVersion = String(++this.rv);
    this.table(kind).set(key, obj);
    this.emit({ type: old ? 'MODIFIED' : 'ADDED', kind, object: obj, old, rv: this.rv });
    return obj;
  }

  remove(kind: Kind, obj: KObject): KObject {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const old = this.table(kind).get(key);
    if (!old) return obj;
    this.table(kind).delete(key);
    const gone: KObject = { ...structuredClone(old), metadata: { ...structuredClone(old.metadata), resourceVersion: String(++this.rv) } };
    this.emit({ type: 'DELETED', kind, object: gone, old, rv: this.rv });
    return gone;
  }

  /** Events after `rv`, or undefined when the history no longer reaches back that far (410 Gone). */
  since(rv: number): StoreEvent[] | undefined {
    if (rv < this.compacted) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > HISTORY) this.compacted = this.history.splice(0, this.history.length - HISTORY).at(-1)?.rv ?? this.compacted;
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch (err) {
        console.error('store subscriber failed:', err);
      }
    }
  }
}
