// The harness's view of a cluster: apply, read, wait and delete through client-node.
// Nothing here knows whether the cluster is the sim or a real one.
import { KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, type KubernetesObject } from '@kubernetes/client-node';

export type KObject = KubernetesObject & { spec?: unknown; status?: unknown; [k: string]: unknown };

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the timeout error: what we were waiting for. */
  what?: string;
}

export class Kube {
  readonly objects: KubernetesObjectApi;

  constructor(readonly kc: KubeConfig) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  static fromFile(path: string): Kube {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new Kube(kc);
  }

  static fromDefault(): Kube {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new Kube(kc);
  }

  async create<T extends KObject>(obj: T): Promise<T> {
    return (await this.objects.create(obj)) as T;
  }

  /** Server-side apply, so re-running a suite converges instead of failing on AlreadyExists. */
  async apply<T extends KObject>(obj: T, fieldManager = 'kvnet'): Promise<T> {
    return (await this.objects.patch(obj, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply)) as T;
  }

  /** PUT: `obj` carries metadata.resourceVersion, so a concurrent change fails with 409 instead of being lost. */
  async replace<T extends KObject>(obj: T): Promise<T> {
    return (await this.objects.replace(obj)) as T;
  }

  /** JSON merge patch (RFC 7386): `obj` names the object and carries only the fields to change. */
  async mergePatch<T extends KObject>(obj: KObject, fieldManager = 'kvnet'): Promise<T> {
    return (await this.objects.patch(obj, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch)) as T;
  }

  async get<T extends KObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return (await this.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as T;
    } catch (e) {
      if (statusCode(e) === 404) return undefined;
      throw e;
    }
  }

  async list<T extends KObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
    return (await this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector)).items as T[];
  }

  async delete(obj: KObject): Promise<void> {
    try {
      await this.objects.delete(obj, undefined, undefined, undefined, undefined, 'Background');
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
  }

  /** Polls until `check` returns a value; the error says what was awaited and what was last seen. */
  async waitFor<T>(check: () => Promise<T | undefined | false>, opts: WaitOptions = {}): Promise<T> {
    const timeout = opts.timeoutMs ?? 120_000;
    const start = Date.now();
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined && v !== false) return v;
        last = v;
      } catch (e) {
        last = e;
      }
      if (Date.now() - start > timeout) {
        const seen = last instanceof Error ? last.message : JSON.stringify(last);
        throw new Error(`timed out after ${timeout} ms waiting for ${opts.what ?? 'condition'} (last: ${seen})`);
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
    }
  }

  /**
   * Waits for one object to satisfy `check`, as `kubectl wait` does: on a watch, so the answer
   * comes with the event rather than at the next poll, with a slow re-read in case the watch drops.
   * A `check` that throws (a VMI that Failed) ends the wait at once with that error.
   */
  async waitForObject<T>(apiVersion: string, kind: string, namespace: string | undefined, name: string, check: (o: KObject | undefined) => T | undefined | false, opts: WaitOptions = {}): Promise<T> {
    const timeout = opts.timeoutMs ?? 120_000;
    const path = await this.collectionPath(apiVersion, kind, namespace);
    return new Promise<T>((resolve, reject) => {
      let last: KObject | undefined;
      let settled = false;
      let watch: AbortController | undefined;
      const finish = (err: Error | undefined, v?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(reread);
        watch?.abort();
        if (err) reject(err);
        else resolve(v as T);
      };
      const consider = (o: KObject | undefined) => {
        if (settled) return;
        last = o;
        try {
          const v = check(o);
          if (v !== undefined && v !== false) finish(undefined, v);
        } catch (e) {
          finish(e as Error);
        }
      };
      const read = () => this.get<KObject>(apiVersion, kind, namespace, name).then(consider, () => undefined);
      const startWatch = () => {
        if (settled) return;
        new Watch(this.kc).watch(path, { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: false }, (type, obj: KObject) => {
          consider(type === 'DELETED' ? undefined : obj);
        }, () => { if (!settled) setTimeout(startWatch, 200); }).then((c) => { watch = c; if (settled) c.abort(); }, () => { if (!settled) setTimeout(startWatch, 500); });
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeout} ms waiting for ${opts.what ?? `${kind} ${namespace ? `${namespace}/` : ''}${name}`} (last: ${JSON.stringify(last?.status ?? last ?? null)})`)), timeout);
      const reread = setInterval(() => void read(), Math.max(opts.intervalMs ?? 1000, 1000));
      startWatch();
      void read();
    });
  }

  /** The list/watch URL of a kind, from the server's discovery (client-node keeps it cached). */
  private async collectionPath(apiVersion: string, kind: string, namespace: string | undefined): Promise<string> {
    const api = this.objects as unknown as { specUriPath(spec: KubernetesObject, action: 'list'): Promise<string> };
    return api.specUriPath({ apiVersion, kind, metadata: { namespace } }, 'list');
  }
}

export function statusCode(e: unknown): number | undefined {
  const err = e as { code?: number; statusCode?: number; response?: { statusCode?: number }; body?: unknown };
  return err?.code ?? err?.statusCode ?? err?.response?.statusCode;
}
