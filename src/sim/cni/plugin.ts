// What Multus hands a CNI plugin when a VM's secondary interface is plumbed, and what it gets back.
// Each plugin (bridge, ovn-k8s-cni-overlay, sriov, ...) is a module of its own that registers here.
import type { KObject } from '../api/types.ts';
import type { NadConfig } from '../api/admission/index.ts';
import type { VmiInterface, VmiNetwork } from '../controllers/kubevirt-types.ts';
import type { PodInfo } from '../fabric/topo.ts';
import type { DhcpLease } from '../guest/config.ts';

export interface AttachContext {
  vmi: KObject;
  /** The interface in spec.domain.devices.interfaces, and its network in spec.networks. */
  iface: VmiInterface;
  network: VmiNetwork;
  nad: KObject;
  config: NadConfig;
  /** Fabric node name (node-N) the launcher pod runs on. */
  node: string;
  /** The virt-launcher pod's netns and addresses, and its API uid (attachments are keyed by pod uid and interface). */
  pod: PodInfo;
  podUid: string;
  /** The guest netns and the name the NIC gets in it (eth1, eth2, ... in interface order). */
  guestNetns: string;
  guestIfName: string;
  mac: string;
  /** Position in spec.domain.devices.interfaces. */
  index: number;
}

export interface AttachResult {
  /** What a DHCP server on that network hands this NIC, if the network has one. */
  dhcpLease?: DhcpLease;
}

export interface CniPlugin {
  /** The NAD config `type` this plugin serves. */
  readonly type: string;
  attach(ctx: AttachContext): Promise<AttachResult>;
  detach(ctx: AttachContext): Promise<void>;
  /** Live migration: make `to`'s node ready for the NIC (bridges, a VF); nothing moves yet. */
  prepareMove?(to: AttachContext): Promise<void>;
  /** The cut-over: the guest's NIC, as it is, now goes through `to`'s node; `from`'s node side is released. */
  move?(from: AttachContext, to: AttachContext): Promise<void>;
  /** Undo prepareMove() for a target that will not be used. */
  abortMove?(to: AttachContext): Promise<void>;
}
