// The machine network beyond eth0: spare "physical" NICs on every node, cabled to br-machine
// (the physical switch), the switch's VLANs, and a host outside the cluster on that switch.
//
// This kernel has no 8021q devices and no bridge vlan_filtering, so a VLAN is its own L2
// segment: a bridge `vlan<id>` in the `machine` netns (the switch's VLAN), and per trunk NIC
// and VLAN one extra cable `<nic>.v<id>` from the node into it. Same VLAN id → same segment on
// every trunk; different ids never meet (unless the vlan-leak fault joins them).
import { createHash } from 'node:crypto';
import { frag, sh, spawnIn } from './exec.ts';
import { Netns } from './netns.ts';
import type { Node } from './node.ts';
import { Veth } from './veth.ts';
import { ipLine } from './line.ts';
import type { ChildProcess } from 'node:child_process';
import { cabledNics, nicWithRole, nicsWithRole, TOPOLOGY } from '../topology.ts';

/** Spare NICs every node gets on the machine network (eth0 carries the node IP and the overlays). */
export const SPARE_NICS = nicsWithRole('bridge-port');
/** OpenShift's external bridge (an OVS bridge there, a Linux bridge here) and its uplink NIC. */
export const EXTERNAL_BRIDGE = TOPOLOGY.externalBridge.name;
export const EXTERNAL_UPLINK = TOPOLOGY.externalBridge.uplink;
/** The NIC kept free for the dedicated migration network (see the topology's `migration` role). */
export const MIGRATION_NIC = nicWithRole('migration');
/** A host outside the cluster on the machine network, for localnet and underlay checks. */
export const MACHINE_HOST_NETNS = TOPOLOGY.outsideHost.netns;
const LEAK_HUB = 'vlan-leak';
export const MACHINE_HOST = TOPOLOGY.outsideHost;

/** A Linux interface name (IFNAMSIZ 15): kept when it fits, else shortened with a hash. */
export function ifName(want: string): string {
  if (want.length <= 15) return want;
  return `${want.slice(0, 10)}${createHash('sha1').update(want).digest('hex').slice(0, 5)}`;
}

export interface NodeNic {
  node: string;
  name: string;
  mac: string;
  mtu: number;
  /** The cable's end on br-machine (in the `machine` netns). */
  switchPort: string;
}

export class MachineNetwork {
  private readonly nics = new Map<string, NodeNic>(); // `${node}/${nic}`
  private readonly vlanSegs = new Map<number, Promise<string>>();
  private readonly trunks = new Map<string, Promise<string>>(); // `${node}/${nic}/${vid}` → node-side name
  private nicSeq = 0;
  private leaking = false;
  private responder?: ChildProcess;

  constructor(private readonly machine: Netns, private readonly machineBridge: string, private readonly nodes: Node[], readonly mtu: number) {}

  /** The topology's NICs on every node (spare, uplink, migration); br-ex with its uplink; the machine host. */
  async build(): Promise<void> {
    // Spare NICs share eth0's L2. Without arp_ignore a node answers ARP for its IP on every one of
    // them (Linux's weak host model), peers may send the pod overlay to a spare NIC's MAC, and that
    // traffic breaks when the NIC becomes a bridge port. Multi-homed hosts set these.
    const arp = { 'net.ipv4.conf.all.arp_ignore': 1, 'net.ipv4.conf.default.arp_ignore': 1, 'net.ipv4.conf.all.arp_announce': 2, 'net.ipv4.conf.default.arp_announce': 2 };
    await sh(this.nodes.map((n) => frag.inNetns(n.name, arp)).join('\n'));
    await Promise.all(this.nodes.map(async (n) => {
      for (const nic of cabledNics()) await this.addNodeNic(n.name, nic);
      await n.netns.ip([`link add ${EXTERNAL_BRIDGE} type bridge`, `link set ${EXTERNAL_BRIDGE} mtu ${this.mtu} up`, `link set ${EXTERNAL_UPLINK} master ${EXTERNAL_BRIDGE}`]);
    }));
    await this.buildHost();
  }

  private node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no such node: ${name}`);
    return n;
  }

  /**
   * A new "physical" NIC on a node, cabled to the machine-network switch. Other components
   * (SR-IOV PFs, for one) add theirs here too.
   */
  async addNodeNic(nodeName: string, name: string, opts: { mtu?: number; mac?: string } = {}): Promise<NodeNic> {
    const key = `${nodeName}/${name}`;
    const have = this.nics.get(key);
    if (have) return have;
    const n = this.node(nodeName);
    const seq = ++this.nicSeq;
    const nic: NodeNic = {
      node: nodeName, name, mtu: opts.mtu ?? this.mtu,
      mac: opts.mac ?? `02:4b:${n.index.toString(16).padStart(2, '0')}:00:${(seq >> 8).toString(16).padStart(2, '0')}:${(seq & 255).toString(16).padStart(2, '0')}`,
      switchPort: ifName(`m${n.index}-${name}`),
    };
    this.nics.set(key, nic);
    const cable = new Veth({ a: { name: nic.switchPort, master: this.machineBridge }, b: { name, netns: nodeName, mac: nic.mac }, mtu: nic.mtu });
    await sh([frag.ip([...cable.createLines(), ...cable.endLines('a')], this.machine.name), frag.ip([`link set ${name} up`], nodeName)].join('\n'));
    return nic;
  }

  /** The node's machine-network NICs (eth0 excluded). */
  nodeNics(nodeName: string): NodeNic[] {
    return [...this.nics.values()].filter((n) => n.node === nodeName);
  }

  isNic(nodeName: string, name: string): boolean {
    return this.nics.has(`${nodeName}/${name}`);
  }

  /** The switch's segment for VLAN `vid` (a bridge in the machine netns). */
  vlanSegment(vid: number): Promise<string> {
    let p = this.vlanSegs.get(vid);
    if (!p) {
      const br = `vlan${vid}`;
      p = this.machine.ip([`link add ${br} type bridge`, `link set ${br} mtu ${this.mtu} up`])
        .then(() => (this.leaking ? this.leakCable(vid) : undefined)).then(() => br);
      this.vlanSegs.set(vid, p);
    }
    return p;
  }

  vlanIds(): number[] {
    return [...this.vlanSegs.keys()];
  }

  /** VLAN `vid` carried by trunk NIC `nic` of a node: returns the node-side link (to enslave to a per-VLAN bridge). */
  trunk(nodeName: string, nic: string, vid: number): Promise<string> {
    const key = `${nodeName}/${nic}/${vid}`;
    let p = this.trunks.get(key);
    if (!p) {
      p = (async () => {
        const n = this.node(nodeName);
        const seg = await this.vlanSegment(vid);
        const local = ifName(`${nic}.v${vid}`);
        const cable = new Veth({ a: { name: ifName(`m${n.index}-${nic}.${vid}`), master: seg }, b: { name: local, netns: nodeName }, mtu: this.mtu });
        await sh([frag.ip([...cable.createLines(), ...cable.endLines('a')], this.machine.name), frag.ip([ipLine`link set ${local} up`], nodeName)].join('\n'));
        return local;
      })();
      this.trunks.set(key, p);
      p.catch(() => this.trunks.delete(key));
    }
    return p;
  }

  /** Node-side VLAN links of a trunk NIC (they follow the NIC's state, as tagged traffic does). */
  async trunkLinks(nodeName: string, nic: string): Promise<string[]> {
    const out: string[] = [];
    for (const [k, p] of this.trunks) if (k.startsWith(`${nodeName}/${nic}/`)) out.push(await p);
    return out;
  }

  /** The vlan-leak fault: every VLAN segment, present and future, gets a cable to one hub bridge. */
  async leakVlans(on: boolean): Promise<void> {
    this.leaking = on;
    const lines = on ? [`link add ${LEAK_HUB} type bridge`, `link set ${LEAK_HUB} up`] : [`link delete ${LEAK_HUB}`];
    if (!on) for (const vid of this.vlanSegs.keys()) lines.push(`link delete leak${vid}`);
    await sh(frag.ip(lines, this.machine.name), { allowFail: !on });
    if (on) for (const vid of this.vlanSegs.keys()) await this.leakCable(vid);
  }

  private async leakCable(vid: number): Promise<void> {
    const [a, b] = [`leak${vid}`, `leak${vid}h`];
    await sh(frag.ip([`link add ${a} type veth peer name ${b}`, `link set ${a} master vlan${vid} up`, `link set ${b} master ${LEAK_HUB} up`], this.machine.name));
  }

  private async buildHost(): Promise<void> {
    const h = MACHINE_HOST_NETNS;
    const lines = [frag.ip([`netns add ${h}`])];
    const up = new Veth({ a: { name: 'm-host', master: this.machineBridge }, b: { name: 'eth0', netns: h }, mtu: this.mtu });
    lines.push(frag.ip([...up.createLines(), ...up.endLines('a')], this.machine.name));
    const inHost = ['link set lo up', 'link set eth0 up', `addr add ${MACHINE_HOST.native} dev eth0`];
    for (const [vid, addr] of Object.entries(MACHINE_HOST.vlans)) {
      const seg = await this.vlanSegment(Number(vid));
      const v = new Veth({ a: { name: `m-host.${vid}`, master: seg }, b: { name: `eth0.${vid}`, netns: h }, mtu: this.mtu });
      lines.push(frag.ip([...v.createLines(), ...v.endLines('a')], this.machine.name));
      inHost.push(`link set eth0.${vid} up`, `addr add ${addr} dev eth0.${vid}`);
    }
    lines.push(frag.ip(inHost, h));
    await sh(lines.join('\n'));
    this.responder = spawnIn(h, ['socat', `TCP-LISTEN:${MACHINE_HOST.port},fork,reuseaddr`, `SYSTEM:echo ${MACHINE_HOST.text}`], { stdio: 'ignore' });
  }

  async destroy(): Promise<void> {
    this.responder?.kill('SIGKILL');
    await sh(`ip netns delete ${MACHINE_HOST_NETNS}`, { allowFail: true });
  }
}
