// The `sriov` CNI plugin (with the device plugin's allocation): takes a VF of the NAD's resource
// on the launcher's node and moves it into the guest as the interface's NIC with its MAC. The
// NAD's vlan, spoofchk, trust, link_state and max_tx_rate go to the VF (enforced by SriovFabric).
// No IPAM result reaches the guest: with VFIO passthrough the guest configures the VF itself.
import type { Faults } from '../faults.ts';
import type { SriovFabric, VfSettings } from '../fabric/sriov.ts';
import type { SriovDevicePlugin } from '../controllers/sriov-device-plugin.ts';
import { RESOURCE_ANNOTATION } from '../controllers/sriov-network-operator.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';

export const VF_NOT_MOVED = 'vf-not-moved';
/** How long attach waits for a VF a just-deleted pod still holds (its teardown runs concurrently). */
const ALLOCATE_WAIT_MS = 5000;

export class SriovCni implements CniPlugin {
  readonly type = 'sriov';

  constructor(private readonly sriov: SriovFabric, private readonly plugin: SriovDevicePlugin, private readonly faults: Faults) {}

  private owner(ctx: AttachContext): string {
    return `${ctx.vmi.metadata.uid}/${ctx.iface.name}`;
  }

  async attach(ctx: AttachContext): Promise<AttachResult> {
    if (!ctx.iface.sriov) throw new Error(`interface ${ctx.iface.name}: network ${ctx.network.multus?.networkName} is an SR-IOV network and needs the sriov binding (sriov: {})`);
    const resource = ctx.nad.metadata.annotations?.[RESOURCE_ANNOTATION];
    if (!resource) throw new Error(`network-attachment-definition ${ctx.nad.metadata.namespace}/${ctx.nad.metadata.name} has no ${RESOURCE_ANNOTATION} annotation: no SR-IOV device to allocate`);
    const deadline = Date.now() + ALLOCATE_WAIT_MS;
    let vf = this.plugin.allocate(ctx.node, resource, this.owner(ctx));
    while (!vf && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      vf = this.plugin.allocate(ctx.node, resource, this.owner(ctx));
    }
    if (!vf) throw new Error(`no free VF of ${resource} on ${ctx.node}`);
    const raw = ctx.config.raw;
    const settings: VfSettings = {
      mac: ctx.mac,
      vlan: typeof raw.vlan === 'number' ? raw.vlan : 0,
      spoofchk: raw.spoofchk !== 'off', // the VF default is on
      trust: raw.trust === 'on',
      linkState: raw.link_state === 'disable' ? 'disable' : raw.link_state === 'enable' ? 'enable' : 'auto',
      maxTxRate: typeof raw.max_tx_rate === 'number' ? raw.max_tx_rate : 0,
    };
    try {
      await this.sriov.attach(ctx.node, vf.pf, vf.index, { netns: ctx.guestNetns, ifName: ctx.guestIfName }, settings, !this.faults.has(VF_NOT_MOVED));
    } catch (e) {
      this.plugin.release(this.owner(ctx));
      throw e;
    }
    return {};
  }

  async detach(ctx: AttachContext): Promise<void> {
    const vf = this.plugin.allocated(this.owner(ctx));
    try {
      if (vf) await this.sriov.detach(ctx.node, vf.pf, vf.index);
    } finally {
      this.plugin.release(this.owner(ctx));
    }
  }

  /** The fault: VFs stay in the node netns, so the guest NIC never appears. */
  registerFaults(faults: Faults): void {
    faults.register(VF_NOT_MOVED, {
      description: 'the sriov CNI leaves the VF in the node netns: the guest gets no SR-IOV NIC (applies to VMs started while set)',
      set: async () => undefined,
      clear: async () => undefined,
    });
  }
}
