// The IP-configuration suite under its sim faults: the guest agent falls silent (the §8.12.2
// status checks, and the status control of the dhcp4 negative), and the DHCP server does.
import { faultMatrix } from './matrix.ts';

const IPC = {
  dhcp: 'dhcp4 gets an address where the network has a DHCP server',
  noDhcp: 'dhcp4 leaves the NIC without IPv4 where the network has no DHCP server',
  status: 'the static secondary address is in the VMI status, reported by the guest agent',
  shape: 'status.interfaces has the shape',
  noAgent: 'without the guest agent the VMI status shows no secondary IP addresses',
};

faultMatrix({
  suites: ['suites/ip-config.spec.ts'],
  cases: [
    {
      // Nothing reports guest addresses: every check that reads them from the VMI status fails,
      // the negatives on their control (the status no longer follows the guest, so an absence there means nothing).
      fault: 'guest-agent-down',
      fail: [IPC.noDhcp, IPC.status, IPC.shape, IPC.noAgent],
      messages: { [IPC.status]: /10\.203\.0\.14/, [IPC.noDhcp]: /10\.203\.0\.16/ },
    },
    {
      title: '"guest-agent-down" on VM g alone (which has no agent) fails nothing: the fault is scoped',
      fault: 'guest-agent-down', spec: { selector: { vm: 'g' } },
      fail: [],
    },
    {
      // The lease is handed out when the VM starts, so the VMs boot under the fault.
      fault: 'dhcp-down', fresh: true,
      fail: [IPC.dhcp],
      messages: { [IPC.dhcp]: /eth2 has an IPv4 lease/ },
    },
  ],
});
