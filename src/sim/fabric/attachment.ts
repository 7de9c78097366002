// A secondary NIC: a veth from the guest netns straight into a node bridge, and the bridge CNI's
// MAC spoof check. KubeVirt's bridge binding puts a tap and an in-pod bridge between the guest
// and the pod's interface; the sim leaves both out (same L2 behaviour, one hop less).
import { frag, sh } from './exec.ts';
import { NftTable } from './nft-table.ts';
import { ipLine, nftString } from './line.ts';

export interface AttachSpec {
  node: string;
  /** Kernel name of the node bridge. */
  bridge: string;
  guestNetns: string;
  guestIf: string;
  mac: string;
  mtu: number;
}

let seq = 0;

/** Plumbs the NIC; returns the node-side veth name (the bridge port). */
export async function attachToBridge(s: AttachSpec): Promise<string> {
  const hostIf = `vs${(++seq).toString(16).padStart(8, '0')}`;
  await sh([
    frag.ip([
      ipLine`link add ${hostIf} mtu ${s.mtu} type veth peer name ${s.guestIf} netns ${s.guestNetns} address ${s.mac} mtu ${s.mtu}`,
      ipLine`link set ${hostIf} master ${s.bridge} up`,
    ], s.node),
    frag.ip([ipLine`link set ${s.guestIf} up`], s.guestNetns),
  ].join('\n'));
  return hostIf;
}

export async function detachFromBridge(node: string, hostIf: string): Promise<void> {
  // Gone already when the guest netns went first (deleting either end removes the pair).
  await sh(frag.ip([`link delete ${hostIf}`], node), { allowFail: true });
}

/** Per node: the ports whose frames may only carry their NIC's MAC (bridge CNI `macspoofchk`). */
export class MacSpoofCheck {
  private readonly ports = new Map<string, Map<string, string>>();
  private readonly chains = new Map<string, Promise<void>>();

  set(node: string, hostIf: string, mac: string | undefined): Promise<void> {
    const m = this.ports.get(node) ?? new Map<string, string>();
    this.ports.set(node, m);
    if (mac) m.set(hostIf, mac.toLowerCase());
    else if (!m.delete(hostIf)) return Promise.resolve();
    // One table per node, rewritten whole; writes per node are serialized.
    const next = (this.chains.get(node) ?? Promise.resolve()).catch(() => undefined).then(() => this.render(node));
    this.chains.set(node, next);
    return next;
  }

  private async render(node: string): Promise<void> {
    const rules = [...(this.ports.get(node) ?? new Map<string, string>())].map(([port, mac]) => `    iifname "${nftString(port, 'port')}" ether saddr != ${nftString(mac, 'MAC')} counter drop`);
    await new NftTable(node, 'bridge', 'macspoofchk').replace(
      `  chain prerouting {\n    type filter hook prerouting priority -300; policy accept;\n${rules.join('\n')}\n  }`,
    );
  }
}

/**
 * A live migration's cut-over of a bridge NIC: the node-side end of the guest's cable moves from
 * one node to the other's bridge. The guest end (MAC, addresses, routes) is not touched.
 */
export async function moveBridgePort(fromNode: string, toNode: string, hostIf: string, bridge: string): Promise<void> {
  await sh([
    frag.ip([ipLine`link set ${hostIf} netns ${toNode}`], fromNode),
    frag.ip([ipLine`link set ${hostIf} master ${bridge} up`], toNode),
  ].join('\n'));
}

/**
 * What QEMU does on the target after a migration (announce-self): broadcast RARP frames from the
 * guest NIC's MAC, so the switches learn where the MAC now is before the guest sends anything.
 */
export async function announceSelf(guestNetns: string, ifName: string, mac: string, count = 3): Promise<void> {
  const m = mac.split(':').map((b) => parseInt(b, 16));
  // dst broadcast, src MAC, ethertype RARP; hw ether, proto IPv4, hlen 6, plen 4, op 3 (reverse request), sha = tha = MAC, no IPs; padded to 60 bytes.
  const bytes = [...Array(6).fill(0xff), ...m, 0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03, ...m, 0, 0, 0, 0, ...m, 0, 0, 0, 0, ...Array(18).fill(0)];
  // Octal escapes: the worker shell's printf (dash) has no \x.
  const frame = bytes.map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  const once = `printf '${frame}' | nsenter --net=/run/netns/${guestNetns} -- socat -u STDIN INTERFACE:${ifName}`;
  await sh(Array.from({ length: count }, () => once).join('\n'), { allowFail: true });
}
