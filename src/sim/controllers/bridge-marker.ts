// KubeVirt's bridge-marker: every bridge a node has becomes the node resource
// `bridge.network.kubevirt.io/<bridge>`, so launcher pods of VMs on a NAD annotated with
// `k8s.v1.cni.cncf.io/resourceName: bridge.network.kubevirt.io/<bridge>` land only where it exists.
// It reads the bridges from NodeNetworkState (the real one looks at the node's links).
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import { Controller } from './controller.ts';

const NNS = kindOf('nmstate.io/v1beta1', 'NodeNetworkState') as Kind;
const NODE = kindOf('v1', 'Node') as Kind;
export const BRIDGE_RESOURCE_PREFIX = 'bridge.network.kubevirt.io/';
/** bridge-marker advertises 1k of each bridge (written out: the scheduler compares plain numbers). */
const AMOUNT = '1000';

export class BridgeMarker extends Controller {
  constructor(api: Registry) {
    super(api, 'bridge-marker');
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === NNS && e.type !== 'DELETED' ? [e.object.metadata.name as string] : [];
  }

  protected async reconcile(node: string): Promise<void> {
    const nns = this.api.tryGet(NNS, undefined, node);
    const n = this.api.tryGet(NODE, undefined, node);
    if (!nns || !n) return;
    const ifaces = ((nns.status as { currentState?: { interfaces?: { name: string; type: string }[] } })?.currentState?.interfaces ?? []);
    const want = new Set(ifaces.filter((i) => i.type === 'linux-bridge' || i.type === 'ovs-bridge').map((i) => BRIDGE_RESOURCE_PREFIX + i.name));
    const st = (n.status ?? {}) as { capacity?: Record<string, string>; allocatable?: Record<string, string> };
    const fix = (r: Record<string, string> = {}): Record<string, string> => ({
      ...Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith(BRIDGE_RESOURCE_PREFIX) || want.has(k))),
      ...Object.fromEntries([...want].map((k) => [k, AMOUNT])),
    });
    const next = { ...st, capacity: fix(st.capacity), allocatable: fix(st.allocatable) };
    if (JSON.stringify(next) === JSON.stringify(st)) return;
    n.status = next;
    this.api.update(NODE, undefined, node, n, { subresource: 'status' });
  }
}
