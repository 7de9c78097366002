// The sim's capabilities, in the order a newcomer reads them and the sim starts them (pod-network before kubevirt: virt-handler plumbs through its masquerade binding). Each module
// (module.ts) names its seed objects, admission, control loops, node-side parts, faults and the
// profile keys it offers; src/sim/sim.ts and src/sim/data-plane.ts only loop over this list.
import type { ProfileKeys } from '../../fixtures/profile.ts';
import type { Registry, Validator } from '../api/registry.ts';
import type { SimSettings } from '../cluster.ts';
import { TOPOLOGY, type Topology } from '../topology.ts';
import { core } from './core.ts';
import { kubevirt } from './kubevirt.ts';
import { kubemacpool } from './kubemacpool.ts';
import { liveMigration } from './live-migration.ts';
import type { SimModule } from './module.ts';
import { podNetwork } from './pod-network.ts';
import { secondaryNetworks } from './secondary-networks.ts';
import { services } from './services.ts';
import { sriov } from './sriov.ts';

export const MODULES: readonly SimModule[] = [core, podNetwork, kubevirt, services, secondaryNetworks, sriov, liveMigration, kubemacpool];

/** Objects a freshly installed cluster already has. */
export function seedCluster(registry: Registry, settings: SimSettings, modules: readonly SimModule[] = MODULES): void {
  for (const m of modules) m.seed?.({ registry, settings });
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** One validating entry point over the modules' validators, dispatched by `<group>/<kind>`. */
export function admission(modules: readonly SimModule[] = MODULES): Validator {
  const byKind = new Map<string, Validator>();
  for (const m of modules) {
    for (const [key, v] of Object.entries(m.validators ?? {})) {
      if (byKind.has(key)) throw new Error(`module ${m.name}: a validator for ${key} is already registered`);
      byKind.set(key, v);
    }
  }
  return (req) => {
    if (req.operation === 'DELETE') return [];
    return byKind.get(`${groupOf(req.object.apiVersion)}/${req.object.kind}`)?.(req) ?? [];
  };
}

/** Field-level causes for a 422 (reason Invalid) from every module's validators; empty when admitted. */
export const validate = admission();

/** The profile keys the modules offer for `topology`: what the sim publishes beside its kubeconfig. */
export function simProfile(topology: Topology = TOPOLOGY, modules: readonly SimModule[] = MODULES): ProfileKeys {
  const out: Record<string, Record<string, unknown>> = {};
  for (const m of modules) {
    for (const [section, keys] of Object.entries(m.profile?.(topology) ?? {})) {
      const have = (out[section] ??= {});
      for (const [k, v] of Object.entries(keys as Record<string, unknown>)) {
        if (k in have) throw new Error(`module ${m.name}: profile key ${section}.${k} is already offered`);
        have[k] = v;
      }
    }
  }
  return out as ProfileKeys;
}
