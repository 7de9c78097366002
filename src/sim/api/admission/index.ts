// Admission for the sim API server: one validator per kind, in the file named after the object it
// checks; the capability modules (src/sim/modules) register them by `<group>/<kind>`.
import type { Cause } from '../types.ts';

/** Status message listing the causes, in the form kube-apiserver uses for 422s. */
export function invalidMessage(kind: string, name: string, causes: Cause[]): string {
  return `${kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`;
}

export { isUnicastMac, vmMultusNetworks } from './virtual-machine.ts';
export { MIGRATION_VMI_LABEL, mutateMigration } from './virtual-machine-instance-migration.ts';
export { parseNadConfig, vmNadIpamWarning } from './network-attachment-definition.ts';
export type { NadConfig } from './network-attachment-definition.ts';
export { SUPPORTED_NICS, findNic } from './supported-nics.ts';
export type { SupportedNic } from './supported-nics.ts';
