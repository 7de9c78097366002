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

/** One namespace's objects of one kind, with their names in key order once asked for. */
class Bucket {
  readonly objects = new Map<string, KObject>();
  private sorted?: string[];

  set(name: string, obj: KObject): void {
    if (!this.objects.has(name)) this.sorted = undefined;
    this.objects.set(name, obj);
  }

  delete(name: string): void {
    if (this.objects.delete(name)) this.sorted = undefined;
  }

  /** In name order, as etcd returns a range; the order is kept between writes that add or remove. */
  inOrder(): KObject[] {
    this.sorted ??= [...this.objects.keys()].sort(byteOrder);
    return this.sorted.map((n) => this.objects.get(n) as KObject);
  }
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class Store {
  /** kind → namespace ('' for cluster-scoped) → objects: a namespaced list touches only its namespace. */
  private readonly tables = new Map<Kind, Map<string, Bucket>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private rv = 1;
  /** The newest resourceVersion dropped from the history. */
  private compacted = 0;
  /** Each stored object's JSON, encoded at most once per resourceVersion. */
  private readonly encoded = new WeakMap<KObject, { rv: unknown; bytes: Buffer }>();

  get resourceVersion(): number {
    return this.rv;
  }

  private bucket(kind: Kind, namespace: string | undefined): Bucket {
    let t = this.tables.get(kind);
    if (!t) this.tables.set(kind, (t = new Map()));
    let b = t.get(namespace ?? '');
    if (!b) t.set(namespace ?? '', (b = new Bucket()));
    return b;
  }

  get(kind: Kind, namespace: string | undefined, name: string): KObject | undefined {
    return this.tables.get(kind)?.get(namespace ?? '')?.objects.get(name);
  }

  /** Objects of a kind, in one namespace or all of them. */
  list(kind: Kind, namespace?: string): KObject[] {
    const t = this.tables.get(kind);
    if (!t) return [];
    if (namespace) return [...(t.get(namespace)?.objects.values() ?? [])];
    return [...t.values()].flatMap((b) => [...b.objects.values()]);
  }

  /** As list(), in key order (namespace, then name, bytewise). */
  listInOrder(kind: Kind, namespace?: string): KObject[] {
    const t = this.tables.get(kind);
    if (!t) return [];
    if (namespace) return t.get(namespace)?.inOrder() ?? [];
    // etcd orders the whole key, `<namespace>/<name>`: "a-x/" comes before "a/".
    return [...t.keys()].sort((a, b) => byteOrder(`${a}/`, `${b}/`)).flatMap((ns) => (t.get(ns) as Bucket).inOrder());
  }

  /**
   * The stored object as JSON bytes. A list of 1,000 is then a concatenation rather than 1,000
   * serializations (that was most of a list's 20 ms). Keyed by identity and resourceVersion: a write
   * either stores a new object or bumps the version, so a cached encoding never outlives its content.
   */
  json(obj: KObject): Buffer {
    const hit = this.encoded.get(obj);
    if (hit && hit.rv === obj.metadata.resourceVersion) return hit.bytes;
    const bytes = Buffer.from(JSON.stringify(obj));
    this.encoded.set(obj, { rv: obj.metadata.resourceVersion, bytes });
    return bytes;
  }

  kinds(): Kind[] {
    return [...this.tables.keys()];
  }

  /** Writes the object with a fresh resourceVersion and tells subscribers. */
  put(kind: Kind, obj: KObject): KObject {
    const b = this.bucket(kind, obj.metadata.namespace);
    const name = obj.metadata.name as string;
    const old = b.objects.get(name);
    obj.metadata.resourceVersion = String(++this.rv);
    b.set(name, obj);
    this.emit({ type: old ? 'MODIFIED' : 'ADDED', kind, object: obj, old, rv: this.rv });
    return obj;
  }

  remove(kind: Kind, obj: KObject): KObject {
    const b = this.bucket(kind, obj.metadata.namespace);
    const name = obj.metadata.name as string;
    const old = b.objects.get(name);
    if (!old) return obj;
    b.delete(name);
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
