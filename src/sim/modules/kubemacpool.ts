// KubeMacPool as CNAO deploys it (seed 8.14): the NetworkAddonsConfig that sets its range, the
// pool and the VM mutating webhook that hands out MACs, the controller that releases them and
// reports collisions, and the fault that makes the allocator hand out a MAC in use.
import { installKubeMacPool, kubeMacPoolDuplicate, seedNetworkAddonsConfig } from '../kubemacpool/index.ts';
import type { SimModule } from './module.ts';

export const kubemacpool: SimModule = {
  name: 'kubemacpool',
  summary: 'KubeMacPool: pool MACs for VM interfaces, opt-out namespaces, collisions (seed 8.14)',
  seed: ({ registry }) => seedNetworkAddonsConfig(registry),
  control(ctx) {
    const kmp = installKubeMacPool(ctx.registry);
    ctx.kubemacpool = kmp;
    return { controllers: [kmp.controller], mutators: [kmp.mutator] };
  },
  dataPlane: ({ kubemacpool }) => ({ faults: kubemacpool ? { 'kubemacpool-duplicate': kubeMacPoolDuplicate(kubemacpool) } : {} }),
};
