// KubeVirt's bridge and SR-IOV bindings on Multus secondary networks: the NIC is whatever the NAD's
// CNI plugin plumbs (bridge, OVN layer2/localnet, sriov). Both migrate in KubeVirt (bridge NICs keep
// MAC and IP; SR-IOV is unplugged and plugged again on the target). A plugin that cannot move a
// NIC in place has it detached on the source and attached on the target.
import type { KObject } from '../../api/types.ts';
import type { AttachContext, CniPlugin } from '../../cni/plugin.ts';
import type { Multus } from '../../cni/multus.ts';
import type { Binding, Connected, Nic } from '../binding.ts';
import type { Launcher } from '../launcher.ts';

export interface MultusPrepared {
  ctx: AttachContext;
  plugin: CniPlugin;
}

export class MultusBinding implements Binding<MultusPrepared> {
  /** Bridge NICs can be hot-unplugged; SR-IOV ones cannot (§8.9, as admission refuses `state: absent` on them). */
  readonly hotUnplug: true | string;
  readonly migratable = true as const;

  constructor(readonly name: 'bridge' | 'sriov', private readonly multus: Multus) {
    this.hotUnplug = name === 'sriov' ? 'SR-IOV interfaces cannot be hot-unplugged' : true;
  }

  async prepare(launcher: Launcher, nic: Nic, vmi: KObject, from?: MultusPrepared): Promise<MultusPrepared> {
    const { nad, plugin, config } = this.multus.resolve(vmi.metadata.namespace as string, nic.network.multus?.networkName as string);
    const ctx: AttachContext = {
      vmi, iface: nic.iface, network: nic.network, nad, config, node: launcher.node, pod: launcher.pod, podUid: launcher.podUid,
      guestNetns: from?.ctx.guestNetns ?? '', guestIfName: nic.ifName, mac: nic.mac, index: nic.index,
    };
    if (from) await plugin.prepareMove?.(ctx);
    return { ctx, plugin };
  }

  async connect(p: MultusPrepared, guestNetns: string): Promise<Connected> {
    p.ctx.guestNetns = guestNetns;
    const r = await this.multus.attach(p.ctx, p.plugin);
    return { lease: r.dhcpLease };
  }

  async handover(from: MultusPrepared, to: MultusPrepared, guestNetns: string): Promise<void> {
    to.ctx.guestNetns = guestNetns;
    if (to.plugin.move) { await to.plugin.move(from.ctx, to.ctx); return; }
    await this.multus.detach(from.ctx);
    await this.multus.attach(to.ctx, to.plugin);
  }

  async disconnect(p: MultusPrepared): Promise<void> {
    await this.multus.detach(p.ctx);
  }

  async release(p: MultusPrepared): Promise<void> {
    await p.plugin.abortMove?.(p.ctx);
  }
}
