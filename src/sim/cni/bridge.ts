// The Linux bridge CNI plugin (`type: bridge`, and KubeVirt's older `cnv-bridge`): the NIC joins
// the named node bridge, or the bridge's VLAN segment when the config has `vlan`, with the
// bridge CNI's nftables MAC spoof check when `macspoofchk: true`. Like the real plugin it makes
// the bridge when the node lacks it (then with no uplink: node-local).
import type { Fabric } from '../fabric/topo.ts';
import { announceSelf, attachToBridge, detachFromBridge, moveBridgePort } from '../fabric/attachment.ts';
import { attachmentId, type Attachments } from './attachments.ts';
import type { DhcpServers } from './dhcp.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';

export class BridgeCni implements CniPlugin {
  private readonly moves: BridgeMoves;

  constructor(readonly type: 'bridge' | 'cnv-bridge', private readonly fabric: Fabric, private readonly attachments: Attachments, private readonly dhcp: DhcpServers) {
    this.moves = new BridgeMoves(fabric, attachments, dhcp, (ctx) => this.port(ctx), (ctx) => !!ctx.config.macspoofchk, 'nad');
  }

  /** The node bridge (or its VLAN segment) the NIC joins on ctx.node; made when the node lacks it. */
  private async port(ctx: AttachContext): Promise<{ bridge: string; mtu: number }> {
    const c = ctx.config;
    if (!c.bridge) throw new Error(`${nadKey(ctx)}: bridge CNI config has no "bridge"`);
    const br = await this.fabric.bridges.ensure(ctx.node, c.bridge);
    const vid = c.vlan && c.vlan > 0 ? c.vlan : undefined;
    const port = vid ? await this.fabric.bridges.vlan(ctx.node, br.name, vid) : br.kname;
    return { bridge: port, mtu: c.mtu ?? br.mtu };
  }

  prepareMove(to: AttachContext): Promise<void> { return this.moves.prepare(to); }
  move(from: AttachContext, to: AttachContext): Promise<void> { return this.moves.move(from, to); }
  async abortMove(to: AttachContext): Promise<void> { this.moves.abort(to); }

  async attach(ctx: AttachContext): Promise<AttachResult> {
    const c = ctx.config;
    const { bridge: port, mtu } = await this.port(ctx);
    const hostIf = await attachToBridge({ node: ctx.node, bridge: port, guestNetns: ctx.guestNetns, guestIf: ctx.guestIfName, mac: ctx.mac, mtu });
    if (c.macspoofchk) await this.fabric.macSpoofCheck.set(ctx.node, hostIf, ctx.mac);
    const id = attachmentId(ctx.podUid, ctx.iface.name);
    this.attachments.add({
      id, vmi: vmiRef(ctx), nad: nadKey(ctx), type: this.type, network: c.name ?? nadKey(ctx), node: ctx.node, hostIf, mac: ctx.mac,
    });
    return { dhcpLease: this.dhcp.offer(ctx.nad, `nad:${nadKey(ctx)}`, id, mtu) };
  }

  async detach(ctx: AttachContext): Promise<void> {
    const a = this.attachments.remove(attachmentId(ctx.podUid, ctx.iface.name));
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

/**
 * A bridge-like NIC's live migration (bridge CNI, OVN layer2/localnet): prepare finds (or makes)
 * the target node's bridge; the cut-over moves the cable's node end onto it, re-keys the attachment
 * and its lease to the target pod, and announces the MAC (QEMU's announce-self) so the switches
 * learn its new port at once. The guest NIC keeps its MAC and addresses.
 */
export class BridgeMoves {
  private readonly ports = new Map<string, { bridge: string; mtu: number }>();

  constructor(
    private readonly fabric: Fabric, private readonly attachments: Attachments, private readonly dhcp: DhcpServers,
    private readonly port: (ctx: AttachContext) => Promise<{ bridge: string; mtu: number }>,
    private readonly spoofCheck: (ctx: AttachContext) => boolean,
    /** The DHCP network key's prefix: `nad` (keyed by NAD) or `ovn` (by network name). */
    private readonly dhcpKind: 'nad' | 'ovn',
  ) {}

  async prepare(to: AttachContext): Promise<void> {
    this.ports.set(attachmentId(to.podUid, to.iface.name), await this.port(to));
  }

  abort(to: AttachContext): void {
    this.ports.delete(attachmentId(to.podUid, to.iface.name));
  }

  async move(from: AttachContext, to: AttachContext): Promise<void> {
    const toId = attachmentId(to.podUid, to.iface.name);
    const port = this.ports.get(toId) ?? await this.port(to);
    this.ports.delete(toId);
    const a = this.attachments.get(attachmentId(from.podUid, from.iface.name));
    if (!a) throw new Error(`interface ${from.iface.name}: no attachment on pod ${from.pod.name} to move`);
    await moveBridgePort(a.node, to.node, a.hostIf, port.bridge);
    await announceSelf(to.guestNetns, to.guestIfName, a.mac);
    this.attachments.remove(a.id);
    await this.fabric.macSpoofCheck.set(a.node, a.hostIf, undefined);
    if (this.spoofCheck(to)) await this.fabric.macSpoofCheck.set(to.node, a.hostIf, a.mac);
    this.dhcp.transfer(this.dhcpKind === 'nad' ? `nad:${a.nad}` : `ovn:${a.network}`, a.id, toId);
    this.attachments.add({ ...a, id: toId, vmi: vmiRef(to), node: to.node });
  }
}
