// The cluster-network requirement of the OVN-Kubernetes secondary-network suites (not a spec).
// The contract's Requirement has no network-type kind, so this one is a hook of its own.
import type { TestType } from '@playwright/test';
import type { Lab } from '../src/fixtures/lab.ts';

/** Skips the enclosing describe's tests where the cluster network is published and is not OVN-Kubernetes. */
export function requireOvnKubernetes<T extends object, W extends { lab: Lab }>(t: TestType<T, W>): void {
  t.beforeEach(async ({ lab }) => {
    const type = (await lab.facts()).networkType;
    t.skip(!!type && type !== 'OVNKubernetes', `the cluster network is ${type}, not OVN-Kubernetes`);
  });
}
