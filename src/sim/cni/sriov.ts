// The `sriov` CNI plugin (with the device plugin's allocation): takes a VF of the NAD's resource
// on the launcher's node and moves it into the guest as the interface's NIC with its MAC. The
// NAD's vlan, spoofchk, trust, link_state and max_tx_rate go to the VF (enforced by SriovFabric).
// No IPAM result reaches the guest: with VFIO passthrough the guest configures the VF itself.
import type { FaultHandler, FaultName, Faults } from '../faults.ts';
import type { SriovFabric, VfSettings } from '../fabric/sriov.ts';
import type { SriovDevicePlugin } from '../controllers/sriov-device-plugin.ts';
import { RESOURCE_ANNOTATION } from '../controllers/sriov-network-operator.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';
import { attachmentId } from './attachments.ts';

export const VF_NOT_MOVED: FaultName = 'vf-not-moved';
/** How long attach waits for a VF a just-deleted pod still holds (its teardown runs concurrently). */
const ALLOCATE_WAIT_MS = 5000;

export class SriovCni implements CniPlugin {
  readonly type = 'sriov';

  constructor(private readonly sriov: SriovFabric, private readonly plugin: SriovDevicePlugin, private readonly faults: Faults) {}

  /** VFs are owned per launcher pod and interface: a migrating VMI holds one on each node. */
  private owner(ctx: AttachContext): string {
    return attachmentId(ctx.podUid, ctx.iface.name);
  }

  private async allocate(ctx: AttachContext): Promise<NonNullable<ReturnType<SriovDevicePlugin['allocate']>>> {
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
    return vf;
  }

  /** Migration target: a VF of the same resource on the target node, held until the cut-over. */
  async prepareMove(to: AttachContext): Promise<void> {
    await this.allocate(to);
  }

  /**
   * The cut-over, as KubeVirt does it for SR-IOV (user-guide "Live Migration with SR-IOV"): the
   * source VF is unplugged from the guest and a VF on the target is plugged in with the same MAC;
   * the guest configures it again (no address survives, as with a real hot plug).
   */
  async move(from: AttachContext, to: AttachContext): Promise<void> {
    await this.detach(from);
    await this.attach(to);
  }

  async abortMove(to: AttachContext): Promise<void> {
    this.plugin.release(this.owner(to));
  }

  async attach(ctx: AttachContext): Promise<AttachResult> {
    const vf = await this.allocate(ctx);
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
  faultHandlers(): Partial<Record<FaultName, FaultHandler>> {
    return {
      [VF_NOT_MOVED]: {
        description: 'the sriov CNI leaves the VF in the node netns: the guest gets no SR-IOV NIC (applies to VMs started while set)',
        set: async () => undefined,
        clear: async () => undefined,
      },
    };
  }
}
