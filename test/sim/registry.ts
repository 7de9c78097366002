// For self-tests against the in-process registry: the kinds they read and write, and a bounded poll.
import { type Kind, kindOf } from '../../src/sim/api/kinds.ts';

const k = (apiVersion: string, kind: string) => kindOf(apiVersion, kind) as Kind;
export const VM = k('kubevirt.io/v1', 'VirtualMachine');
export const VMI = k('kubevirt.io/v1', 'VirtualMachineInstance');
export const VMIM = k('kubevirt.io/v1', 'VirtualMachineInstanceMigration');
export const KUBEVIRT = k('kubevirt.io/v1', 'KubeVirt');
export const HCO = k('hco.kubevirt.io/v1beta1', 'HyperConverged');
export const POD = k('v1', 'Pod');
export const NODE = k('v1', 'Node');
export const EVENT = k('v1', 'Event');
export const NAMESPACE = k('v1', 'Namespace');

/** Bounded poll of the in-process store; the controllers run on this event loop, so it never blocks them. */
export async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
