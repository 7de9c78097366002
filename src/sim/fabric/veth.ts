// A veth pair, expressed as `ip -batch` lines so callers can fold it into bigger batches.
import { ipLine } from './line.ts';
export interface VethEnd {
  name: string;
  /** Target netns; omit for the netns the batch runs in. */
  netns?: string;
  mac?: string;
  /** Enslave to this bridge (must exist in the end's netns). */
  master?: string;
}

export interface VethSpec {
  a: VethEnd;
  b: VethEnd;
  mtu?: number;
  /** Bring both ends up (default true). */
  up?: boolean;
}

function endArgs(e: VethEnd, mtu?: number): string {
  return [
    ipLine`name ${e.name}`,
    e.netns ? ipLine`netns ${e.netns}` : '',
    mtu ? ipLine`mtu ${mtu}` : '',
    e.mac ? ipLine`address ${e.mac}` : '',
  ].filter(Boolean).join(' ');
}

export class Veth {
  constructor(readonly spec: VethSpec) {}

  /** Lines to create the pair; run them (with `ip -batch`) in any netns. */
  createLines(): string[] {
    const { a, b, mtu } = this.spec;
    return [`link add ${endArgs(a, mtu)} type veth peer ${endArgs(b, mtu)}`];
  }

  /** Lines to run in each end's own netns afterwards (master, up). */
  endLines(which: 'a' | 'b'): string[] {
    const e = this.spec[which];
    const out: string[] = [];
    if (e.master) out.push(ipLine`link set ${e.name} master ${e.master}`);
    if (this.spec.up ?? true) out.push(ipLine`link set ${e.name} up`);
    return out;
  }

  static setMtu(name: string, mtu: number): string {
    return ipLine`link set ${name} mtu ${mtu}`;
  }

  static setMac(name: string, mac: string): string {
    return ipLine`link set ${name} address ${mac}`;
  }
}
