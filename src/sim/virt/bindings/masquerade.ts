// KubeVirt's masquerade binding on the pod network: the guest is 10.0.2.2 behind the launcher's
// NAT (fabric/masquerade.ts), the launcher's pod IP is its address on the network. A migration
// gives the guest a new launcher, so a new pod IP, while the guest keeps 10.0.2.2 and its gateway
// (KubeVirt's migration is allowed with masquerade and promises no continuity on the pod network:
// kubevirt/community design-proposals/primary_network_binding_for_seamless_migration.md).
import type { KObject } from '../../api/types.ts';
import { podNetwork, type VmiSpec } from '../../controllers/kubevirt-types.ts';
import type { Fabric, MasqueradeInfo } from '../../fabric/topo.ts';
import type { Binding, Connected, Nic } from '../binding.ts';
import type { Launcher } from '../launcher.ts';

export interface MasqueradePrepared {
  launcher: Launcher;
  nic: Nic;
  ports?: number[];
  vmCidr4?: string;
  vmCidr6?: string;
  /** The plumbed NAT, once connected (or prepared on a migration target). */
  info?: MasqueradeInfo;
}

export class MasqueradeBinding implements Binding<MasqueradePrepared> {
  readonly name = 'masquerade';
  readonly hotUnplug = 'the pod network interface cannot be hot-unplugged';
  readonly migratable = true as const;

  constructor(private readonly fabric: Fabric) {}

  async prepare(launcher: Launcher, nic: Nic, vmi: KObject, from?: MasqueradePrepared): Promise<MasqueradePrepared> {
    const pod = podNetwork(vmi.spec as VmiSpec)?.pod;
    const p: MasqueradePrepared = { launcher, nic, ports: nic.iface.ports?.map((x) => x.port), vmCidr4: pod?.vmNetworkCIDR, vmCidr6: pod?.vmIPv6NetworkCIDR };
    if (from?.info) p.info = await this.fabric.prepareMasqueradeTarget(launcher.pod, from.info);
    return p;
  }

  async connect(p: MasqueradePrepared, guestNetns: string): Promise<Connected> {
    p.info = await this.fabric.plumbMasquerade(p.launcher.pod, { netns: guestNetns, mac: p.nic.mac, precreated: true, ports: p.ports, vmCidr4: p.vmCidr4, vmCidr6: p.vmCidr6 });
    return { lease: { address: p.info.guest.ipv4, gateway: p.info.guest.gw4, mtu: this.fabric.mtu } };
  }

  async handover(from: MasqueradePrepared, to: MasqueradePrepared): Promise<void> {
    await this.fabric.handoverMasquerade(from.launcher.pod, to.launcher.pod);
    to.info = from.info && { ...from.info, pod: to.launcher.pod.name, podNetns: to.launcher.pod.netns };
  }

  /** The pod network NIC leaves with its launcher: removing the pod removes k6t-eth0 and the NAT. */
  async disconnect(): Promise<void> {}

  async release(): Promise<void> {}
}

/** The guest's address behind the NAT, where port-forward connects. */
export function masqueradeGuestIP(p: MasqueradePrepared): string | undefined {
  return p.info?.guest.ipv4.split('/')[0];
}
