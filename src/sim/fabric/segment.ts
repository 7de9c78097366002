// OVN-Kubernetes layer2 networks: one cluster-wide L2 segment per network *name*, spanning the
// nodes through an overlay. OVN does this with Geneve; this kernel has no geneve driver, so each
// segment is a VXLAN (its own VNI) on UDP 6081 — Geneve's port, kept apart from the pod
// network's VXLAN on 4789 so faults can cut one without the other.
import { createHash } from 'node:crypto';
import { frag, sh } from './exec.ts';
import { NftTable } from './nft-table.ts';
import { ifName } from './machine-network.ts';
import type { Node } from './node.ts';

export const OVERLAY_PORT = 6081;
/** VXLAN over IPv4: 50 bytes of outer headers. */
export const VXLAN_OVERHEAD = 50;

export class OverlaySegments {
  private readonly segs = new Map<string, Promise<string>>(); // `${node}/${network}`
  private readonly vnis = new Map<string, number>();

  constructor(private readonly nodes: Node[], private readonly underlayMtu: number) {}

  /** Largest frame the overlay carries without fragmenting the underlay. */
  get maxMtu(): number {
    return this.underlayMtu - VXLAN_OVERHEAD;
  }

  /** VNI of a network: stable per name, unique within this run. */
  vni(network: string): number {
    let v = this.vnis.get(network);
    if (v === undefined) {
      v = 10_000 + (parseInt(createHash('sha1').update(network).digest('hex').slice(0, 6), 16) % 1_000_000);
      while ([...this.vnis.values()].includes(v)) v++;
      this.vnis.set(network, v);
    }
    return v;
  }

  /** The segment's bridge on `node` (created with its VTEP on first use). */
  bridge(nodeName: string, network: string): Promise<string> {
    const key = `${nodeName}/${network}`;
    let p = this.segs.get(key);
    if (!p) {
      p = this.create(nodeName, network);
      this.segs.set(key, p);
      p.catch(() => this.segs.delete(key));
    }
    return p;
  }

  private async create(nodeName: string, network: string): Promise<string> {
    const node = this.nodes.find((n) => n.name === nodeName);
    if (!node) throw new Error(`no such node: ${nodeName}`);
    const vni = this.vni(network);
    const br = ifName(`ovn-l2-${vni.toString(36)}`);
    const vx = ifName(`gnv-${vni.toString(36)}`);
    const mtu = this.maxMtu;
    // MAC learning on, plus one flood entry per peer VTEP: unknown unicast and ARP reach every node.
    await sh([
      frag.ip([
        `link add ${br} type bridge`,
        `link set ${br} mtu ${mtu} up`,
        `link add ${vx} type vxlan id ${vni} dstport ${OVERLAY_PORT} dev eth0 local ${node.underlayIp}`,
        `link set ${vx} mtu ${mtu} master ${br} up`,
      ], nodeName),
      frag.bridge(this.nodes.filter((n) => n !== node).map((p) => `fdb append 00:00:00:00:00:00 dev ${vx} dst ${p.underlayIp}`), nodeName),
    ].join('\n'));
    return br;
  }

  networks(): string[] {
    return [...this.vnis.keys()];
  }
}

/** The overlay-partition fault: the machine-network switch drops the layer2 overlay between nodes. */
export async function setOverlayPartition(machineNetns: string, on: boolean): Promise<void> {
  const t = new NftTable(machineNetns, 'bridge', 'kvnet-overlay-partition');
  if (!on) return t.delete();
  await t.replace(`  chain forward {\n    type filter hook forward priority -10; policy accept;\n    udp dport ${OVERLAY_PORT} counter drop\n  }`);
}
