// Sim-only fault injection. Each fault is a small, real change to the data plane or to a
// controller, so the suite that checks the capability turns red for the real reason.
// Each module (src/sim/modules) names the faults it owns and the data plane registers them; the
// admin endpoint only looks them up here.
import type { PodInfo } from './fabric/topo.ts';

/** Every fault the sim knows; components register each under one of these names. */
export const FAULT_NAMES = [
  'masquerade-nat-broken', 'pod-network-loss', 'overlay-drop', 'overlay-mtu-low',
  'kube-proxy-stale', 'dns-down', 'endpoints-stuck', 'metallb-stuck',
  'bridge-port-down', 'vlan-leak', 'overlay-partition', 'policy-ignored', 'vf-not-moved', 'guest-agent-down', 'dhcp-down',
  'migration-stalled', 'migration-network-down', 'migration-network-shared', 'kubemacpool-duplicate', 'hotplug-not-attached',
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
