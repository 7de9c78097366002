// The SR-IOV suite, run as a user runs it, under each fault that reaches it: the exact set of
// checks that must go red. Policy, NAD and scheduling checks carry no VM traffic, so they stay green.
import { faultMatrix } from './matrix.ts';

const VF = 'a VM with an sriov interface gets a VF';
const CROSS = 'reaches a VM on another node over the SR-IOV network';
const SPOOF = 'spoofChk "on"';
const LATENCY = 'ICMP latency guest to guest over VFs';
const THROUGHPUT = 'TCP throughput guest to guest over VFs';
const TRAFFIC = [CROSS, SPOOF, LATENCY, THROUGHPUT];
const NO_TRAFFIC = { [CROSS]: /sriov-a → sriov-b .* must answer/, [LATENCY]: /ICMP loss SR-IOV cross-node = 100 %/, [THROUGHPUT]: /iperf3: unable to connect/ };

faultMatrix({
  suites: ['suites/sriov.spec.ts'],
  cases: [
    {
      // The fault acts on VMs started while it is set: this case boots its own.
      fault: 'vf-not-moved', fresh: true,
      title: '"vf-not-moved" fails the VF and every traffic check; policy, NAD and exhaustion stay green',
      fail: [VF, ...TRAFFIC],
      messages: { ...NO_TRAFFIC, [VF]: /a NIC with MAC .* \(the VF\)/, [SPOOF]: /a NIC with MAC .* \(the VF\)/ },
    },
    {
      fault: 'pod-network-loss', spec: { percent: 100 },
      title: '"pod-network-loss 100%" fails every check with VF traffic; the guest still has its VF',
      fail: TRAFFIC,
      messages: { ...NO_TRAFFIC, [SPOOF]: /inconclusive: control sriov-a → sriov-b .* is down/ },
    },
    {
      // The VFs meet on the machine network's switch: the pod network's overlay is not on their path.
      fault: 'overlay-drop',
      title: '"overlay-drop" leaves the SR-IOV suite green: VF traffic does not cross the pod-network overlay',
      fail: [],
    },
  ],
});
