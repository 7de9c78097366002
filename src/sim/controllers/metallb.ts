// MetalLB's controller: a LoadBalancer Service gets an address from the pool, written to
// status.loadBalancer.ingress. The sim's pool is on host loopback (127.x.y.200-250), so the harness
// on the host reaches the address the way a client on the LAN reaches a MetalLB L2 address.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { ServiceSpec } from '../api/service-allocator.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller, keyOf, splitKey } from './controller.ts';

const SERVICE = kindOf('v1', 'Service') as Kind;

interface LbStatus { loadBalancer?: { ingress?: { ip?: string; ipMode?: string }[] } }

export function ingressIPs(svc: KObject): string[] {
  return ((svc.status as LbStatus | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

export class MetalLB extends Controller {
  constructor(api: Registry, private readonly pool: string[]) {
    super(api, 'metallb-controller');
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === SERVICE && e.type !== 'DELETED' ? [keyOf(e.object.metadata.namespace, e.object.metadata.name)] : [];
  }

  protected override resync(): void {
    for (const s of this.api.store.list(SERVICE)) this.enqueue(keyOf(s.metadata.namespace, s.metadata.name));
  }

  protected async reconcile(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const svc = this.api.tryGet(SERVICE, ns, name);
    if (!svc) return;
    const isLb = (svc.spec as ServiceSpec).type === 'LoadBalancer';
    const have = ingressIPs(svc);
    if (isLb === (have.length > 0)) return;
    let ingress: { ip: string; ipMode: string }[] = [];
    if (isLb) {
      const used = new Set(this.api.store.list(SERVICE).flatMap(ingressIPs));
      const ip = this.pool.find((a) => !used.has(a));
      if (!ip) return; // pool exhausted: the Service stays <pending>, as with MetalLB
      ingress = [{ ip, ipMode: 'VIP' }];
    }
    svc.status = { ...(svc.status as object), loadBalancer: isLb ? { ingress } : {} };
    this.api.update(SERVICE, ns, name, svc, { subresource: 'status' });
  }
}
