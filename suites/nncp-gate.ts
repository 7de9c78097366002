// A topology built on a NodeNetworkConfigurationPolicy (not a spec): the NNCP is applied first,
// and what needs it is built only once it is Available. One that never is makes the tests that
// need it fail with its conditions: nmstate is installed (a declared requirement), so it is broken.
import type { Lab, Scope } from '../src/fixtures/lab.ts';
import { removeNncp, waitNncp, type Condition } from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';

export interface NncpGated<T> {
  nncp: string;
  conditions: Condition[];
  /** What was built on the policy; throws (a test failure) when the policy never became Available. */
  get(): T;
}

/** Applies (or adopts) `policy`, waits for it to settle, and runs `build` when it is Available. */
export async function onNncp<T>(lab: Lab, policy: KObject, build: () => Promise<T>): Promise<NncpGated<T>> {
  const nncp = policy.metadata?.name as string;
  await lab.kube.apply(policy);
  const conditions = await waitNncp(lab.kube, nncp);
  const available = conditions.some((c) => c.type === 'Available' && c.status === 'True');
  const built = available ? await build() : undefined;
  return {
    nncp, conditions,
    get: () => {
      if (!available) throw new Error(`NNCP ${nncp} did not become Available: ${JSON.stringify(conditions)}`);
      return built as T;
    },
  };
}

/** Disposes the scopes, then removes the NNCP, unless the scopes are kept for adoption: their VMs hang on its bridge. */
export async function releaseNncp(lab: Lab, nncp: string, ...scopes: Scope[]): Promise<void> {
  await Promise.all(scopes.map((s) => s.dispose()));
  if (!lab.keepScopes) await removeNncp(lab.kube, nncp);
}
