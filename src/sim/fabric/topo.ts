// The cluster topology: machine-network switch, N nodes, pod network (bridge + VXLAN), pods and guests.
import type { Duplex } from 'node:stream';
import { bridgeBatch, frag, ipBatch, run, sh } from './exec.ts';
import { addrLine, Bridge } from './bridge.ts';
import { NetnsDialer, connectFrom } from './connect.ts';
import { applyOverlayDrops, setGuestLoss, setUnderlayLimit } from './faults.ts';
import {
  MASQ_GATEWAY_IF, kubevirtTable, masqueradeLinkLines, masqueradeNftBody, masqueradePlan,
  type MasqueradeGuest, type MasqueradePlan,
} from './masquerade.ts';
import { Netns, netnsName, netnsSysctls } from './netns.ts';
import { Node, POD_BRIDGE } from './node.ts';
import { Veth } from './veth.ts';
import { libvirtMac, type GuestDefaults } from './ipam.ts';
import { MacSpoofCheck } from './attachment.ts';
import { MachineNetwork } from './machine-network.ts';
import { NodeBridges } from './node-bridges.ts';
import { OverlaySegments } from './segment.ts';

export const MACHINE_NETNS = 'machine';
export const MACHINE_BRIDGE = 'br-machine';

export interface FabricOptions {
  nodes: number;
  /** Pod network MTU (the underlay gets +100 for VXLAN). Default 1400. */
  mtu?: number;
  /** Default true. */
  dualStack?: boolean;
}

export interface PodInfo {
  name: string;
  node: string;
  netns: string;
  ipv4: string;
  ipv6?: string;
  mac: string;
  /** The pod veth's end on br-pod, in the node netns. */
  hostIf: string;
}

export interface MasqueradeInfo {
  pod: string;
  podNetns: string;
  guestNetns: string;
  guest: GuestDefaults;
  ports?: number[];
}

interface PodState {
  info: PodInfo;
  host: number;
  netns: Netns;
  guest?: { netns: Netns; plan: MasqueradePlan };
  /** Built ahead of the pod by prepareLauncher(). */
  prepared?: PreparedLauncher;
}

/**
 * A virt-launcher netns plumbed before its pod exists: the k6t-eth0 cable to a guest netns and
 * the NAT table for the default binding (all ports, default CIDRs). A boot then
 * only cables it to a node and fixes what its VM changes.
 */
export interface PreparedLauncher {
  netns: string;
  guestNetns: string;
  plan: MasqueradePlan;
}

/** What a VM's binding changes on a prepared launcher: the guest MAC, and CIDRs or ports when not the defaults. */
function preparedFixups(was: MasqueradePlan, want: MasqueradePlan, nftScript: string): string {
  const out = want.mac === was.mac ? [] : [frag.ip([Veth.setMac('eth0', want.mac)], want.guestNetns)];
  const cidrs = want.vmCidr4 !== was.vmCidr4 || want.vmCidr6 !== was.vmCidr6 || want.dualStack !== was.dualStack;
  if (cidrs) {
    const readdress = masqueradeLinkLines(want).filter((l) => l.startsWith('addr '));
    out.push(frag.ip([`addr flush dev ${MASQ_GATEWAY_IF} scope global`, ...readdress], want.podNetns));
  }
  if (cidrs || (want.ports ?? []).join() !== (was.ports ?? []).join()) out.push(frag.inNetns(want.podNetns, {}, frag.nft(nftScript)));
  return out.join('\n');
}

/** Inside an existing launcher netns: forwarding, the k6t-eth0 cable to the guest, the NAT table. */
function launcherScript(plan: MasqueradePlan): string {
  return frag.inNetns(plan.podNetns, netnsSysctls({ forwarding: true, bridgeNetfilter: false }), [
    frag.ip(masqueradeLinkLines(plan)),
    frag.nft(kubevirtTable(plan.podNetns).replaceScript(masqueradeNftBody(plan))),
  ].join('\n'));
}

export function guestNetnsName(vmName: string): string {
  return netnsName('vm-', vmName);
}

export class Fabric {
  readonly nodes: Node[];
  readonly machine = new Netns(MACHINE_NETNS);
  private readonly pods = new Map<string, PodState>();
  private readonly overlayDrops = new Map<string, [Node, Node]>();
  private vethSeq = 0;
  private preparedSeq = 0;
  private readonly dialer = new NetnsDialer();
  /** Secondary networks: spare NICs and VLANs on the machine network, node bridges, OVN overlays, MAC spoof checks. */
  readonly machineNet: MachineNetwork;
  readonly bridges: NodeBridges;
  readonly overlays: OverlaySegments;
  readonly macSpoofCheck = new MacSpoofCheck();

  private constructor(readonly mtu: number, readonly dualStack: boolean, count: number) {
    this.nodes = Array.from({ length: count }, (_, i) => new Node(i + 1, mtu, dualStack));
    this.machineNet = new MachineNetwork(this.machine, MACHINE_BRIDGE, this.nodes, mtu + 100);
    this.bridges = new NodeBridges(this.nodes, this.machineNet);
    this.overlays = new OverlaySegments(this.nodes, mtu + 100);
  }

  /** A new "physical" NIC on a node, cabled to br-machine (spare NICs, SR-IOV PFs, ...). */
  addNodeNic(node: string, name: string, opts?: { mtu?: number; mac?: string }): ReturnType<MachineNetwork['addNodeNic']> {
    return this.machineNet.addNodeNic(node, name, opts);
  }

  static async create(opts: FabricOptions): Promise<Fabric> {
    const f = new Fabric(opts.mtu ?? 1400, opts.dualStack ?? true, opts.nodes);
    await f.build();
    return f;
  }

  private async build(): Promise<void> {
    const underlayMtu = this.mtu + 100;
    await Netns.addMany([MACHINE_NETNS], { bridgeNetfilter: false });
    await Netns.addMany(this.nodes.map((n) => n.name), { forwarding: true });
    // The switch, and one cable (veth) per node: `m-node-N` on the switch, `eth0` in the node.
    const cables = this.nodes.map((n) => new Veth({
      a: { name: `m-${n.name}`, master: MACHINE_BRIDGE },
      b: { name: 'eth0', netns: n.name },
      mtu: underlayMtu,
    }));
    await this.machine.ip([
      ...new Bridge({ name: MACHINE_BRIDGE, mtu: underlayMtu }).createLines(),
      ...cables.flatMap((c) => [...c.createLines(), ...c.endLines('a')]),
    ]);
    await Promise.all(this.nodes.map(async (n) => {
      const peers = this.nodes.filter((p) => p !== n);
      await n.netns.ip(n.setupLines(peers));
      await bridgeBatch(n.fdbLines(peers), n.name);
    }));
    await this.machineNet.build();
  }

  node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no such node: ${name} (have ${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  pod(podName: string): PodInfo | undefined {
    return this.pods.get(podName)?.info;
  }

  listPods(): PodInfo[] {
    return [...this.pods.values()].map((p) => p.info);
  }

  private state(pod: string | PodInfo): PodState {
    const name = typeof pod === 'string' ? pod : pod.name;
    const s = this.pods.get(name);
    if (!s) throw new Error(`no such pod: ${name}`);
    return s;
  }

  /** A pod on the pod network: netns `pod-<name>` (or a prepared launcher's), eth0 on the node's br-pod, default routes via the node. */
  async addPod(nodeName: string, podName: string, opts: { launcher?: PreparedLauncher } = {}): Promise<PodInfo> {
    if (this.pods.has(podName)) throw new Error(`pod already exists: ${podName}`);
    const node = this.node(nodeName);
    const alloc = node.allocate();
    const hostIf = `veth${(++this.vethSeq).toString(16).padStart(8, '0')}`;
    const prepared = opts.launcher;
    const info: PodInfo = {
      name: podName, node: node.name, netns: prepared?.netns ?? netnsName('pod-', podName),
      ipv4: alloc.ipv4, ipv6: alloc.ipv6, mac: alloc.mac, hostIf,
    };
    const veth = new Veth({
      a: { name: hostIf, master: POD_BRIDGE },
      b: { name: 'eth0', netns: info.netns, mac: info.mac },
      mtu: this.mtu,
    });
    const ns = new Netns(info.netns);
    this.pods.set(podName, { info, host: alloc.host, netns: ns, prepared });
    try {
      // One worker job: netns, cable to br-pod, addresses and routes.
      await sh([
        prepared ? '' : frag.ip([`netns add ${info.netns}`]),
        frag.ip([...veth.createLines(), ...veth.endLines('a')], node.name),
        frag.ip([
          ...(prepared ? [] : ['link set lo up']),
          'link set eth0 up',
          addrLine(`${info.ipv4}/24`, 'eth0'),
          `route add default via ${node.gw4} dev eth0`,
          ...(info.ipv6 ? [addrLine(`${info.ipv6}/64`, 'eth0'), `route add ::/0 via ${node.gw6} dev eth0`] : []),
        ], info.netns),
      ].join('\n'));
    } catch (e) {
      await this.removePod(podName).catch(() => undefined);
      throw e;
    }
    return info;
  }

  async removePod(podName: string): Promise<void> {
    const s = this.pods.get(podName);
    if (!s) return;
    this.pods.delete(podName);
    const node = this.node(s.info.node);
    // Deleting the netns destroys eth0 and with it the peer on br-pod, unless something still holds
    // the netns open: the cable goes explicitly too.
    await Promise.all([this.dialer.close(s.info.netns), s.netns.delete(), s.guest?.netns.delete()]);
    await run(['ip', 'link', 'del', s.info.hostIf], { netns: node.name }).catch(() => undefined);
    // Only now is the address free: its MAC is derived from it, and a new pod with the same MAC while
    // the old cable is still on br-pod would split the bridge's forwarding (a migration target takes
    // the address its source just gave up).
    node.release(s.host);
  }

  /** KubeVirt masquerade binding between the pod and a new guest netns (no guest addresses: DHCP/cloud-init does that). */
  async plumbMasquerade(pod: string | PodInfo, guest: MasqueradeGuest): Promise<MasqueradeInfo> {
    const s = this.state(pod);
    if (s.guest) throw new Error(`pod ${s.info.name} already has a guest (${s.guest.netns.name})`);
    const plan = masqueradePlan(s.info.netns, guest, this.mtu, this.dualStack && !!s.info.ipv6);
    const gns = new Netns(guest.netns);
    s.guest = { netns: gns, plan };
    if (s.prepared && s.prepared.guestNetns === guest.netns) {
      const fixups = preparedFixups(s.prepared.plan, plan, kubevirtTable(s.info.netns).replaceScript(masqueradeNftBody(plan)));
      if (fixups) await sh(fixups);
    } else {
      // One worker job: the guest netns, then the launcher side.
      await sh([guest.precreated ? '' : Netns.addScript([guest.netns]), launcherScript(plan)].join('\n'));
    }
    return { pod: s.info.name, podNetns: s.info.netns, guestNetns: gns.name, guest: plan.guest, ports: plan.ports };
  }

  /**
   * A migration target's launcher side of the masquerade binding, before the cut-over: forwarding and
   * the NAT table as the source has them. The gateway (k6t-eth0) comes over at handoverMasquerade().
   */
  async prepareMasqueradeTarget(pod: string | PodInfo, from: MasqueradeInfo): Promise<MasqueradeInfo> {
    const src = this.state(from.pod);
    if (!src.guest) throw new Error(`pod ${from.pod} has no masquerade guest`);
    const s = this.state(pod);
    const plan: MasqueradePlan = { ...src.guest.plan, podNetns: s.info.netns, dualStack: src.guest.plan.dualStack && !!s.info.ipv6 };
    await sh(frag.inNetns(plan.podNetns, netnsSysctls({ forwarding: true, bridgeNetfilter: false }), frag.nft(kubevirtTable(plan.podNetns).replaceScript(masqueradeNftBody(plan)))));
    return { pod: s.info.name, podNetns: s.info.netns, guestNetns: plan.guestNetns, guest: plan.guest, ports: plan.ports };
  }

  /**
   * The cut-over of a masquerade guest: its cable's launcher end (k6t-eth0, with its MAC) moves into
   * the target pod's netns and gets the gateway addresses again. The guest's eth0, its addresses and
   * its neighbour entry for the gateway stay as they are; only the pod IP behind the NAT changes.
   */
  async handoverMasquerade(from: string | PodInfo, to: string | PodInfo): Promise<void> {
    const src = this.state(from);
    const dst = this.state(to);
    if (!src.guest) throw new Error(`pod ${src.info.name} has no masquerade guest`);
    const plan: MasqueradePlan = { ...src.guest.plan, podNetns: dst.info.netns, dualStack: src.guest.plan.dualStack && !!dst.info.ipv6 };
    const gateways = masqueradeLinkLines(plan).filter((l) => l.startsWith('addr '));
    await sh([
      frag.ip([`link set ${MASQ_GATEWAY_IF} netns ${dst.info.netns}`], src.info.netns),
      frag.ip([...gateways, `link set ${MASQ_GATEWAY_IF} up`], dst.info.netns),
    ].join('\n'));
    dst.guest = { netns: src.guest.netns, plan };
    // The source pod no longer owns the guest: removing it must leave the guest netns alone.
    src.guest = undefined;
  }

  /** A launcher netns for a future pod, cabled to `guestNetns` (see PreparedLauncher). */
  async prepareLauncher(guestNetns: string): Promise<PreparedLauncher> {
    const netns = netnsName('pod-', `prepared-${process.pid}-${++this.preparedSeq}`);
    // A libvirt MAC, as the VM gets when it names none; one that names its own gets that at boot.
    const plan = masqueradePlan(netns, { netns: guestNetns, mac: libvirtMac() }, this.mtu, this.dualStack);
    await sh([frag.ip([`netns add ${netns}`]), frag.ip(['link set lo up'], netns), launcherScript(plan)].join('\n'));
    return { netns, guestNetns, plan };
  }

  /** Drop a prepared launcher that no pod took; its cable's guest end goes with it. */
  async discardLauncher(l: PreparedLauncher): Promise<void> {
    await new Netns(l.netns).delete();
  }

  /** The guest netns of a pod's masquerade binding, if any. */
  guestNetns(pod: string | PodInfo): Netns | undefined {
    return this.state(pod).guest?.netns;
  }

  connectFrom(netns: string, host: string, port: number): Duplex {
    return connectFrom(netns, host, port);
  }

  /** As connectFrom(), through a listener kept per (netns, host, port) until the pod goes. */
  dial(netns: string, host: string, port: number): Duplex {
    return this.dialer.connect(netns, host, port);
  }

  /** Start dial()'s listener ahead of the first connection (the guest's sshd, at boot). */
  openDial(netns: string, host: string, port: number): Promise<void> {
    return this.dialer.open(netns, host, port);
  }

  // --- faults -------------------------------------------------------------

  /** Drop N% of what a guest netns sends (0 clears); TCP with `launcherGateway` (the port-forward path) passes. */
  setGuestLoss(guestNetns: string, percent: number, launcherGateway?: string): Promise<void> {
    return setGuestLoss(guestNetns, percent, launcherGateway);
  }

  /** The node-to-node path carries inner packets of at most `mtu` bytes (undefined: no limit). */
  setUnderlayLimit(mtu: number | undefined, node?: string): Promise<void> {
    return setUnderlayLimit(MACHINE_NETNS, this.nodes, mtu, node);
  }

  /** Remove the masquerade SNAT: guest egress leaves with 10.0.2.2 and replies never come back. */
  async breakMasquerade(pod: string | PodInfo): Promise<void> {
    const s = this.state(pod);
    if (!s.guest) throw new Error(`pod ${s.info.name} has no masquerade guest`);
    await kubevirtTable(s.info.netns).replace(masqueradeNftBody(s.guest.plan, false));
  }

  async restoreMasquerade(pod: string | PodInfo): Promise<void> {
    const s = this.state(pod);
    if (!s.guest) throw new Error(`pod ${s.info.name} has no masquerade guest`);
    await kubevirtTable(s.info.netns).replace(masqueradeNftBody(s.guest.plan));
  }

  /** Deny VXLAN between two nodes at the machine-network switch. */
  async dropOverlay(a: string, b: string): Promise<void> {
    const [na, nb] = [this.node(a), this.node(b)];
    this.overlayDrops.set([na.name, nb.name].sort().join('|'), [na, nb]);
    await applyOverlayDrops(MACHINE_NETNS, [...this.overlayDrops.values()]);
  }

  async restoreOverlay(a: string, b: string): Promise<void> {
    this.overlayDrops.delete([this.node(a).name, this.node(b).name].sort().join('|'));
    await applyOverlayDrops(MACHINE_NETNS, [...this.overlayDrops.values()]);
  }

  /** Remove every netns the fabric made (pods, guests, nodes, switch). */
  async destroy(): Promise<void> {
    await Promise.all([...this.pods.keys()].map((p) => this.removePod(p)));
    await this.machineNet.destroy();
    const names = [MACHINE_NETNS, ...this.nodes.map((n) => n.name)];
    await ipBatch(names.map((n) => `netns delete ${n}`)).catch(() =>
      Promise.all(names.map((n) => run(['ip', 'netns', 'delete', n], { allowFail: true }))));
  }
}
