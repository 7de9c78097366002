// A NIC binding: how one VMI interface reaches the guest through a launcher (KubeVirt's
// masquerade, bridge, SR-IOV, ...). Boot prepares every NIC on the launcher, then connects each
// into the guest; a migration prepares every NIC on the target launcher and then hands each over
// from the source, so the cut-over is only the hand-overs.
import type { KObject } from '../api/types.ts';
import type { VmiInterface, VmiNetwork } from '../controllers/kubevirt-types.ts';
import type { DhcpLease } from '../guest/config.ts';
import type { Launcher } from './launcher.ts';

export interface Nic {
  iface: VmiInterface;
  network: VmiNetwork;
  /** The guest's name for it: eth<index>, as virtio devices enumerate in interface order. */
  ifName: string;
  mac: string;
  /** Position in spec.domain.devices.interfaces. */
  index: number;
}

export interface Connected {
  /** The lease the guest takes for this NIC (the launcher's DHCP, or the network's). */
  lease?: DhcpLease;
}

export interface Binding<P = unknown> {
  readonly name: string;
  /** Whether the NIC can be hot-unplugged: true, or why not. */
  readonly hotUnplug: true | string;
  /** Whether a VMI with this NIC can live-migrate: true, or why not. */
  readonly migratable: true | string;
  /** Everything on the launcher's side, before the guest is touched (`from`: the source's, on a migration target). */
  prepare(launcher: Launcher, nic: Nic, vmi: KObject, from?: P): Promise<P>;
  /** Plumb the prepared NIC into the guest (boot). */
  connect(prepared: P, guestNetns: string): Promise<Connected>;
  /** The cut-over: the guest's NIC, as it is (MAC, addresses), now goes through `to`'s launcher. */
  handover(from: P, to: P, guestNetns: string): Promise<void>;
  /** Take the NIC out of the guest. */
  disconnect(prepared: P, guestNetns: string): Promise<void>;
  /** Free what prepare() took on the launcher's side (a migration target that will not be used, a released source). */
  release(prepared: P): Promise<void>;
}
