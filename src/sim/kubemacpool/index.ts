// KubeMacPool as CNAO deploys it: the pool, its VM webhook in the API server's admission chain,
// the controllers, and its fault. The first reconcile runs at install, as on a cluster whose
// operator has already rolled KubeMacPool out.
import { kindOf, type Kind } from '../api/kinds.ts';
import type { Mutator, Registry } from '../api/registry.ts';
import type { FaultHandler } from '../faults.ts';
import { KubeMacPoolController } from './controller.ts';
import { kubeMacPoolMutator } from './mutator.ts';
import { MacPool } from './pool.ts';

export interface KubeMacPool {
  controller: KubeMacPoolController;
  pool: MacPool;
}

/** HCO's NetworkAddonsConfig: KubeMacPool with no range, so CNAO picks a random one. */
export function seedNetworkAddonsConfig(r: Registry): void {
  r.create(kindOf('networkaddonsoperator.network.kubevirt.io/v1', 'NetworkAddonsConfig') as Kind, undefined, {
    apiVersion: 'networkaddonsoperator.network.kubevirt.io/v1', kind: 'NetworkAddonsConfig', metadata: { name: 'cluster' },
    spec: { kubeMacPool: {}, linuxBridge: {}, imagePullPolicy: 'IfNotPresent' },
  });
}

/** After the seed (it reads the seeded NetworkAddonsConfig): the pool, its controller and its VM webhook. */
export function installKubeMacPool(registry: Registry): KubeMacPool & { mutator: Mutator } {
  const pool = new MacPool();
  const controller = new KubeMacPoolController(registry, pool);
  controller.reconcileConfig();
  return { controller, pool, mutator: kubeMacPoolMutator(pool, () => controller.pending()) };
}

export function kubeMacPoolDuplicate(kmp: KubeMacPool): FaultHandler {
  return {
    description: 'KubeMacPool\'s allocator hands out the MAC it handed out last, while a VM interface still holds it, instead of a free one: new VMs get MACs already in use',
    set: async () => { kmp.pool.duplicate = true; },
    clear: async () => { kmp.pool.duplicate = false; },
  };
}
