// Sim-only fault injection. Each fault is a small, real change to the data plane or to a
// controller, so the suite that checks the capability turns red for the real reason.
// Components register the faults they own; the admin endpoint only looks them up here.
import type { Fabric, PodInfo } from './fabric/topo.ts';
import { defaultUnderlayLimit } from './fabric/faults.ts';

/** Every fault the sim knows; components register each under one of these names. */
export const FAULT_NAMES = [
  'masquerade-nat-broken', 'pod-network-loss', 'overlay-drop', 'overlay-mtu-low',
  'kube-proxy-stale', 'dns-down', 'endpoints-stuck', 'metallb-stuck',
  'bridge-port-down', 'vlan-leak', 'overlay-partition', 'policy-ignored', 'vf-not-moved', 'guest-agent-down', 'dhcp-down',
  'migration-stalled', 'migration-network-down', 'migration-network-shared',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/** Which VMs (or nodes) a scoped fault hits; every given key must match. */
export interface FaultSelector {
  namespace?: string;
  vm?: string;
  node?: string;
}
export type SelectorKey = keyof FaultSelector;
const SELECTOR_KEYS: readonly SelectorKey[] = ['namespace', 'vm', 'node'];

export interface FaultSpec {
  /** pod-network-loss: percent of packets dropped. */
  percent?: number;
  /** overlay-drop: the two nodes whose VXLAN peering is cut (default: every pair). */
  nodes?: [string, string];
  /** overlay-mtu-low: the largest inner packet the node-to-node path carries. */
  mtu?: number;
  /** Scope: only these VMs / this node (see each fault's `scopes`). */
  selector?: FaultSelector;
  [k: string]: unknown;
}

/** A running VM's guest as the faults see it (registered by virt-handler). */
export interface GuestInfo {
  namespace: string;
  vm: string;
  node: string;
  netns: string;
  /** The launcher pod, when the VM has the pod network (masquerade). */
  pod?: PodInfo;
  /** The launcher's gateway address: the port-forward (SSH) path comes from it. */
  launcherGateway?: string;
}

export function selects(sel: FaultSelector | undefined, g: GuestInfo): boolean {
  if (!sel) return true;
  return (sel.namespace === undefined || sel.namespace === g.namespace)
    && (sel.vm === undefined || sel.vm === g.vm)
    && (sel.node === undefined || sel.node === g.node);
}

export interface FaultHandler {
  description: string;
  /** Selector keys this fault honours; a selector with any other key is refused. None: no selector at all. */
  scopes?: readonly SelectorKey[];
  set(spec: FaultSpec): Promise<void>;
  clear(spec: FaultSpec): Promise<void>;
  /** Called for every guest plumbed while the fault is active (its own selector already applied). */
  onGuestPlumbed?(guest: GuestInfo, spec: FaultSpec): Promise<void>;
}

export class Faults {
  private readonly handlers = new Map<FaultName, FaultHandler>();
  private readonly active = new Map<FaultName, FaultSpec>();
  private readonly guestsByNetns = new Map<string, GuestInfo>();

  register(name: FaultName, h: FaultHandler): void {
    if (this.handlers.has(name)) throw new Error(`fault "${name}" registered twice`);
    this.handlers.set(name, h);
  }

  known(): Record<string, string> {
    return Object.fromEntries([...this.handlers].map(([n, h]) => [n, h.description]));
  }

  list(): Record<string, FaultSpec> {
    return Object.fromEntries(this.active);
  }

  has(name: FaultName): boolean {
    return this.active.has(name);
  }

  private handler(name: string): FaultHandler {
    const h = this.handlers.get(name as FaultName);
    if (!h) throw new Error(`unknown fault "${name}"; known: ${[...this.handlers.keys()].join(', ')}`);
    return h;
  }

  private checkSelector(name: string, h: FaultHandler, sel: unknown): void {
    if (sel === undefined) return;
    if (typeof sel !== 'object' || sel === null || Array.isArray(sel)) throw new Error(`${name}: "selector" must be an object with namespace, vm and/or node`);
    for (const [k, v] of Object.entries(sel)) {
      if (!SELECTOR_KEYS.includes(k as SelectorKey)) throw new Error(`${name}: unknown selector key "${k}" (known: ${SELECTOR_KEYS.join(', ')})`);
      if (!(h.scopes ?? []).includes(k as SelectorKey)) {
        throw new Error(`${name} cannot be scoped by ${k}${h.scopes?.length ? ` (it honours: ${h.scopes.join(', ')})` : ' (it takes no selector)'}`);
      }
      if (typeof v !== 'string' || v === '') throw new Error(`${name}: selector.${k} must be a non-empty string`);
    }
  }

  async set(name: string, spec: FaultSpec = {}): Promise<void> {
    const h = this.handler(name);
    this.checkSelector(name, h, spec.selector);
    // Setting an active fault again replaces it: its old scope must not linger.
    await this.clear(name);
    await h.set(spec);
    this.active.set(name as FaultName, spec);
  }

  async clear(name: string): Promise<void> {
    const h = this.handler(name);
    const spec = this.active.get(name as FaultName);
    if (!spec) return;
    this.active.delete(name as FaultName);
    await h.clear(spec);
  }

  /** Running guests, optionally only those a selector picks. */
  guests(sel?: FaultSelector): GuestInfo[] {
    return [...this.guestsByNetns.values()].filter((g) => selects(sel, g));
  }

  /** A guest is plumbed: remember it, and give it the active faults that select it. */
  async guestPlumbed(g: GuestInfo): Promise<void> {
    this.guestsByNetns.set(g.netns, g);
    for (const [name, spec] of this.active) {
      if (selects(spec.selector, g)) await this.handlers.get(name)?.onGuestPlumbed?.(g, spec);
    }
  }

  guestGone(netns: string): void {
    this.guestsByNetns.delete(netns);
  }
}

/** The pod network's own faults. */
export function registerPodNetworkFaults(faults: Faults, fabric: Fabric): void {
  const withPod = (gs: GuestInfo[]) => gs.flatMap((g) => (g.pod ? [g.pod] : []));
  faults.register('masquerade-nat-broken', {
    description: 'virt-launcher NAT loses its SNAT rule: guest egress leaves as 10.0.2.2 and replies never return (selector: namespace, vm, node)',
    scopes: ['namespace', 'vm', 'node'],
    set: async (spec) => { await Promise.all(withPod(faults.guests(spec.selector)).map((p) => fabric.breakMasquerade(p).catch(() => undefined))); },
    clear: async (spec) => { await Promise.all(withPod(faults.guests(spec.selector)).map((p) => fabric.restoreMasquerade(p).catch(() => undefined))); },
    onGuestPlumbed: async (g) => { if (g.pod) await fabric.breakMasquerade(g.pod); },
  });
  faults.register('pod-network-loss', {
    description: 'nftables drops a share of every packet VMs send, on the pod network and every secondary NIC; the port-forward (SSH) path is spared (spec: {percent}, selector: namespace, vm, node)',
    scopes: ['namespace', 'vm', 'node'],
    set: async (spec) => {
      const pct = spec.percent ?? 30;
      if (typeof pct !== 'number' || !(pct > 0 && pct <= 100)) throw new Error('pod-network-loss needs "percent" from 1 to 100');
      await Promise.all(faults.guests(spec.selector).map((g) => fabric.setGuestLoss(g.netns, pct, g.launcherGateway)));
    },
    clear: async (spec) => { await Promise.all(faults.guests(spec.selector).map((g) => fabric.setGuestLoss(g.netns, 0).catch(() => undefined))); },
    onGuestPlumbed: (g, spec) => fabric.setGuestLoss(g.netns, spec.percent ?? 30, g.launcherGateway),
  });
  const pairs = (spec: FaultSpec): [string, string][] => {
    if (spec.nodes) return [spec.nodes];
    const names = fabric.nodes.map((n) => n.name);
    return names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
  };
  faults.register('overlay-drop', {
    description: 'the machine-network switch drops the node-to-node tunnels, pod-network VXLAN and OVN layer2 overlay alike (one Geneve tunnel in OVN-Kubernetes) (spec: {nodes: [a, b]}, default every pair)',
    set: async (spec) => { for (const [a, b] of pairs(spec)) await fabric.dropOverlay(a, b); },
    clear: async (spec) => { for (const [a, b] of pairs(spec)) await fabric.restoreOverlay(a, b); },
  });
  faults.register('overlay-mtu-low', {
    description: `the node-to-node path (pod-network VXLAN, OVN overlay, bridge and localnet uplinks) silently drops packets larger than spec.mtu (default ${defaultUnderlayLimit(fabric.mtu)} for pod MTU ${fabric.mtu}): a PMTU black hole (selector: node)`,
    scopes: ['node'],
    set: async (spec) => {
      const mtu = spec.mtu ?? defaultUnderlayLimit(fabric.mtu);
      if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 576 || mtu >= fabric.mtu) {
        throw new Error(`overlay-mtu-low needs "mtu" as a whole number from 576 to ${fabric.mtu - 1} (below the pod MTU ${fabric.mtu})`);
      }
      await fabric.setUnderlayLimit(mtu, spec.selector?.node);
    },
    clear: () => fabric.setUnderlayLimit(undefined),
  });
}
