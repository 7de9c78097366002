// KubeMacPool as CNAO deploys it: the pool, its VM webhook in the API server's admission chain,
// the controllers, and its fault. The first reconcile runs at install, as on a cluster whose
// operator has already rolled KubeMacPool out.
import type { SimCluster } from '../cluster.ts';
import type { Faults } from '../faults.ts';
import { KubeMacPoolController } from './controller.ts';
import { kubeMacPoolMutator } from './mutator.ts';
import { MacPool } from './pool.ts';

export interface KubeMacPool {
  controller: KubeMacPoolController;
  pool: MacPool;
}

/** Call after `cluster.seed()` (it reads the seeded NetworkAddonsConfig). */
export function installKubeMacPool(cluster: SimCluster): KubeMacPool {
  const pool = new MacPool();
  const controller = new KubeMacPoolController(cluster.registry, pool);
  cluster.registry.mutators.push(kubeMacPoolMutator(pool, () => controller.pending()));
  controller.reconcileConfig();
  cluster.use(controller);
  return { controller, pool };
}

export function registerKubeMacPoolFaults(faults: Faults, kmp: KubeMacPool): void {
  faults.register('kubemacpool-duplicate', {
    description: 'KubeMacPool\'s allocator hands out the MAC it handed out last, while a VM interface still holds it, instead of a free one: new VMs get MACs already in use',
    set: async () => { kmp.pool.duplicate = true; },
    clear: async () => { kmp.pool.duplicate = false; },
  });
}
