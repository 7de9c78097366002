// Sim-only fault injection. Each fault is a small, real change to the data plane or to a
// controller, so the suite that checks the capability turns red for the real reason.
// Components register the faults they own; the admin endpoint only looks them up here.
import type { Fabric, PodInfo } from './fabric/topo.ts';

export interface FaultSpec {
  /** pod-network-loss: percent of packets dropped. */
  percent?: number;
  /** overlay-drop: the two nodes whose VXLAN peering is cut (default: every pair). */
  nodes?: [string, string];
  [k: string]: unknown;
}

export interface FaultHandler {
  description: string;
  set(spec: FaultSpec): Promise<void>;
  clear(spec: FaultSpec): Promise<void>;
  /** Called for every pod plumbed while the fault is active. */
  onPodPlumbed?(pod: PodInfo, spec: FaultSpec): Promise<void>;
}

export type FaultName = string;

export class Faults {
  private readonly handlers = new Map<string, FaultHandler>();
  private readonly active = new Map<string, FaultSpec>();

  register(name: string, h: FaultHandler): void {
    if (this.handlers.has(name)) throw new Error(`fault "${name}" registered twice`);
    this.handlers.set(name, h);
  }

  known(): Record<string, string> {
    return Object.fromEntries([...this.handlers].map(([n, h]) => [n, h.description]));
  }

  list(): Record<string, FaultSpec> {
    return Object.fromEntries(this.active);
  }

  has(name: string): boolean {
    return this.active.has(name);
  }

  private handler(name: string): FaultHandler {
    const h = this.handlers.get(name);
    if (!h) throw new Error(`unknown fault "${name}"; known: ${[...this.handlers.keys()].join(', ')}`);
    return h;
  }

  async set(name: string, spec: FaultSpec = {}): Promise<void> {
    const h = this.handler(name);
    await h.set(spec);
    this.active.set(name, spec);
  }

  async clear(name: string): Promise<void> {
    const h = this.handler(name);
    const spec = this.active.get(name);
    if (!spec) return;
    this.active.delete(name);
    await h.clear(spec);
  }

  /** New pods get the faults that are active when they are plumbed. */
  async onPodPlumbed(pod: PodInfo): Promise<void> {
    for (const [name, spec] of this.active) await this.handlers.get(name)?.onPodPlumbed?.(pod, spec);
  }
}

/** The pod network's own faults. */
export function registerPodNetworkFaults(faults: Faults, fabric: Fabric): void {
  faults.register('masquerade-nat-broken', {
    description: 'virt-launcher NAT loses its SNAT rule: guest egress leaves as 10.0.2.2 and replies never return',
    set: async () => { await Promise.all(fabric.listPods().map((p) => fabric.breakMasquerade(p).catch(() => undefined))); },
    clear: async () => { await Promise.all(fabric.listPods().map((p) => fabric.restoreMasquerade(p).catch(() => undefined))); },
    onPodPlumbed: (pod) => fabric.breakMasquerade(pod),
  });
  faults.register('pod-network-loss', {
    description: 'nftables numgen drops a share of pod-network packets on every node (spec: {percent})',
    set: async (spec) => {
      const pct = spec.percent ?? 30;
      if (!(pct > 0 && pct <= 100)) throw new Error('pod-network-loss needs "percent" from 1 to 100');
      await fabric.setLoss(pct);
    },
    clear: () => fabric.setLoss(0),
  });
  const pairs = (spec: FaultSpec): [string, string][] => {
    if (spec.nodes) return [spec.nodes];
    const names = fabric.nodes.map((n) => n.name);
    return names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
  };
  faults.register('overlay-drop', {
    description: 'the machine-network switch drops VXLAN between nodes (spec: {nodes: [a, b]}, default every pair)',
    set: async (spec) => { for (const [a, b] of pairs(spec)) await fabric.dropOverlay(a, b); },
    clear: async (spec) => { for (const [a, b] of pairs(spec)) await fabric.restoreOverlay(a, b); },
  });
}
