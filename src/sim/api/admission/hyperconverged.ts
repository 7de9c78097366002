// HyperConverged (hco.kubevirt.io/v1beta1), seed §8.11 (live-migration network and
// limits) and §8.13 (secondary DNS).
import type { AdmissionRequest, Cause } from '../types.ts';
import { at, get, invalid, isInt, show, validIp } from './fields.ts';

export const HCO_NAMESPACE = 'openshift-cnv';
/** liveMigrationConfig fields that are counts or seconds: positive integers. */
export const LIVE_MIGRATION_INT_FIELDS = [
  'completionTimeoutPerGiB', 'parallelMigrationsPerCluster', 'parallelOutboundMigrationsPerNode', 'progressTimeout',
] as const;

export function validateHyperConverged(req: AdmissionRequest): Cause[] {
  const spec = req.object.spec;
  const lm = get(spec, 'liveMigrationConfig');
  const base = 'spec.liveMigrationConfig';
  const causes: Cause[] = [];
  for (const k of LIVE_MIGRATION_INT_FIELDS) {
    const v = get(lm, k);
    if (v !== undefined && v !== null && (!isInt(v) || v < 1)) {
      causes.push(invalid(at(base, k), `${k} must be a positive integer (at least 1); got ${show(v)}`));
    }
  }
  const network = get(lm, 'network');
  if (network !== undefined && network !== null && network !== '') {
    const nad = typeof network === 'string'
      ? req.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', HCO_NAMESPACE, network)
      : undefined;
    if (!nad) {
      causes.push(invalid(at(base, 'network'), `network ${show(network)} must name an existing NetworkAttachmentDefinition in namespace ${HCO_NAMESPACE}; create it first (§8.11)`));
    }
  }
  causes.push(...validIp(get(spec, 'kubeSecondaryDNSNameServerIP'), 'spec.kubeSecondaryDNSNameServerIP', 'kubeSecondaryDNSNameServerIP'));
  return causes;
}


