// HyperConverged (hco.kubevirt.io/v1beta1), seed §8.11 (live-migration network and
// limits) and §8.13 (secondary DNS).
import type { AdmissionRequest, Cause } from '../types.ts';
import { at, get, invalid, isInt, show, validIp } from './fields.ts';

export const HCO_NAMESPACE = 'openshift-cnv';
/** liveMigrationConfig fields that are counts or seconds: integers in the HCO CRD schema (no minimum there). */
export const LIVE_MIGRATION_INT_FIELDS = [
  'completionTimeoutPerGiB', 'parallelMigrationsPerCluster', 'parallelOutboundMigrationsPerNode', 'progressTimeout',
] as const;
/** The CRD's pattern for a resource.Quantity (bandwidthPerMigration), as controller-gen writes it. */
const QUANTITY = /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/**
 * What a real cluster refuses in a HyperConverged: the CRD schema's types and the quantity pattern.
 * The HCO webhook does not look up `liveMigrationConfig.network`: a NAD that does not exist is
 * accepted, and the virt-handler rollout stalls instead (hyperconverged-cluster-operator
 * pkg/webhooks/validator/validator.go; deploy/crds/hco00.crd.yaml).
 */
export function validateHyperConverged(req: AdmissionRequest): Cause[] {
  const spec = req.object.spec;
  const lm = get(spec, 'liveMigrationConfig');
  const base = 'spec.liveMigrationConfig';
  const causes: Cause[] = [];
  for (const k of LIVE_MIGRATION_INT_FIELDS) {
    const v = get(lm, k);
    if (v !== undefined && v !== null && !isInt(v)) {
      causes.push(invalid(at(base, k), `${at(base, k)} in body must be of type integer: ${show(v)}`));
    }
  }
  const bw = get(lm, 'bandwidthPerMigration');
  if (bw !== undefined && bw !== null && !(typeof bw === 'string' && QUANTITY.test(bw))) {
    causes.push(invalid(at(base, 'bandwidthPerMigration'), `${at(base, 'bandwidthPerMigration')} in body should match '${QUANTITY.source}'; got ${show(bw)}`));
  }
  const network = get(lm, 'network');
  if (network !== undefined && network !== null && typeof network !== 'string') {
    causes.push(invalid(at(base, 'network'), `${at(base, 'network')} in body must be of type string: ${show(network)}`));
  }
  causes.push(...validIp(get(spec, 'kubeSecondaryDNSNameServerIP'), 'spec.kubeSecondaryDNSNameServerIP', 'kubeSecondaryDNSNameServerIP'));
  return causes;
}


