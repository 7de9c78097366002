// A Linux bridge with optional addresses (the bridge itself acting as gateway).
import { ipLine } from './line.ts';
export interface BridgeSpec {
  name: string;
  mtu?: number;
  mac?: string;
  /** CIDR addresses on the bridge, v4 or v6. */
  addresses?: string[];
}

export class Bridge {
  constructor(readonly spec: BridgeSpec) {}

  createLines(): string[] {
    const { name, mtu, mac, addresses = [] } = this.spec;
    const set = [mtu ? ipLine`mtu ${mtu}` : '', mac ? ipLine`address ${mac}` : ''].filter(Boolean).join(' ');
    return [
      ipLine`link add ${name} type bridge`,
      `${ipLine`link set ${name}`} ${set} up`.replace(/\s+/g, ' '),
      ...addresses.map((a) => addrLine(a, name)),
    ];
  }
}

/** `addr add` with `nodad` for IPv6 so the address is usable at once. */
export function addrLine(cidr: string, dev: string): string {
  return cidr.includes(':') ? ipLine`addr add ${cidr} dev ${dev} nodad` : ipLine`addr add ${cidr} dev ${dev}`;
}
