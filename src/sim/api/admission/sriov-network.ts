// SriovNetwork (sriovnetwork.openshift.io/v1), seed §8.6.2 and §8.7.2.
import type { AdmissionRequest, Cause } from '../types.ts';
import { get, intRange, invalid, jsonString, oneOf, requirePresent, show } from './fields.ts';
import { RESOURCE_NAME } from './sriov-network-node-policy.ts';

export const LINK_STATES = ['enable', 'disable', 'auto'] as const;
const ON_OFF = ['on', 'off'] as const;

/**
 * spoofChk / trust are strings. The seed warns the operator rejects an unquoted
 * value: YAML reads `on`/`off`/`true` as booleans, so say exactly that.
 */
function onOff(value: unknown, field: string, what: string): Cause[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'boolean') {
    return [invalid(field, `${what} must be the quoted string "on" or "off"; got the YAML boolean ${value} — quote the value (${what}: "${value ? 'on' : 'off'}")`)];
  }
  return oneOf(value, field, ON_OFF, what);
}

function rate(value: unknown, field: string, what: string): Cause[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    return [invalid(field, `${what} must be a non-negative integer (Mbps); got ${show(value)}`)];
  }
  return [];
}

export function validateSriovNetwork(req: AdmissionRequest): Cause[] {
  const spec = req.object.spec;
  const causes: Cause[] = [];
  const rn = get(spec, 'resourceName');
  causes.push(...requirePresent(rn, 'spec.resourceName', 'resourceName (the SriovNetworkNodePolicy spec.resourceName)'));
  if (rn !== undefined && rn !== '' && (typeof rn !== 'string' || !RESOURCE_NAME.test(rn))) {
    causes.push(invalid('spec.resourceName', `resourceName ${show(rn)} must match ^[A-Za-z0-9_]+$`));
  }
  causes.push(...intRange(get(spec, 'vlan'), 'spec.vlan', 0, 4095, 'vlan'));
  causes.push(...intRange(get(spec, 'vlanQoS'), 'spec.vlanQoS', 0, 7, 'vlanQoS (IEEE 802.1p priority)'));
  causes.push(...onOff(get(spec, 'spoofChk'), 'spec.spoofChk', 'spoofChk'));
  causes.push(...onOff(get(spec, 'trust'), 'spec.trust', 'trust'));
  causes.push(...oneOf(get(spec, 'linkState'), 'spec.linkState', LINK_STATES, 'linkState'));
  const min = get(spec, 'minTxRate');
  const max = get(spec, 'maxTxRate');
  const minC = rate(min, 'spec.minTxRate', 'minTxRate');
  const maxC = rate(max, 'spec.maxTxRate', 'maxTxRate');
  causes.push(...minC, ...maxC);
  // 0 means "no limit" for maxTxRate, so only compare against a real cap.
  if (!minC.length && !maxC.length && typeof min === 'number' && typeof max === 'number' && max > 0 && min > max) {
    causes.push(invalid('spec.minTxRate', `minTxRate ${min} must be less than or equal to maxTxRate ${max}`));
  }
  causes.push(...jsonString(get(spec, 'ipam'), 'spec.ipam', 'ipam'));
  causes.push(...jsonString(get(spec, 'capabilities'), 'spec.capabilities', 'capabilities'));
  return causes;
}
