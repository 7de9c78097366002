// The cluster topology: machine-network switch, N nodes, pod network (bridge + VXLAN), pod netns.
// What runs in a pod (a VM's bindings, its guest) is the pod's owner's: src/sim/virt.
import type { Duplex } from 'node:stream';
import { bridgeBatch, frag, ipBatch, run, sh } from './exec.ts';
import { addrLine, Bridge } from './bridge.ts';
import { NetnsDialer, connectFrom } from './connect.ts';
import { applyOverlayDrops, setGuestLoss, setUnderlayLimit } from './faults.ts';
import { Netns, netnsName } from './netns.ts';
import { Node, POD_BRIDGE } from './node.ts';
import { Veth } from './veth.ts';
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

interface PodState {
  info: PodInfo;
  host: number;
  netns: Netns;
}

export class Fabric {
  readonly nodes: Node[];
  readonly machine = new Netns(MACHINE_NETNS);
  private readonly pods = new Map<string, PodState>();
  private readonly overlayDrops = new Map<string, [Node, Node]>();
  private vethSeq = 0;
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

  /**
   * A pod on the pod network: netns `pod-<name>`, or `netns` when it exists already (a launcher
   * prepared ahead of its pod), eth0 on the node's br-pod, default routes via the node.
   */
  async addPod(nodeName: string, podName: string, opts: { netns?: string } = {}): Promise<PodInfo> {
    if (this.pods.has(podName)) throw new Error(`pod already exists: ${podName}`);
    const node = this.node(nodeName);
    const alloc = node.allocate();
    const hostIf = `veth${(++this.vethSeq).toString(16).padStart(8, '0')}`;
    const existing = opts.netns !== undefined;
    const info: PodInfo = {
      name: podName, node: node.name, netns: opts.netns ?? netnsName('pod-', podName),
      ipv4: alloc.ipv4, ipv6: alloc.ipv6, mac: alloc.mac, hostIf,
    };
    const veth = new Veth({
      a: { name: hostIf, master: POD_BRIDGE },
      b: { name: 'eth0', netns: info.netns, mac: info.mac },
      mtu: this.mtu,
    });
    const ns = new Netns(info.netns);
    this.pods.set(podName, { info, host: alloc.host, netns: ns });
    try {
      // One worker job: netns, cable to br-pod, addresses and routes.
      await sh([
        existing ? '' : frag.ip([`netns add ${info.netns}`]),
        frag.ip([...veth.createLines(), ...veth.endLines('a')], node.name),
        frag.ip([
          ...(existing ? [] : ['link set lo up']),
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
    await Promise.all([this.dialer.close(s.info.netns), s.netns.delete()]);
    await run(['ip', 'link', 'del', s.info.hostIf], { netns: node.name }).catch(() => undefined);
    // Only now is the address free: its MAC is derived from it, and a new pod with the same MAC while
    // the old cable is still on br-pod would split the bridge's forwarding (a migration target takes
    // the address its source just gave up).
    node.release(s.host);
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

  /** Remove every netns the fabric made (pods, nodes, switch). */
  async destroy(): Promise<void> {
    await Promise.all([...this.pods.keys()].map((p) => this.removePod(p)));
    await this.machineNet.destroy();
    const names = [MACHINE_NETNS, ...this.nodes.map((n) => n.name)];
    await ipBatch(names.map((n) => `netns delete ${n}`)).catch(() =>
      Promise.all(names.map((n) => run(['ip', 'netns', 'delete', n], { allowFail: true }))));
  }
}
