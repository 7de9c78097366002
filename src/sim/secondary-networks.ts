// Secondary networks on the sim: the CNI plugins Multus delegates to (bridge, OVN-Kubernetes),
// the node-side controllers (nmstate, bridge-marker, multi-networkpolicy), and their faults.
import type { Registry } from './api/registry.ts';
import { Attachments } from './cni/attachments.ts';
import { BridgeCni } from './cni/bridge.ts';
import { DhcpServers } from './cni/dhcp.ts';
import { MacvlanCni } from './cni/macvlan.ts';
import type { Multus } from './cni/multus.ts';
import { OvnCni } from './cni/ovn.ts';
import { Whereabouts } from './cni/whereabouts.ts';
import { BridgeMarker } from './controllers/bridge-marker.ts';
import type { Controller } from './controllers/controller.ts';
import { MultiNetworkPolicyController } from './controllers/multi-network-policy.ts';
import { Nmstate } from './controllers/nmstate.ts';
import { setOverlayPartition } from './fabric/segment.ts';
import { MACHINE_NETNS, type Fabric } from './fabric/topo.ts';
import type { Faults } from './faults.ts';

export function startSecondaryNetworks(api: Registry, fabric: Fabric, multus: Multus, faults: Faults): Controller[] {
  const attachments = new Attachments();
  const dhcp = new DhcpServers();
  multus.register(new BridgeCni('bridge', fabric, attachments, dhcp));
  multus.register(new BridgeCni('cnv-bridge', fabric, attachments, dhcp));
  multus.register(new OvnCni(fabric, attachments, dhcp));
  multus.register(new MacvlanCni(fabric, [new Whereabouts()]));
  const mnp = new MultiNetworkPolicyController(api, attachments, fabric.nodes.map((n) => n.name));

  faults.register('bridge-port-down', {
    description: 'the uplink ports of the node bridges nmstate made (and their VLAN links) are set down on every node',
    set: () => fabric.bridges.setPortsDown(true),
    clear: () => fabric.bridges.setPortsDown(false),
  });
  faults.register('vlan-leak', {
    description: 'the machine-network switch joins every VLAN segment into one: VLAN ids no longer isolate',
    set: () => fabric.machineNet.leakVlans(true),
    clear: () => fabric.machineNet.leakVlans(false),
  });
  faults.register('overlay-partition', {
    description: 'the machine-network switch drops the OVN layer2 overlay (UDP 6081) between nodes; the pod network is untouched',
    set: () => setOverlayPartition(MACHINE_NETNS, true),
    clear: () => setOverlayPartition(MACHINE_NETNS, false),
  });
  faults.register('dhcp-down', {
    description: 'the DHCP servers of the secondary networks stop answering: a dhcp4 NIC of a VM started meanwhile gets no lease',
    set: async () => { dhcp.down = true; },
    clear: async () => { dhcp.down = false; },
  });
  faults.register('policy-ignored', {
    description: 'multi-networkpolicy installs no rules: MultiNetworkPolicies have no effect',
    set: async () => { mnp.ignore = true; mnp.resyncAll(); },
    clear: async () => { mnp.ignore = false; mnp.resyncAll(); },
  });
  return [new Nmstate(api, fabric), new BridgeMarker(api), mnp];
}
