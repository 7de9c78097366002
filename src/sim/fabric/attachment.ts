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
