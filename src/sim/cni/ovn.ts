// OVN-Kubernetes secondary networks (`type: ovn-k8s-cni-overlay`).
// layer2: a cluster-wide segment keyed by the config's network `name` (not the NAD), so NADs in
// different namespaces with one name share it; it spans nodes over an overlay (see
// fabric/segment.ts) and the NIC gets the config's `mtu` (default: the cluster network MTU).
// localnet: the segment is the physical bridge the node's OVN bridge-mapping names for that
// network (`vlanID`: that bridge's VLAN segment); with no mapping the CNI ADD fails.
// Both have OVN port security: a port only sends its own MAC.
import type { Fabric } from '../fabric/topo.ts';
import { attachToBridge, detachFromBridge } from '../fabric/attachment.ts';
import { attachmentId, type Attachments } from './attachments.ts';
import { BridgeMoves, nadKey, vmiRef } from './bridge.ts';
import type { DhcpServers } from './dhcp.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';

export const OVN_CNI_TYPE = 'ovn-k8s-cni-overlay';

export class OvnCni implements CniPlugin {
  readonly type = OVN_CNI_TYPE;

  private readonly moves: BridgeMoves;

  constructor(private readonly fabric: Fabric, private readonly attachments: Attachments, private readonly dhcp: DhcpServers) {
    // OVN port security stays on the moved port (the LSP moves with the VM).
    this.moves = new BridgeMoves(fabric, attachments, dhcp, (ctx) => this.port(ctx), () => true, 'ovn');
  }

  prepareMove(to: AttachContext): Promise<void> { return this.moves.prepare(to); }
  move(from: AttachContext, to: AttachContext): Promise<void> { return this.moves.move(from, to); }
  async abortMove(to: AttachContext): Promise<void> { this.moves.abort(to); }

  private async port(ctx: AttachContext): Promise<{ bridge: string; mtu: number }> {
    const c = ctx.config;
    const network = c.name as string;
    if (c.topology === 'layer2') return { bridge: await this.fabric.overlays.bridge(ctx.node, network), mtu: c.mtu ?? this.fabric.mtu };
    if (c.topology === 'localnet') {
      const mapped = this.fabric.bridges.mapping(ctx.node, network);
      if (!mapped) {
        throw new Error(`failed to attach ${nadKey(ctx)}: no OVN bridge-mapping for localnet network "${network}" on node ${ctx.node}; map it to an OVS bridge with a NodeNetworkConfigurationPolicy (spec.desiredState.ovn.bridge-mappings) first`);
      }
      const br = this.fabric.bridges.get(ctx.node, mapped);
      if (!br) throw new Error(`failed to attach ${nadKey(ctx)}: bridge ${mapped} of the bridge-mapping for "${network}" does not exist on node ${ctx.node}`);
      const vid = c.vlanId && c.vlanId > 0 ? c.vlanId : undefined;
      return { bridge: vid ? await this.fabric.bridges.vlan(ctx.node, br.name, vid) : br.kname, mtu: c.mtu ?? br.mtu };
    }
    throw new Error(`${nadKey(ctx)}: topology "${c.topology}" is not supported for secondary networks (layer2, localnet)`);
  }

  async attach(ctx: AttachContext): Promise<AttachResult> {
    const { bridge, mtu } = await this.port(ctx);
    const hostIf = await attachToBridge({ node: ctx.node, bridge, guestNetns: ctx.guestNetns, guestIf: ctx.guestIfName, mac: ctx.mac, mtu });
    await this.fabric.macSpoofCheck.set(ctx.node, hostIf, ctx.mac);
    const id = attachmentId(ctx.podUid, ctx.iface.name);
    const network = ctx.config.name as string;
    this.attachments.add({ id, vmi: vmiRef(ctx), nad: nadKey(ctx), type: this.type, topology: ctx.config.topology, network, node: ctx.node, hostIf, mac: ctx.mac });
    return { dhcpLease: this.dhcp.offer(ctx.nad, `ovn:${network}`, id, mtu) };
  }

  async detach(ctx: AttachContext): Promise<void> {
    const a = this.attachments.remove(attachmentId(ctx.podUid, ctx.iface.name));
    if (!a) return;
    this.dhcp.release(`ovn:${a.network}`, a.id);
    await this.fabric.macSpoofCheck.set(a.node, a.hostIf, undefined);
    await detachFromBridge(a.node, a.hostIf);
  }
}
