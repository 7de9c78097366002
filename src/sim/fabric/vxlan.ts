// A VXLAN tunnel endpoint with static peers (no learning: the fabric knows every VTEP).
export interface VxlanPeer {
  /** Underlay IP of the remote VTEP. */
  remote: string;
  /** MAC of the remote vxlan device. */
  mac: string;
  /** Remote transit addresses on the overlay, for static neighbour entries. */
  addresses: string[];
}

export interface VxlanSpec {
  name: string;
  vni: number;
  dstport: number;
  dev: string;
  local: string;
  mtu: number;
  mac: string;
  addresses: string[];
}

export class Vxlan {
  constructor(readonly spec: VxlanSpec) {}

  createLines(): string[] {
    const s = this.spec;
    return [
      `link add ${s.name} type vxlan id ${s.vni} dstport ${s.dstport} dev ${s.dev} local ${s.local} nolearning`,
      `link set ${s.name} mtu ${s.mtu} address ${s.mac} up`,
      ...s.addresses.map((a) => (a.includes(':') ? `addr add ${a} dev ${s.name} nodad` : `addr add ${a} dev ${s.name}`)),
    ];
  }

  /** `ip` lines: permanent neighbours, so no ARP/ND crosses the overlay before traffic. */
  neighLines(peers: VxlanPeer[]): string[] {
    return peers.flatMap((p) => p.addresses.map((a) => `neigh replace ${a} lladdr ${p.mac} dev ${this.spec.name} nud permanent`));
  }

  /** `bridge` lines: where each peer MAC lives, plus a flood entry per peer for BUM traffic. */
  fdbLines(peers: VxlanPeer[]): string[] {
    return peers.flatMap((p) => [
      `fdb append 00:00:00:00:00:00 dev ${this.spec.name} dst ${p.remote}`,
      `fdb replace ${p.mac} dev ${this.spec.name} dst ${p.remote}`,
    ]);
  }
}
