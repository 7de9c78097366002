// kube-controller-manager's garbage collector: dependents whose owners are all gone are deleted
// (background propagation), or lose the reference when the owner was deleted with Orphan.
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller } from './controller.ts';

export class GarbageCollector extends Controller {
  constructor(api: Registry) {
    super(api, 'garbage-collector');
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.type === 'DELETED' ? [e.object.metadata.uid as string] : [];
  }

  protected async reconcile(ownerUid: string): Promise<void> {
    const orphan = this.api.orphans.delete(ownerUid);
    for (const kind of this.api.kinds()) {
      for (const dep of this.api.store.list(kind)) {
        const refs = dep.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === ownerUid)) continue;
        const name = dep.metadata.name as string;
        const alive = refs.filter((r) => r.uid !== ownerUid && this.ownerExists(r.uid));
        if (orphan || alive.length) {
          const next: KObject = structuredClone(dep);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== ownerUid);
          if (!next.metadata.ownerReferences.length) delete next.metadata.ownerReferences;
          this.api.update(kind, dep.metadata.namespace, name, next);
        } else if (!dep.metadata.deletionTimestamp) {
          this.api.delete(kind, dep.metadata.namespace, name, { propagationPolicy: 'Background' });
        }
      }
    }
  }

  private ownerExists(uid: string): boolean {
    return this.api.kinds().some((k) => this.api.store.list(k).some((o) => o.metadata.uid === uid));
  }
}
