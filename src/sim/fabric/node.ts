// A cluster node: its netns, underlay NIC (eth0 on the machine network), pod bridge and VXLAN VTEP.
import { Bridge } from './bridge.ts';
import { macFromIp4, nthAddress } from './ipam.ts';
import { Netns } from './netns.ts';
import { nodeInternalIP, nodeName, TOPOLOGY } from '../topology.ts';
import { Vxlan, type VxlanPeer } from './vxlan.ts';

export const UNDERLAY_CIDR = TOPOLOGY.machineNetwork.cidr;
export const VXLAN_VNI = 4242;
export const VXLAN_PORT = 4789;
export const POD_BRIDGE = 'br-pod';
export const VXLAN_DEV = 'vxlan0';

export class Node {
  readonly name: string;
  readonly netns: Netns;
  readonly underlayIp: string;
  readonly podCidr4: string;
  readonly gw4: string;
  readonly podCidr6: string;
  readonly gw6: string;
  readonly transit4: string;
  readonly transit6: string;
  readonly vxlanMac: string;
  private readonly used = new Set<number>();

  constructor(readonly index: number, readonly podMtu: number, readonly dualStack: boolean) {
    if (index < 1 || index > 200) throw new Error(`node index out of range: ${index}`);
    this.name = nodeName(index);
    this.netns = new Netns(this.name);
    this.underlayIp = nodeInternalIP(index);
    this.podCidr4 = `10.128.${index - 1}.0/24`;
    this.gw4 = nthAddress(this.podCidr4, 1);
    this.podCidr6 = `fd01:0:0:${index.toString(16)}::/64`;
    this.gw6 = nthAddress(this.podCidr6, 1);
    this.transit4 = `100.64.0.${index}`;
    this.transit6 = `fd98::${index.toString(16)}`;
    this.vxlanMac = `02:fa:b0:00:00:${index.toString(16).padStart(2, '0')}`;
  }

  get underlayMtu(): number {
    return this.podMtu + 100;
  }

  get vxlan(): Vxlan {
    return new Vxlan({
      name: VXLAN_DEV, vni: VXLAN_VNI, dstport: VXLAN_PORT, dev: 'eth0', local: this.underlayIp,
      mtu: this.podMtu, mac: this.vxlanMac,
      addresses: [`${this.transit4}/16`, ...(this.dualStack ? [`${this.transit6}/64`] : [])],
    });
  }

  asPeer(): VxlanPeer {
    return { remote: this.underlayIp, mac: this.vxlanMac, addresses: [this.transit4, ...(this.dualStack ? [this.transit6] : [])] };
  }

  /** `ip` lines run in this node's netns once eth0 has arrived from the machine bridge. */
  setupLines(peers: Node[]): string[] {
    // A fixed MAC: a bridge without one takes its lowest port's, so a new pod whose veth sorted
    // lower moved the pods' gateway MAC under their ARP caches and cut them off for seconds.
    const podBridge = new Bridge({
      name: POD_BRIDGE, mtu: this.podMtu, mac: macFromIp4(this.gw4),
      addresses: [`${this.gw4}/24`, ...(this.dualStack ? [`${this.gw6}/64`] : [])],
    });
    const vx = this.vxlan;
    return [
      `addr add ${this.underlayIp}/24 dev eth0`,
      `link set eth0 up`,
      ...podBridge.createLines(),
      ...vx.createLines(),
      ...vx.neighLines(peers.map((p) => p.asPeer())),
      ...peers.flatMap((p) => [
        `route add ${p.podCidr4} via ${p.transit4} dev ${VXLAN_DEV}`,
        ...(this.dualStack ? [`route add ${p.podCidr6} via ${p.transit6} dev ${VXLAN_DEV}`] : []),
      ]),
    ];
  }

  fdbLines(peers: Node[]): string[] {
    return this.vxlan.fdbLines(peers.map((p) => p.asPeer()));
  }

  /** Next free pod address (host part 2..254), with the matching v6 and MAC. */
  allocate(): { ipv4: string; ipv6?: string; mac: string; host: number } {
    for (let h = 2; h < 255; h++) {
      if (this.used.has(h)) continue;
      this.used.add(h);
      const ipv4 = nthAddress(this.podCidr4, h);
      return { ipv4, ipv6: this.dualStack ? nthAddress(this.podCidr6, h) : undefined, mac: macFromIp4(ipv4), host: h };
    }
    throw new Error(`${this.name}: pod subnet ${this.podCidr4} exhausted`);
  }

  release(host: number): void {
    this.used.delete(host);
  }
}
