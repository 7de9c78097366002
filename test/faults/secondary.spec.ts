// The secondary-network suites under each of their sim faults: the exact set of tests that must
// fail (a negative check whose control is down fails as inconclusive, it never passes).
import { faultMatrix } from './matrix.ts';

const LB = {
  nncp: 'the NNCP with a linux-bridge on a node NIC becomes Available',
  nad: 'the network attachment definition exists',
  crossNode: 'VMs on different nodes talk over the bridge network',
  vlan: 'a different VLAN is isolated',
  spoof: 'with macspoofchk a guest that changes its MAC loses connectivity',
  noSpoof: 'without macspoofchk a guest that changes its MAC keeps connectivity',
  icmp: 'ICMP latency guest to guest over the bridge',
  tcp: 'TCP throughput guest to guest over the bridge',
};
const OVN = {
  crossNode: 'a layer2 network connects VMs on different nodes',
  namespaces: 'share one layer-2 segment',
  mtu: 'the NAD mtu is the guest NIC MTU',
  mtuPath: 'DF frames of the NAD mtu cross nodes',
  localnet: 'reaches a host on the physical underlay',
  ingress: 'an ipBlock ingress rule allows the listed CIDR',
  egress: 'an egress ipBlock rule lets out only the listed CIDR',
  icmp: 'ICMP latency guest to guest over layer2',
  tcp: 'TCP throughput guest to guest over layer2',
};
const T81 = {
  native: 'Layer 2 access to the underlay native network',
  vlans: 'Layer 2 access to underlay VLANs',
  policies: '› Network policies',
  pools: 'Managed IP pools',
  spoof: 'MAC spoof filtering',
};

const inconclusive = /inconclusive: control .* is down/;
const LINUX_BRIDGE = 'suites/linux-bridge.spec.ts';
const OVN_SECONDARY = 'suites/ovn-secondary.spec.ts';
const TABLE_8_1 = 'suites/table-8-1.spec.ts';

// A case names its suites where the fault cannot reach the others' paths (the OVN overlay and the
// Linux bridge suite, a Linux bridge fault and the OVN suite); Table 8.1, which has both, always runs.
faultMatrix({
  suites: [LINUX_BRIDGE, OVN_SECONDARY, TABLE_8_1],
  cases: [
    {
      // Every path through a node bridge nmstate made is cut; the policies and NADs still report fine.
      fault: 'bridge-port-down', suites: [LINUX_BRIDGE, TABLE_8_1],
      fail: [LB.crossNode, LB.vlan, LB.spoof, LB.noSpoof, LB.icmp, LB.tcp, T81.native, T81.vlans, T81.policies, T81.spoof],
      messages: { [LB.crossNode]: /a → b 10\.201\.0\.2 icmp must answer/, [LB.vlan]: inconclusive, [LB.spoof]: inconclusive },
    },
    {
      fault: 'vlan-leak', suites: [LINUX_BRIDGE, TABLE_8_1],
      fail: [LB.vlan],
      messages: { [LB.vlan]: /a → c \(VLAN 200\) 10\.201\.1\.3 icmp must be blocked, but it answered/ },
    },
    {
      // The OVN layer2 overlay between nodes: every cross-node layer2 check, the policy ones as
      // inconclusive (their cross-node control is down); localnet and the NIC MTU do not ride it.
      fault: 'overlay-partition', suites: [OVN_SECONDARY, TABLE_8_1],
      fail: [OVN.crossNode, OVN.namespaces, OVN.mtuPath, OVN.ingress, OVN.egress, OVN.icmp, OVN.tcp],
      messages: { [OVN.crossNode]: /x → y 10\.202\.0\.2 icmp must answer/, [OVN.ingress]: inconclusive, [OVN.egress]: inconclusive },
    },
    {
      fault: 'policy-ignored', suites: [OVN_SECONDARY, TABLE_8_1],
      fail: [OVN.ingress, OVN.egress, T81.policies],
      messages: {
        [OVN.ingress]: /z → y \(selected\) 10\.202\.0\.2:8081\/tcp must be blocked, but it answered/,
        [OVN.egress]: /y → z 10\.202\.0\.3:22\/tcp must be blocked, but it answered/,
        [T81.policies]: /Network policies, OVN-Kubernetes localnet: documented "Yes", observed: .* did not block/,
      },
    },
    {
      // Every packet the VMs send is dropped (SSH is spared): every check about traffic fails; only
      // the status and guest-configuration checks pass.
      fault: 'pod-network-loss', spec: { percent: 100 },
      fail: [
        LB.crossNode, LB.vlan, LB.spoof, LB.noSpoof, LB.icmp, LB.tcp,
        OVN.crossNode, OVN.namespaces, OVN.mtuPath, OVN.localnet, OVN.ingress, OVN.egress, OVN.icmp, OVN.tcp,
        T81.native, T81.vlans, T81.policies, T81.spoof,
      ],
      messages: { [LB.vlan]: inconclusive, [OVN.ingress]: /z → y \(selected\) 10\.202\.0\.2:8081\/tcp must answer/ },
    },
    {
      // Only VM c (VLAN 200) is cut off: "VLAN 200 does not reach VLAN 100" would hold for a dead
      // NIC too, so its control (c's VLAN 200 peer) makes the check inconclusive instead.
      title: '"pod-network-loss" on VM c alone makes the VLAN isolation check inconclusive, not passed',
      fault: 'pod-network-loss', spec: { percent: 100, selector: { vm: 'c' } }, suites: [LINUX_BRIDGE],
      fail: [LB.vlan],
      messages: { [LB.vlan]: /inconclusive: control c → d \(VLAN 200\) 10\.201\.1\.4 icmp is down/ },
    },
    {
      // The underlay carries 1200 bytes, less than the layer2 NAD mtu (1300) and the bridge NICs' 1500:
      // full-size frames across nodes vanish (a PMTU black hole); small packets still pass.
      fault: 'overlay-mtu-low', spec: { mtu: 1200 },
      fail: [OVN.mtuPath, OVN.tcp, LB.tcp],
      messages: { [OVN.mtuPath]: /largest DF ping payload x → y 10\.202\.0\.2 across nodes/ },
    },
    {
      // Every node-to-node tunnel: in OVN-Kubernetes the layer2 overlay rides the same Geneve tunnel
      // as the pod network, so every cross-node layer2 check fails, as under overlay-partition. The
      // Linux bridge and localnet paths cross the physical underlay, not a tunnel.
      fault: 'overlay-drop', suites: [OVN_SECONDARY, TABLE_8_1],
      fail: [OVN.crossNode, OVN.namespaces, OVN.mtuPath, OVN.ingress, OVN.egress, OVN.icmp, OVN.tcp],
      messages: { [OVN.crossNode]: /x → y 10\.202\.0\.2 icmp must answer/, [OVN.ingress]: inconclusive },
    },
  ],
});
