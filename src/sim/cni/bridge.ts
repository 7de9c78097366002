// The Linux bridge CNI plugin (`type: bridge`, and KubeVirt's older `cnv-bridge`): the NIC joins
// the named node bridge, or the bridge's VLAN segment when the config has `vlan`, with the
// bridge CNI's nftables MAC spoof check when `macspoofchk: true`. Like the real plugin it makes
// the bridge when the node lacks it (then with no uplink: node-local).
import type { Fabric } from '../fabric/topo.ts';
import { attachToBridge, detachFromBridge } from '../fabric/attachment.ts';
import { attachmentId, type Attachments } from './attachments.ts';
import type { DhcpServers } from './dhcp.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';

export class BridgeCni implements CniPlugin {
  constructor(readonly type: 'bridge' | 'cnv-bridge', private readonly fabric: Fabric, private readonly attachments: Attachments, private readonly dhcp: DhcpServers) {}

  async attach(ctx: AttachContext): Promise<AttachResult> {
    const c = ctx.config;
    if (!c.bridge) throw new Error(`${nadKey(ctx)}: bridge CNI config has no "bridge"`);
    const br = await this.fabric.bridges.ensure(ctx.node, c.bridge);
    const vid = c.vlan && c.vlan > 0 ? c.vlan : undefined;
    const port = vid ? await this.fabric.bridges.vlan(ctx.node, br.name, vid) : br.kname;
    const mtu = c.mtu ?? br.mtu;
    const hostIf = await attachToBridge({ node: ctx.node, bridge: port, guestNetns: ctx.guestNetns, guestIf: ctx.guestIfName, mac: ctx.mac, mtu });
    if (c.macspoofchk) await this.fabric.macSpoofCheck.set(ctx.node, hostIf, ctx.mac);
    const id = attachmentId(ctx.vmi.metadata.uid as string, ctx.index);
    this.attachments.add({
      id, vmi: vmiRef(ctx), nad: nadKey(ctx), type: this.type, network: c.name ?? nadKey(ctx), node: ctx.node, hostIf, mac: ctx.mac,
    });
    return { dhcpLease: this.dhcp.offer(ctx.nad, `nad:${nadKey(ctx)}`, id, mtu) };
  }

  async detach(ctx: AttachContext): Promise<void> {
    const a = this.attachments.remove(attachmentId(ctx.vmi.metadata.uid as string, ctx.index));
    if (!a) return;
    this.dhcp.release(`nad:${a.nad}`, a.id);
    await this.fabric.macSpoofCheck.set(a.node, a.hostIf, undefined);
    await detachFromBridge(a.node, a.hostIf);
  }
}

export function nadKey(ctx: AttachContext): string {
  return `${ctx.nad.metadata.namespace}/${ctx.nad.metadata.name}`;
}

export function vmiRef(ctx: AttachContext): { namespace: string; name: string; uid: string; labels: Record<string, string> } {
  const m = ctx.vmi.metadata;
  return { namespace: m.namespace as string, name: m.name as string, uid: m.uid as string, labels: { ...m.labels } };
}
