// The SR-IOV network device plugin: per node, one pool of VFs per resourceName, advertised as
// node capacity/allocatable `openshift.io/<resourceName>`; kubelet's device allocation (which VF
// a pod gets) is folded in here. Also a scheduler filter: VMs cannot use netdevice VFs.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { KObject } from '../api/types.ts';

const NODE = kindOf('v1', 'Node') as Kind;
export const RESOURCE_PREFIX = 'openshift.io/';

export type DeviceType = 'vfio-pci' | 'netdevice';

export interface VfRef {
  pf: string;
  index: number;
}

export interface Pool {
  deviceType: DeviceType;
  vfs: VfRef[];
}

const sameVf = (a: VfRef, b: VfRef) => a.pf === b.pf && a.index === b.index;

export class SriovDevicePlugin {
  /** node → resourceName (without prefix) → pool. */
  private readonly pools = new Map<string, Map<string, Pool>>();
  /** owner (VMI uid/interface) → node and VF. */
  private readonly allocations = new Map<string, { node: string; resource: string; vf: VfRef }>();

  constructor(private readonly api: Registry) {}

  /** Replaces a node's pools and republishes its extended resources. */
  setPools(node: string, pools: Map<string, Pool>): void {
    this.pools.set(node, pools);
    const cur = this.api.tryGet(NODE, undefined, node);
    if (!cur) return;
    const st = (cur.status ?? {}) as { capacity?: Record<string, string>; allocatable?: Record<string, string> };
    const next = (m: Record<string, string> = {}) => {
      // Only our prefix is ours to rewrite; everything else on the node stays as it is.
      const out = Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith(RESOURCE_PREFIX)));
      for (const [res, p] of pools) if (p.vfs.length) out[`${RESOURCE_PREFIX}${res}`] = String(p.vfs.length);
      return out;
    };
    const capacity = next(st.capacity);
    const allocatable = next(st.allocatable);
    if (JSON.stringify(capacity) === JSON.stringify(st.capacity) && JSON.stringify(allocatable) === JSON.stringify(st.allocatable)) return;
    cur.status = { ...st, capacity, allocatable };
    this.api.update(NODE, undefined, node, cur, { subresource: 'status' });
  }

  pool(node: string, resource: string): Pool | undefined {
    return this.pools.get(node)?.get(resource.replace(RESOURCE_PREFIX, ''));
  }

  /** A free VF of `resource` on `node` for `owner` (the same one again if it already has one). */
  allocate(node: string, resource: string, owner: string): VfRef | undefined {
    const have = this.allocations.get(owner);
    if (have) return have.vf;
    const pool = this.pool(node, resource);
    const used = [...this.allocations.values()].filter((a) => a.node === node).map((a) => a.vf);
    const vf = pool?.vfs.find((v) => !used.some((u) => sameVf(u, v)));
    if (vf) this.allocations.set(owner, { node, resource, vf });
    return vf;
  }

  allocated(owner: string): VfRef | undefined {
    return this.allocations.get(owner)?.vf;
  }

  release(owner: string): void {
    this.allocations.delete(owner);
  }

  /**
   * Scheduler filter (Filter extension point): KubeVirt passes a VF through to the guest with
   * VFIO, so a virt-launcher pod asking for a netdevice pool cannot run on this node.
   */
  readonly filter = (pod: KObject, node: KObject): string | undefined => {
    if (pod.metadata.labels?.['kubevirt.io'] !== 'virt-launcher') return undefined;
    const containers = ((pod.spec as { containers?: { resources?: { requests?: Record<string, string> } }[] })?.containers ?? []);
    for (const c of containers) {
      for (const res of Object.keys(c.resources?.requests ?? {})) {
        if (!res.startsWith(RESOURCE_PREFIX)) continue;
        const p = this.pool(node.metadata.name as string, res);
        if (p?.deviceType === 'netdevice') return `node(s) expose ${res} as netdevice VFs; virtual machines need VFs bound to vfio-pci (SriovNetworkNodePolicy spec.deviceType: vfio-pci)`;
      }
    }
    return undefined;
  };
}
