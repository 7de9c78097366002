// KubeVirt's masquerade binding on the pod network: the guest is 10.0.2.2 behind the launcher's
// NAT (the plan and nft text: fabric/masquerade.ts), the launcher's pod IP is its address on the
// network. A migration gives the guest a new launcher, so a new pod IP, while the guest keeps
// 10.0.2.2 and its gateway (KubeVirt's migration is allowed with masquerade and promises no
// continuity on the pod network: kubevirt/community design-proposals/primary_network_binding_for_seamless_migration.md).
import type { KObject } from '../../api/types.ts';
import { podNetwork, type VmiSpec } from '../../controllers/kubevirt-types.ts';
import { sh } from '../../fabric/exec.ts';
import {
  kubevirtTable, masqueradeFixupScript, masqueradeHandoverScript, masqueradeLauncherScript, masqueradeNftBody,
  masqueradePlan, masqueradeTargetScript, type MasqueradePlan,
} from '../../fabric/masquerade.ts';
import type { PodInfo } from '../../fabric/topo.ts';
import type { Binding, Connected, Nic } from '../binding.ts';
import type { Launcher } from '../launcher.ts';

export interface MasqueradePrepared {
  launcher: Launcher;
  nic: Nic;
  ports?: number[];
  vmCidr4?: string;
  vmCidr6?: string;
  /** The NAT in this launcher: once connected, prepared as a migration target, or handed over to. */
  plan?: MasqueradePlan;
}

export class MasqueradeBinding implements Binding<MasqueradePrepared> {
  readonly name = 'masquerade';
  readonly hotUnplug = 'the pod network interface cannot be hot-unplugged';
  readonly migratable = true as const;
  /** Each launcher's NIC, by pod uid and interface name: a migrating VMI has two launchers. */
  private readonly nics = new Map<string, MasqueradePrepared>();

  constructor(private readonly net: { mtu: number; dualStack: boolean }) {}

  async prepare(launcher: Launcher, nic: Nic, vmi: KObject, from?: MasqueradePrepared): Promise<MasqueradePrepared> {
    const pod = podNetwork(vmi.spec as VmiSpec)?.pod;
    const p: MasqueradePrepared = { launcher, nic, ports: nic.iface.ports?.map((x) => x.port), vmCidr4: pod?.vmNetworkCIDR, vmCidr6: pod?.vmIPv6NetworkCIDR };
    // A migration target: forwarding and the NAT as the source has them; the gateway comes at the hand-over.
    if (from?.plan) {
      p.plan = this.onPod(from.plan, launcher.pod);
      await sh(masqueradeTargetScript(p.plan));
    }
    this.nics.set(key(p), p);
    return p;
  }

  /** The cable to the guest and the NAT; a prepared launcher made for this guest needs only what the VM changes. */
  async connect(p: MasqueradePrepared, guestNetns: string): Promise<Connected> {
    const pod = p.launcher.pod;
    const plan = masqueradePlan(pod.netns, { netns: guestNetns, mac: p.nic.mac, ports: p.ports, vmCidr4: p.vmCidr4, vmCidr6: p.vmCidr6 }, this.net.mtu, this.net.dualStack && !!pod.ipv6);
    const warm = p.launcher.warm;
    if (warm && warm.guestNetns === guestNetns) {
      const fixups = masqueradeFixupScript(warm.plan, plan);
      if (fixups) await sh(fixups);
    } else await sh(masqueradeLauncherScript(plan));
    p.plan = plan;
    return { lease: { address: plan.guest.ipv4, gateway: plan.guest.gw4, mtu: this.net.mtu } };
  }

  /**
   * The cut-over: k6t-eth0 (with its MAC) moves into the target launcher and gets the gateway
   * addresses again. The guest's eth0, addresses and neighbour entry stay; only the pod IP behind the NAT changes.
   */
  async handover(from: MasqueradePrepared, to: MasqueradePrepared): Promise<void> {
    if (!from.plan) throw new Error(`pod ${from.launcher.pod.name} has no masquerade guest`);
    const plan = this.onPod(from.plan, to.launcher.pod);
    await sh(masqueradeHandoverScript(from.launcher.pod.netns, plan));
    to.plan = plan;
    from.plan = undefined;
  }

  /** The pod network NIC leaves with its launcher: removing the pod removes k6t-eth0 and the NAT. */
  async disconnect(p: MasqueradePrepared): Promise<void> {
    this.forget(p);
  }

  async release(p: MasqueradePrepared): Promise<void> {
    this.forget(p);
  }

  /** The masquerade-nat-broken fault: without SNAT guest egress leaves as 10.0.2.2 and replies never come back. */
  async setSnat(pod: PodInfo, on: boolean): Promise<void> {
    const p = [...this.nics.values()].find((x) => x.plan && x.launcher.pod.name === pod.name);
    if (!p?.plan) throw new Error(`pod ${pod.name} has no masquerade guest`);
    await kubevirtTable(p.plan.podNetns).replace(masqueradeNftBody(p.plan, on));
  }

  private onPod(plan: MasqueradePlan, pod: PodInfo): MasqueradePlan {
    return { ...plan, podNetns: pod.netns, dualStack: plan.dualStack && !!pod.ipv6 };
  }

  private forget(p: MasqueradePrepared): void {
    if (this.nics.get(key(p)) === p) this.nics.delete(key(p));
  }
}

function key(p: MasqueradePrepared): string {
  return `${p.launcher.podUid}/${p.nic.iface.name}`;
}

/** The guest's address behind the NAT, where port-forward connects. */
export function masqueradeGuestIP(p: MasqueradePrepared): string | undefined {
  return p.plan?.guest.ipv4.split('/')[0];
}
