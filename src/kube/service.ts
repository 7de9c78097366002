// Service manifests as the seed writes them (§8.3.3, §8.4.1), and what a client reads back:
// allocated cluster IPs, node ports, load balancer ingress and the ready endpoints.
import type { Kube, KObject } from './client.ts';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export type IpFamily = 'IPv4' | 'IPv6';

export interface ServicePort { name?: string; port: number; targetPort?: number; nodePort?: number; protocol?: 'TCP' | 'UDP' }

export interface ServiceOptions {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  type?: ServiceType;
  ports: ServicePort[];
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  ipFamilies?: IpFamily[];
  /** `None` makes it headless (§8.4.1). */
  clusterIP?: string;
  labels?: Record<string, string>;
}

export interface ServiceView {
  type: ServiceType;
  clusterIPs: string[];
  ipFamilies: IpFamily[];
  ports: ServicePort[];
  ingress: string[];
}

export function serviceManifest(o: ServiceOptions): KObject {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      selector: o.selector,
      ...(o.type ? { type: o.type } : {}),
      ...(o.clusterIP ? { clusterIP: o.clusterIP } : {}),
      ...(o.ipFamilyPolicy ? { ipFamilyPolicy: o.ipFamilyPolicy } : {}),
      ...(o.ipFamilies ? { ipFamilies: o.ipFamilies } : {}),
      ports: o.ports.map((p) => ({ protocol: 'TCP', ...p })),
    },
  };
}

export function viewService(svc: KObject): ServiceView {
  const spec = svc.spec as { type?: ServiceType; clusterIPs?: string[]; clusterIP?: string; ipFamilies?: IpFamily[]; ports?: ServicePort[] };
  const status = svc.status as { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } | undefined;
  return {
    type: spec.type ?? 'ClusterIP',
    clusterIPs: spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []),
    ipFamilies: spec.ipFamilies ?? [],
    ports: spec.ports ?? [],
    ingress: (status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean),
  };
}

export interface ReadyEndpoint { address: string; pod?: string; hostname?: string; nodeName?: string }

/** Ready endpoints of a Service, from its EndpointSlices (discovery.k8s.io/v1). */
export async function readyEndpoints(kube: Kube, namespace: string, service: string): Promise<ReadyEndpoint[]> {
  const slices = await kube.list<KObject>('discovery.k8s.io/v1', 'EndpointSlice', namespace, `kubernetes.io/service-name=${service}`);
  return slices.flatMap((s) => ((s.endpoints ?? []) as { addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string }; hostname?: string; nodeName?: string }[])
    .filter((e) => e.conditions?.ready !== false)
    .flatMap((e) => e.addresses.map((address) => ({ address, pod: e.targetRef?.name, hostname: e.hostname, nodeName: e.nodeName }))));
}

/** Node addresses a client outside the cluster uses: ExternalIP when the node has one, else InternalIP. */
export async function nodeAddresses(kube: Kube): Promise<{ node: string; address: string; type: string }[]> {
  const nodes = await kube.list<KObject>('v1', 'Node');
  return nodes.flatMap((n) => {
    const addrs = ((n.status as { addresses?: { type: string; address: string }[] })?.addresses ?? []);
    const pick = addrs.find((a) => a.type === 'ExternalIP') ?? addrs.find((a) => a.type === 'InternalIP');
    return pick ? [{ node: n.metadata?.name as string, address: pick.address, type: pick.type }] : [];
  });
}

export function internalIP(node: KObject): string | undefined {
  return ((node.status as { addresses?: { type: string; address: string }[] })?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address;
}
