// kube-controller-manager's endpointslice controller: for every Service with a selector, one
// discovery.k8s.io/v1 EndpointSlice per IP family listing the selected pods. A virt-launcher pod is
// ready only while its VMI is Ready (KubeVirt sets a readiness gate on the pod for this), so a
// stopping VM drops out before its pod is gone.
import { isIP } from 'node:net';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { ServiceSpec } from '../api/service-allocator.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller, keyOf, splitKey } from './controller.ts';
import { CREATED_BY_LABEL, type VmiStatus } from './kubevirt-types.ts';

const SERVICE = kindOf('v1', 'Service') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const SLICE = kindOf('discovery.k8s.io/v1', 'EndpointSlice') as Kind;

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const MANAGED_BY = 'endpointslice-controller.k8s.io';

interface PodSpec { hostname?: string; subdomain?: string; nodeName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] }
interface PodStatus { podIPs?: { ip: string }[]; podIP?: string; conditions?: { type: string; status: string }[] }

export interface Endpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  hostname?: string;
  nodeName?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
}

export function selectorMatches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export class EndpointsController extends Controller {
  /** The endpoints-stuck fault: reconciles are dropped until it clears, as if the controller hung. */
  private stuck = false;

  constructor(api: Registry) {
    super(api, 'endpointslice-controller');
  }

  setStuck(on: boolean): void {
    this.stuck = on;
    if (!on) this.resync();
  }

  protected keysFor(e: StoreEvent): string[] {
    const { namespace, name } = e.object.metadata;
    if (e.kind === SERVICE) return [keyOf(namespace, name)];
    // Pods and VMIs wake every Service of their namespace; the namespaces are small.
    if (e.kind === POD || e.kind === VMI) return this.api.store.list(SERVICE, namespace).map((s) => keyOf(namespace, s.metadata.name));
    if (e.kind === SLICE && e.type === 'DELETED') {
      const svc = e.object.metadata.labels?.[SERVICE_NAME_LABEL];
      return svc ? [keyOf(namespace, svc)] : [];
    }
    return [];
  }

  protected override resync(): void {
    for (const s of this.api.store.list(SERVICE)) this.enqueue(keyOf(s.metadata.namespace, s.metadata.name));
  }

  protected async reconcile(key: string): Promise<void> {
    if (this.stuck) return;
    const [ns, name] = splitKey(key);
    const svc = this.api.tryGet(SERVICE, ns, name);
    const existing = this.api.store.list(SLICE, ns).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);
    const spec = svc?.spec as ServiceSpec | undefined;
    if (!svc || svc.metadata.deletionTimestamp || !spec?.selector || spec.type === 'ExternalName') {
      // The garbage collector would get them through the ownerReference; removing them now is quicker.
      for (const s of existing) this.remove(ns as string, s.metadata.name as string);
      return;
    }
    const families = spec.ipFamilies?.length ? spec.ipFamilies : ['IPv4'];
    const pods = this.api.store.list(POD, ns).filter((p) => selectorMatches(spec.selector as Record<string, string>, p.metadata.labels));
    const wanted = new Set<string>();
    for (const family of families) {
      const sliceName = `${name}-${family.toLowerCase()}`;
      wanted.add(sliceName);
      const endpoints = pods.flatMap((p) => this.endpoint(p, svc, family === 'IPv6' ? 6 : 4));
      const body: KObject = {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: {
          name: sliceName, namespace: ns,
          labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY },
          ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid as string, controller: true, blockOwnerDeletion: true }],
        },
        addressType: family,
        endpoints,
        ports: (spec.ports ?? []).map((p) => ({
          ...(p.name ? { name: p.name } : { name: '' }),
          protocol: p.protocol ?? 'TCP',
          port: this.targetPort(p as { port?: number; targetPort?: number | string }, pods[0]),
        })),
      };
      const cur = this.api.tryGet(SLICE, ns, sliceName);
      if (!cur) this.api.create(SLICE, ns, body);
      else if (JSON.stringify({ e: cur.endpoints, p: cur.ports }) !== JSON.stringify({ e: body.endpoints, p: body.ports })) {
        this.api.update(SLICE, ns, sliceName, { ...body, metadata: { ...cur.metadata, ...body.metadata } });
      }
    }
    for (const s of existing) if (!wanted.has(s.metadata.name as string)) this.remove(ns as string, s.metadata.name as string);
  }

  /** The garbage collector may have got there first. */
  private remove(ns: string, name: string): void {
    if (this.api.store.get(SLICE, ns, name)) this.api.delete(SLICE, ns, name);
  }

  private endpoint(pod: KObject, svc: KObject, family: 4 | 6): Endpoint[] {
    const st = (pod.status ?? {}) as PodStatus;
    const spec = (pod.spec ?? {}) as PodSpec;
    const ips = (st.podIPs?.map((x) => x.ip) ?? (st.podIP ? [st.podIP] : [])).filter((ip) => isIP(ip) === family);
    if (!ips.length) return [];
    const terminating = !!pod.metadata.deletionTimestamp;
    const ready = !terminating && podReady(pod) && this.vmiReady(pod);
    const headless = (svc.spec as ServiceSpec).clusterIP === 'None';
    return [{
      addresses: [ips[0]],
      conditions: { ready, serving: ready, terminating },
      // Pod hostname records (<hostname>.<subdomain>...) exist only for the Service the pod names as its subdomain.
      ...(headless && spec.hostname && spec.subdomain === svc.metadata.name ? { hostname: spec.hostname } : {}),
      ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace as string, name: pod.metadata.name as string, uid: pod.metadata.uid as string },
    }];
  }

  private vmiReady(pod: KObject): boolean {
    const vmiName = pod.metadata.labels?.['vm.kubevirt.io/name'];
    if (!pod.metadata.labels?.[CREATED_BY_LABEL] || !vmiName) return true;
    const vmi = this.api.store.get(VMI, pod.metadata.namespace, vmiName);
    if (!vmi || vmi.metadata.deletionTimestamp || vmi.metadata.uid !== pod.metadata.labels[CREATED_BY_LABEL]) return false;
    const st = vmi.status as VmiStatus | undefined;
    return st?.phase === 'Running' && !!st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  }

  /** A named targetPort resolves against the pod's container ports; a number is used as is. */
  private targetPort(p: { port?: number; targetPort?: number | string }, pod: KObject | undefined): number {
    if (typeof p.targetPort === 'number') return p.targetPort;
    if (typeof p.targetPort === 'string' && pod) {
      const named = ((pod.spec as PodSpec).containers ?? []).flatMap((c) => c.ports ?? []).find((cp) => cp.name === p.targetPort);
      if (named?.containerPort) return named.containerPort;
    }
    return p.port as number;
  }
}

function podReady(pod: KObject): boolean {
  return !!((pod.status as PodStatus | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
