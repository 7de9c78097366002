// Secondary networks: NAD and NNCP admission, the CNI plugins Multus delegates to (bridge,
// OVN-Kubernetes layer2/localnet, macvlan with whereabouts), nmstate, bridge-marker,
// multi-networkpolicy, and their faults. It offers the topology's spare NICs, br-ex and outside host.
import { validateNetworkAttachmentDefinition } from '../api/admission/network-attachment-definition.ts';
import { validateNodeNetworkConfigurationPolicy } from '../api/admission/node-network-configuration-policy.ts';
import { Attachments } from '../cni/attachments.ts';
import { BridgeCni } from '../cni/bridge.ts';
import { DhcpServers } from '../cni/dhcp.ts';
import { MacvlanCni } from '../cni/macvlan.ts';
import { OvnCni } from '../cni/ovn.ts';
import { Whereabouts } from '../cni/whereabouts.ts';
import { BridgeMarker } from '../controllers/bridge-marker.ts';
import { MultiNetworkPolicyController } from '../controllers/multi-network-policy.ts';
import { Nmstate } from '../controllers/nmstate.ts';
import { setOverlayPartition } from '../fabric/segment.ts';
import { MACHINE_NETNS } from '../fabric/topo.ts';
import { hostAddress, nicsWithRole, prefixOf } from '../topology.ts';
import type { SimModule } from './module.ts';

export const secondaryNetworks: SimModule = {
  name: 'secondary-networks',
  summary: 'Linux bridge, OVN layer2/localnet, macvlan/whereabouts, nmstate, multi-networkpolicy, DHCP (seed 8.5, 8.8, 8.12, 8.13.2)',
  validators: {
    'k8s.cni.cncf.io/NetworkAttachmentDefinition': validateNetworkAttachmentDefinition,
    'nmstate.io/NodeNetworkConfigurationPolicy': validateNodeNetworkConfigurationPolicy,
  },
  dataPlane({ registry, fabric }) {
    const attachments = new Attachments();
    const dhcp = new DhcpServers();
    const mnp = new MultiNetworkPolicyController(registry, attachments, fabric.nodes.map((n) => n.name));
    return {
      cni: [new BridgeCni('bridge', fabric, attachments, dhcp), new BridgeCni('cnv-bridge', fabric, attachments, dhcp), new OvnCni(fabric, attachments, dhcp), new MacvlanCni(fabric, [new Whereabouts()])],
      controllers: [new Nmstate(registry, fabric), new BridgeMarker(registry), mnp],
      faults: {
        'bridge-port-down': {
          description: 'the uplink ports of the node bridges nmstate made (and their VLAN links) are set down on every node',
          set: () => fabric.bridges.setPortsDown(true),
          clear: () => fabric.bridges.setPortsDown(false),
        },
        'vlan-leak': {
          description: 'the machine-network switch joins every VLAN segment into one: VLAN ids no longer isolate',
          set: () => fabric.machineNet.leakVlans(true),
          clear: () => fabric.machineNet.leakVlans(false),
        },
        'overlay-partition': {
          description: 'the machine-network switch drops the OVN layer2 overlay (UDP 6081) between nodes; the pod network is untouched',
          set: () => setOverlayPartition(MACHINE_NETNS, true),
          clear: () => setOverlayPartition(MACHINE_NETNS, false),
        },
        'dhcp-down': {
          description: 'the DHCP servers of the secondary networks stop answering: a dhcp4 NIC of a VM started meanwhile gets no lease',
          set: async () => { dhcp.down = true; },
          clear: async () => { dhcp.down = false; },
        },
        'policy-ignored': {
          description: 'multi-networkpolicy installs no rules: MultiNetworkPolicies have no effect',
          set: async () => { mnp.ignore = true; mnp.resyncAll(); },
          clear: async () => { mnp.ignore = false; mnp.resyncAll(); },
        },
      },
    };
  },
  profile(t) {
    const [bridgePort, altBridgePort, hotplugBridgePort] = nicsWithRole('bridge-port', t);
    const host = t.outsideHost;
    const [vlan] = t.vlans;
    return {
      secondary: {
        bridgePort, altBridgePort, hotplugBridgePort, localnetBridge: t.externalBridge.name,
        underlayHostIPv4: hostAddress(host.native), underlayPrefix: prefixOf(host.native), underlayHostPort: host.port, underlayVmIPv4Base: t.machineNetwork.vmAddressBase,
        underlayVlan: vlan.id, underlayVlanHostIPv4: hostAddress(host.vlans[vlan.id]), underlayVlanVmIPv4Base: vlan.vmAddressBase,
        dhcpRange: t.dhcpRange,
      },
    };
  },
};
