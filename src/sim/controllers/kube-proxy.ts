// kube-proxy, for every node at once: Services + EndpointSlices → `table inet kube-proxy` in each node
// netns, replaced atomically on every change. It also publishes where the outside world enters:
// NodePorts on each node's ExternalIP and LoadBalancer ingress IPs (read by the sim's host side).
import { isIP } from 'node:net';
import { join } from 'node:path';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { ServiceSpec } from '../api/service-allocator.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { NftTable } from '../fabric/nft-table.ts';
import { POD_BRIDGE } from '../fabric/node.ts';
import type { Fabric } from '../fabric/topo.ts';
import { writeIngress, type IngressRoute } from '../ingress/routes.ts';
import { Controller } from './controller.ts';
import { SERVICE_NAME_LABEL, type Endpoint as SliceEndpoint } from './endpoints.ts';
import { KUBE_PROXY_TABLE, kubeProxyBody, type ServicePortRule } from './kube-proxy-rules.ts';
import { METALLB_CONFIG_KINDS, ingressIPs, isAdvertised } from './metallb.ts';

const SERVICE = kindOf('v1', 'Service') as Kind;
const SLICE = kindOf('discovery.k8s.io/v1', 'EndpointSlice') as Kind;
const NODE = kindOf('v1', 'Node') as Kind;
const SYNC = 'sync';

interface SlicePort { name?: string; port?: number; protocol?: string }
interface NodeAddress { type: string; address: string }

export class KubeProxy extends Controller {
  /** The kube-proxy-stale fault: rules stay as they were, whatever changes. */
  private stale = false;
  private last = '';
  private lastIngress = '';

  constructor(api: Registry, private readonly fabric: Fabric, private readonly stateDir: string, private readonly gatewaySocket: (node: string) => string) {
    super(api, 'kube-proxy');
  }

  setStale(on: boolean): void {
    this.stale = on;
    if (!on) this.enqueue(SYNC);
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === SERVICE || e.kind === SLICE || e.kind === NODE || METALLB_CONFIG_KINDS.includes(e.kind) ? [SYNC] : [];
  }

  protected override resync(): void {
    this.enqueue(SYNC);
  }

  protected async reconcile(): Promise<void> {
    if (this.stale) return;
    const services = this.api.store.list(SERVICE);
    const rules = services.flatMap((s) => this.rulesFor(s));
    const body = kubeProxyBody(rules, { podBridge: POD_BRIDGE });
    if (body !== this.last) {
      await Promise.all(this.fabric.nodes.map((n) => new NftTable(n.name, 'inet', KUBE_PROXY_TABLE).replace(body)));
      this.last = body;
    }
    const routes = this.ingressRoutes(services);
    const text = JSON.stringify(routes);
    if (text !== this.lastIngress) {
      writeIngress(this.stateDir, { routes });
      this.lastIngress = text;
    }
  }

  private rulesFor(svc: KObject): ServicePortRule[] {
    const spec = svc.spec as ServiceSpec;
    if (!spec || spec.type === 'ExternalName' || spec.clusterIP === 'None') return [];
    const ns = svc.metadata.namespace as string;
    const name = svc.metadata.name as string;
    const slices = this.api.store.list(SLICE, ns).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name);
    return (spec.ports ?? []).filter((p) => p.protocol === undefined || p.protocol === 'TCP' || p.protocol === 'UDP').map((p) => {
      const eps = (fam: 4 | 6) => slices.flatMap((sl) => {
        const sp = ((sl.ports ?? []) as SlicePort[]).find((x) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        if (!sp?.port) return [];
        return ((sl.endpoints ?? []) as SliceEndpoint[])
          .filter((e) => e.conditions.ready)
          .flatMap((e) => e.addresses.filter((a) => isIP(a) === fam).map((ip) => ({ ip, port: sp.port as number })));
      });
      return {
        id: `${ns}/${name}/${(p.protocol ?? 'TCP').toLowerCase()}/${p.port}`,
        protocol: (p.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp',
        port: p.port as number,
        nodePort: spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? p.nodePort : undefined,
        clusterIPs: spec.clusterIPs ?? [],
        loadBalancerIPs: spec.type === 'LoadBalancer' ? ingressIPs(svc) : [],
        endpoints: { v4: eps(4), v6: eps(6) },
      };
    });
  }

  /** TCP only: the host side relays streams. */
  private ingressRoutes(services: KObject[]): IngressRoute[] {
    const nodes = this.api.store.list(NODE).map((n) => {
      const addrs = ((n.status as { addresses?: NodeAddress[] })?.addresses ?? []);
      return { name: n.metadata.name as string, internal: addrs.find((a) => a.type === 'InternalIP')?.address, external: addrs.find((a) => a.type === 'ExternalIP')?.address };
    }).filter((n) => this.fabric.nodes.some((f) => f.name === n.name) && n.internal);
    const routes: IngressRoute[] = [];
    for (const svc of services) {
      const spec = svc.spec as ServiceSpec;
      if (spec?.type !== 'NodePort' && spec?.type !== 'LoadBalancer') continue;
      const tcp = (spec.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
      for (const p of tcp) {
        if (!p.nodePort) continue;
        for (const n of nodes) {
          if (n.external) routes.push({ listen: { address: n.external, port: p.nodePort }, gateway: this.gatewaySocket(n.name), connect: { host: n.internal as string, port: p.nodePort } });
        }
      }
      // MetalLB L2: one node answers for the address; traffic enters there and kube-proxy takes it on.
      const ips = spec.type === 'LoadBalancer' ? ingressIPs(svc).filter((ip) => isAdvertised(this.api, svc, ip)) : [];
      if (!ips.length || !nodes.length) continue;
      const speaker = nodes[hash(`${svc.metadata.namespace}/${svc.metadata.name}`) % nodes.length];
      for (const ip of ips) {
        for (const p of tcp) {
          // Bound to the node's own address: a 127/8 source may not leave the node for a pod.
          routes.push({ listen: { address: ip, port: p.port as number }, gateway: this.gatewaySocket(speaker.name), connect: { host: ip, port: p.port as number, localAddress: speaker.internal } });
        }
      }
    }
    return routes;
  }
}

function hash(s: string): number {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

export function gatewaySocketPath(stateDir: string, node: string): string {
  return join(stateDir, `gw-${node}.sock`);
}
