// Sim-only fault injection. Each fault is a small, real change to the data plane or to a
// controller, so the suite that checks the capability turns red for the real reason.
import type { Fabric, PodInfo } from './fabric/topo.ts';

export type FaultName = 'masquerade-nat-broken' | 'pod-network-loss' | 'overlay-drop';

export interface FaultSpec {
  /** pod-network-loss: percent of packets dropped. */
  percent?: number;
  /** overlay-drop: the two nodes whose VXLAN peering is cut (default: every pair). */
  nodes?: [string, string];
}

export const FAULTS: Record<FaultName, string> = {
  'masquerade-nat-broken': 'virt-launcher NAT loses its SNAT rule: guest egress leaves as 10.0.2.2 and replies never return',
  'pod-network-loss': 'nftables numgen drops a share of pod-network packets on every node',
  'overlay-drop': 'the machine-network switch drops VXLAN between nodes',
};

export class Faults {
  private readonly active = new Map<FaultName, FaultSpec>();

  constructor(private readonly fabric: Fabric, private readonly pods: () => PodInfo[]) {}

  list(): Record<string, FaultSpec> {
    return Object.fromEntries(this.active);
  }

  has(name: FaultName): boolean {
    return this.active.has(name);
  }

  async set(name: FaultName, spec: FaultSpec = {}): Promise<void> {
    if (!(name in FAULTS)) throw new Error(`unknown fault "${name}"; known: ${Object.keys(FAULTS).join(', ')}`);
    this.active.set(name, spec);
    if (name === 'masquerade-nat-broken') await Promise.all(this.pods().map((p) => this.fabric.breakMasquerade(p).catch(() => undefined)));
    if (name === 'pod-network-loss') {
      const pct = spec.percent ?? 30;
      if (!(pct > 0 && pct <= 100)) throw new Error('pod-network-loss needs "percent" from 1 to 100');
      await this.fabric.setLoss(pct);
    }
    if (name === 'overlay-drop') for (const [a, b] of this.pairs(spec)) await this.fabric.dropOverlay(a, b);
  }

  async clear(name: FaultName): Promise<void> {
    const spec = this.active.get(name);
    if (!spec) return;
    this.active.delete(name);
    if (name === 'masquerade-nat-broken') await Promise.all(this.pods().map((p) => this.fabric.restoreMasquerade(p).catch(() => undefined)));
    if (name === 'pod-network-loss') await this.fabric.setLoss(0);
    if (name === 'overlay-drop') for (const [a, b] of this.pairs(spec)) await this.fabric.restoreOverlay(a, b);
  }

  /** New pods get the faults that are active when they are plumbed. */
  async onPodPlumbed(pod: PodInfo): Promise<void> {
    if (this.has('masquerade-nat-broken')) await this.fabric.breakMasquerade(pod);
  }

  private pairs(spec: FaultSpec): [string, string][] {
    if (spec.nodes) return [spec.nodes];
    const names = this.fabric.nodes.map((n) => n.name);
    return names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
  }
}
