// The sim's topology as data: the machine network, the NICs every node has and what each is for,
// the external bridge, the switch's VLANs and the host outside the cluster. The fabric builds from
// it (fabric/machine-network.ts, node.ts, shape.ts) and the modules publish the profile keys that
// describe it (modules/*.ts `profile`), so no harness file copies these values.
import { nthAddress } from './fabric/ipam.ts';

/** What a node NIC is for. */
export type NicRole =
  /** eth0: the node IP, the pod overlay and the OVN overlays (made by the node itself). */
  | 'machine'
  /** A spare NIC a Linux bridge suite enslaves to its own bridge (through an NNCP). */
  | 'bridge-port'
  /** The external bridge's uplink. */
  | 'external-uplink'
  /**
   * Kept free for the §8.11 dedicated migration network (a macvlan master): bridge ports become
   * ports of the bridge suites' NNCP bridges, and a macvlan on a bridge port fails (EBUSY).
   */
  | 'migration';

export interface NodeNicSpec {
  name: string;
  role: NicRole;
}

/** A VLAN of the machine-network switch, with free addresses the suites give their VMs. */
export interface VlanSpec {
  id: number;
  /** First of ~20 free addresses on the VLAN. */
  vmAddressBase: string;
}

/** A host outside the cluster on the machine-network switch (localnet and underlay checks). */
export interface OutsideHost {
  netns: string;
  /** Its address on the native (untagged) network, with prefix. */
  native: string;
  /** VLAN id → its address there, with prefix. */
  vlans: Readonly<Record<number, string>>;
  /** A TCP responder that answers every connection with `text`. */
  port: number;
  text: string;
}

export interface Topology {
  /** Node i (from 1; the count is the sim setting `nodes`) is `<namePrefix><i>`. */
  nodes: { namePrefix: string };
  machineNetwork: {
    cidr: string;
    /** Node i (from 1) is the (offset + i)th address. */
    nodeAddressOffset: number;
    /** First of ~20 free native addresses the suites give their VMs. */
    vmAddressBase: string;
  };
  nodeNics: readonly NodeNicSpec[];
  /** OpenShift's external bridge (an OVS bridge there, a Linux bridge here) and its uplink NIC. */
  externalBridge: { name: string; uplink: string };
  vlans: readonly VlanSpec[];
  outsideHost: OutsideHost;
  /** A whereabouts range for the dedicated migration network, clear of the cluster's networks. */
  migrationRange: string;
  /** A range a secondary network's DHCP server may hand out (NAD annotation kvnet.io/dhcp-range). */
  dhcpRange: string;
}

export const TOPOLOGY: Topology = {
  nodes: { namePrefix: 'node-' },
  machineNetwork: { cidr: '192.168.126.0/24', nodeAddressOffset: 10, vmAddressBase: '192.168.126.100' },
  nodeNics: [
    { name: 'eth0', role: 'machine' },
    { name: 'eth1', role: 'bridge-port' },
    { name: 'eth2', role: 'bridge-port' },
    { name: 'eth3', role: 'external-uplink' },
    { name: 'eth4', role: 'migration' },
    { name: 'eth5', role: 'bridge-port' },
  ],
  externalBridge: { name: 'br-ex', uplink: 'eth3' },
  vlans: [{ id: 300, vmAddressBase: '172.16.30.100' }],
  outsideHost: { netns: 'machine-host', native: '192.168.126.250/24', vlans: { 300: '172.16.30.250/24' }, port: 8080, text: 'machine-host' },
  migrationRange: '10.200.5.0/24',
  dhcpRange: '10.203.1.100-10.203.1.200/24',
};

export function nodeName(i: number, t: Topology = TOPOLOGY): string {
  return `${t.nodes.namePrefix}${i}`;
}

/** The node's address on the machine network (the fabric puts it on its eth0). */
export function nodeInternalIP(i: number, t: Topology = TOPOLOGY): string {
  return nthAddress(t.machineNetwork.cidr, t.machineNetwork.nodeAddressOffset + i);
}

/** The NICs of a role, in topology order. */
export function nicsWithRole(role: NicRole, t: Topology = TOPOLOGY): string[] {
  return t.nodeNics.filter((n) => n.role === role).map((n) => n.name);
}

/** The one NIC of a role (the topology has exactly one). */
export function nicWithRole(role: NicRole, t: Topology = TOPOLOGY): string {
  const [nic, ...more] = nicsWithRole(role, t);
  if (!nic || more.length) throw new Error(`the topology has ${more.length + (nic ? 1 : 0)} NICs with role ${role}, not one`);
  return nic;
}

/** Node NICs cabled to the machine-network switch beside eth0 (the fabric adds them; eth0 comes with the node). */
export function cabledNics(t: Topology = TOPOLOGY): string[] {
  return t.nodeNics.filter((n) => n.role !== 'machine').map((n) => n.name);
}

/** An address without its prefix. */
export function hostAddress(cidr: string): string {
  return cidr.split('/')[0];
}

export function prefixOf(cidr: string): number {
  return Number(cidr.split('/')[1]);
}
