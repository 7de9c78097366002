// kube-controller-manager's namespace controller: a Terminating namespace loses its content,
// then its `kubernetes` finalizer, then itself.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import { Controller } from './controller.ts';

export class NamespaceController extends Controller {
  private readonly ns = kindOf('v1', 'Namespace') as Kind;

  constructor(api: Registry) {
    super(api, 'namespace-controller');
  }

  protected keysFor(e: StoreEvent): string[] {
    if (e.kind === this.ns) return e.object.metadata.deletionTimestamp ? [e.object.metadata.name as string] : [];
    // Content going away may let a terminating namespace finish.
    const ns = e.object.metadata.namespace;
    return e.type === 'DELETED' && ns && this.api.store.get(this.ns, undefined, ns)?.metadata.deletionTimestamp ? [ns] : [];
  }

  protected async reconcile(name: string): Promise<{ requeueAfterMs?: number } | void> {
    const ns = this.api.tryGet(this.ns, undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    for (const k of this.api.kinds().filter((k) => k.namespaced)) {
      for (const o of this.api.store.list(k, name)) {
        remaining++;
        if (!o.metadata.deletionTimestamp) this.api.delete(k, name, o.metadata.name as string, { propagationPolicy: 'Background' });
      }
    }
    if (remaining) {
      const left = this.api.kinds().filter((k) => k.namespaced).reduce((n, k) => n + this.api.store.list(k, name).length, 0);
      if (left) return { requeueAfterMs: 200 };
    }
    const spec = (ns.spec ?? {}) as { finalizers?: string[] };
    if (spec.finalizers?.length || ns.metadata.finalizers?.length) {
      ns.spec = { ...spec, finalizers: [] };
      ns.metadata.finalizers = [];
      this.api.update(this.ns, undefined, name, ns, { subresource: undefined });
    }
    const cur = this.api.store.get(this.ns, undefined, name);
    if (cur) this.api.store.remove(this.ns, cur);
  }
}
