// Launcher netns made ahead of their pods, one per warm guest (guest/pool.ts): the k6t-eth0 cable
// to the guest, forwarding and the NAT table of the default masquerade binding (all ports, default
// CIDRs, a libvirt MAC). A boot cables the netns to its node as the pod's (Fabric.addPod with
// `netns`), and the masquerade binding fixes only what the VM changes.
import { sh, frag } from '../fabric/exec.ts';
import { libvirtMac } from '../fabric/ipam.ts';
import { masqueradeLauncherScript, masqueradePlan, type MasqueradePlan } from '../fabric/masquerade.ts';
import { Netns, netnsName } from '../fabric/netns.ts';
import type { WarmPlumbing } from '../guest/pool.ts';

export interface WarmLauncher {
  netns: string;
  guestNetns: string;
  /** The default binding it is plumbed for. */
  plan: MasqueradePlan;
}

export class WarmLaunchers implements WarmPlumbing<WarmLauncher> {
  private seq = 0;

  constructor(private readonly net: { mtu: number; dualStack: boolean }) {}

  async prepare(guestNetns: string): Promise<WarmLauncher> {
    // Named for no pod: the pod that takes it is not known yet (fabric.pod(name).netns has it).
    const netns = netnsName('pod-', `prepared-${process.pid}-${++this.seq}`);
    const plan = masqueradePlan(netns, { netns: guestNetns, mac: libvirtMac() }, this.net.mtu, this.net.dualStack);
    await sh([frag.ip([`netns add ${netns}`]), frag.ip(['link set lo up'], netns), masqueradeLauncherScript(plan)].join('\n'));
    return { netns, guestNetns, plan };
  }

  /** A prepared launcher no pod took; its cable's guest end goes with it. */
  async discard(l: WarmLauncher): Promise<void> {
    await new Netns(l.netns).delete();
  }
}
