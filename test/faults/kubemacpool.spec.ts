// Every check can fail: the KubeMacPool suite, run as a user runs it, turns red when the allocator
// hands out a MAC already in use, at the checks that look at what it handed out.
import { faultMatrix } from './matrix.ts';

const T = {
  unique: 'every NIC of the VMs gets a MAC from the pool: written in the VM spec, inside the published range, unique',
  range: 'takes effect; a used-up range refuses new VMs, and deleting a VM releases its MACs',
};

faultMatrix({
  suites: ['suites/kubemacpool.spec.ts'],
  cases: [
    {
      fault: 'kubemacpool-duplicate',
      // The allocator acts at VM create: the suite's VMs must be made while the fault is set.
      fresh: true,
      fail: [T.unique, T.range],
      messages: {
        [T.unique]: /MACs are unique across \d+ VMs/,
        [T.range]: /both NICs from the new range/,
      },
    },
  ],
});
