// core/v1 Service, seed §8.3 (ClusterIP/NodePort/LoadBalancer, dual-stack),
// §8.4 (headless) and §8.10 (mesh). Mirrors kube-apiserver's own validation.
import type { AdmissionRequest, Cause } from '../types.ts';
import { at, duplicates, forbidden, get, intRange, invalid, list, oneOf, required, show } from './fields.ts';

export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
export const IP_FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const;
export const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
export const SERVICE_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

/** IANA_SVC_NAME: ≤15 chars, lower-case alphanumerics and '-', a letter, no edge/double hyphens. */
export function isIanaSvcName(v: string): boolean {
  return v.length >= 1 && v.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v) && /[a-z]/.test(v) && !v.includes('--');
}

export function validateService(req: AdmissionRequest): Cause[] {
  const spec = req.object.spec;
  const causes: Cause[] = [];
  const type = get(spec, 'type') ?? 'ClusterIP';
  causes.push(...oneOf(get(spec, 'type'), 'spec.type', SERVICE_TYPES, 'type'));

  const ports = get(spec, 'ports');
  if (type !== 'ExternalName') {
    if (!Array.isArray(ports) || ports.length === 0) {
      const headless = get(spec, 'clusterIP') === 'None' ? ' (a headless service, clusterIP: None, still needs one; any port will do)' : '';
      causes.push(required('spec.ports', `at least one port is required${headless}`));
    }
  } else if (!get(spec, 'externalName')) {
    causes.push(required('spec.externalName', 'externalName is required for type ExternalName'));
  }
  if (ports !== undefined && !Array.isArray(ports)) {
    causes.push(invalid('spec.ports', `ports must be a list (start each port with "- "); got ${show(ports)}`));
  }
  const portList = list(ports);
  const allowNodePort = type === 'NodePort' || type === 'LoadBalancer';
  portList.forEach((p, i) => {
    const f = at('spec.ports', i);
    if (get(p, 'port') === undefined) causes.push(required(at(f, 'port'), 'port is required (1-65535)'));
    causes.push(...intRange(get(p, 'port'), at(f, 'port'), 1, 65535, 'port'));
    causes.push(...oneOf(get(p, 'protocol'), at(f, 'protocol'), SERVICE_PROTOCOLS, 'protocol'));
    const tp = get(p, 'targetPort');
    if (tp !== undefined) {
      if (typeof tp === 'number') causes.push(...intRange(tp, at(f, 'targetPort'), 1, 65535, 'targetPort'));
      else if (typeof tp !== 'string' || !isIanaSvcName(tp)) {
        causes.push(invalid(at(f, 'targetPort'), `targetPort must be a port number 1-65535 or a port name (IANA_SVC_NAME: up to 15 lower-case letters, digits and '-'); got ${show(tp)}`));
      }
    }
    const np = get(p, 'nodePort');
    if (np !== undefined && np !== 0) {
      if (!allowNodePort) {
        causes.push(forbidden(at(f, 'nodePort'), `nodePort may only be set for type NodePort or LoadBalancer; this service is ${show(type)}`));
      } else {
        causes.push(...intRange(np, at(f, 'nodePort'), NODE_PORT_MIN, NODE_PORT_MAX, 'nodePort'));
      }
    }
    const name = get(p, 'name');
    if (portList.length > 1 && (name === undefined || name === '')) {
      causes.push(required(at(f, 'name'), 'port name is required when a service has more than one port'));
    }
  });
  causes.push(...duplicates(portList.map((p, i) => ({ name: get(p, 'name'), field: at('spec.ports', i, 'name') })), 'port name'));

  // IP families (§8.3.2).
  const policy = get(spec, 'ipFamilyPolicy');
  causes.push(...oneOf(policy, 'spec.ipFamilyPolicy', IP_FAMILY_POLICIES, 'ipFamilyPolicy'));
  if (policy === 'RequireDualStack' && !req.cluster.dualStack) {
    causes.push(invalid('spec.ipFamilyPolicy', 'ipFamilyPolicy RequireDualStack needs a dual-stack cluster; this cluster is single-stack (use SingleStack or PreferDualStack)'));
  }
  const families = get(spec, 'ipFamilies');
  if (families !== undefined) {
    const fam = list(families);
    fam.forEach((x, i) => {
      causes.push(...oneOf(x, at('spec.ipFamilies', i), IP_FAMILIES, 'ipFamily'));
      if (x === 'IPv6' && !req.cluster.dualStack) {
        causes.push(invalid(at('spec.ipFamilies', i), 'IPv6 is not configured on this cluster (single-stack IPv4); remove it or use a dual-stack cluster'));
      }
    });
    causes.push(...duplicates(fam.map((x, i) => ({ name: x, field: at('spec.ipFamilies', i) })), 'ipFamily'));
    if (fam.length > 2) causes.push(invalid('spec.ipFamilies', `at most 2 ipFamilies may be given ([IPv4], [IPv6], [IPv4, IPv6] or [IPv6, IPv4]); got ${fam.length}`));
    if (fam.length === 2 && (policy === undefined || policy === 'SingleStack')) {
      causes.push(invalid('spec.ipFamilies', `two ipFamilies need ipFamilyPolicy PreferDualStack or RequireDualStack; got ${show(policy ?? 'SingleStack (default)')}`));
    }
  }
  return causes;
}


