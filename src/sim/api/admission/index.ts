// Validating admission for the sim API server: one entry point, dispatched by
// API group and kind to the module named after the object it checks.
import type { AdmissionRequest, Cause } from '../types.ts';
import { validateHyperConverged } from './hyperconverged.ts';
import { validateNetworkAttachmentDefinition } from './network-attachment-definition.ts';
import { validateNodeNetworkConfigurationPolicy } from './node-network-configuration-policy.ts';
import { validateService } from './service.ts';
import { validateSriovNetwork } from './sriov-network.ts';
import { validateSriovNetworkNodePolicy } from './sriov-network-node-policy.ts';
import { validateVirtualMachine, validateVirtualMachineInstance } from './virtual-machine.ts';
import { validateMigration } from './virtual-machine-instance-migration.ts';

export type Validator = (req: AdmissionRequest) => Cause[];

/** Key is `<group>/<kind>` (core group is ""), so every served version is covered. */
const VALIDATORS: Record<string, Validator> = {
  'kubevirt.io/VirtualMachine': validateVirtualMachine,
  'kubevirt.io/VirtualMachineInstance': validateVirtualMachineInstance,
  'kubevirt.io/VirtualMachineInstanceMigration': validateMigration,
  'sriovnetwork.openshift.io/SriovNetworkNodePolicy': validateSriovNetworkNodePolicy,
  'sriovnetwork.openshift.io/SriovNetwork': validateSriovNetwork,
  'k8s.cni.cncf.io/NetworkAttachmentDefinition': validateNetworkAttachmentDefinition,
  'nmstate.io/NodeNetworkConfigurationPolicy': validateNodeNetworkConfigurationPolicy,
  '/Service': validateService,
  'hco.kubevirt.io/HyperConverged': validateHyperConverged,
};

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Field-level causes for a 422 (reason Invalid); empty when the request is admitted. */
export function validate(req: AdmissionRequest): Cause[] {
  if (req.operation === 'DELETE') return [];
  const v = VALIDATORS[`${groupOf(req.object.apiVersion)}/${req.object.kind}`];
  return v ? v(req) : [];
}

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
