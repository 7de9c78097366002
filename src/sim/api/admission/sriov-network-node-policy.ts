// SriovNetworkNodePolicy (sriovnetwork.openshift.io/v1), seed §8.6.1 and §8.7.1: what the
// SR-IOV Network Operator's admission webhook refuses.
import type { AdmissionRequest, Cause } from '../types.ts';
import { at, get, has, intRange, invalid, isInt, list, notSupported, oneOf, required, requirePresent, show } from './fields.ts';
import { MELLANOX_MAX_VFS, SUPPORTED_NICS, SUPPORTED_VENDORS, VENDOR_MELLANOX, findNic } from './supported-nics.ts';

export const DEVICE_TYPES = ['vfio-pci', 'netdevice'] as const;
export const RESOURCE_NAME = /^[A-Za-z0-9_]+$/;
/** PCI address `domain:bus:device.function`, e.g. 0000:02:00.1 (§8.6.1 callout 12). */
export const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

export function validateResourceName(value: unknown, field: string): Cause[] {
  const missing = requirePresent(value, field, 'resourceName');
  if (missing.length) return missing;
  if (typeof value !== 'string' || !RESOURCE_NAME.test(value)) {
    return [invalid(field, `resourceName ${show(value)} must match ^[A-Za-z0-9_]+$ (letters, digits and underscores only)`)];
  }
  return [];
}

export function validateSriovNetworkNodePolicy(req: AdmissionRequest): Cause[] {
  const spec = req.object.spec;
  const sel = get(spec, 'nicSelector');
  const causes: Cause[] = [];

  causes.push(...validateResourceName(get(spec, 'resourceName'), 'spec.resourceName'));
  causes.push(...intRange(get(spec, 'priority'), 'spec.priority', 0, 99, 'priority'));
  causes.push(...intRange(get(spec, 'mtu'), 'spec.mtu', 1, 9216, 'mtu'));
  causes.push(...oneOf(get(spec, 'deviceType'), 'spec.deviceType', DEVICE_TYPES, 'deviceType'));

  // nicSelector: vendor and deviceID come from the supported-NIC table.
  const vendorRaw = get(sel, 'vendor');
  const deviceRaw = get(sel, 'deviceID');
  const vendor = typeof vendorRaw === 'string' ? vendorRaw.toLowerCase() : vendorRaw;
  let vendorOk = vendor === undefined;
  if (vendor !== undefined) {
    const c = oneOf(vendor, 'spec.nicSelector.vendor', SUPPORTED_VENDORS, 'vendor');
    causes.push(...c.map((x) => ({ ...x, message: `${x.message} (quote it: vendor: "8086")` })));
    vendorOk = c.length === 0;
  }
  const vendorKnown = vendorOk && typeof vendor === 'string' ? vendor : undefined;
  const nic = typeof deviceRaw === 'string' ? findNic(deviceRaw, vendorKnown) : undefined;
  if (deviceRaw !== undefined && !nic) {
    const devField = 'spec.nicSelector.deviceID';
    const owner = typeof deviceRaw === 'string' ? findNic(deviceRaw) : undefined;
    if (typeof deviceRaw !== 'string') {
      causes.push(invalid(devField, `deviceID must be a quoted hex string such as "158b"; got ${show(deviceRaw)}`));
    } else if (owner) {
      causes.push(invalid(devField, `deviceID ${show(deviceRaw)} belongs to vendor ${owner.vendor} (${owner.model}), not vendor ${show(vendorRaw)}`));
    } else {
      const known = SUPPORTED_NICS.map((n) => `${n.vendor}/${n.deviceID} (${n.model})`).join(', ');
      causes.push(notSupported(devField, `deviceID ${show(deviceRaw)} is not a supported NIC; supported vendor/deviceID: ${known}`));
    }
  }

  const rootDevices = get(sel, 'rootDevices');
  if (rootDevices !== undefined) {
    if (!has(sel, 'vendor') && !has(sel, 'deviceID') && list(get(sel, 'pfNames')).length === 0) {
      causes.push(invalid('spec.nicSelector.rootDevices', 'rootDevices requires vendor, deviceID or pfNames in nicSelector as well'));
    }
    if (!Array.isArray(rootDevices)) {
      causes.push(invalid('spec.nicSelector.rootDevices', `rootDevices must be a list of PCI addresses; got ${show(rootDevices)}`));
    }
    list(rootDevices).forEach((d, i) => {
      if (typeof d !== 'string' || !PCI_ADDRESS.test(d)) {
        causes.push(invalid(at('spec.nicSelector.rootDevices', i), `rootDevices entry ${show(d)} is not a PCI address like "0000:02:00.1"`));
      }
    });
  }
  list(get(sel, 'pfNames')).forEach((p, i) => {
    if (typeof p !== 'string' || p === '') causes.push(invalid(at('spec.nicSelector.pfNames', i), `pfNames entry ${show(p)} must be an interface name such as "ens1f0"`));
  });

  // numVfs: required, >= 1, and bounded by the NIC family.
  const numVfs = get(spec, 'numVfs');
  if (numVfs === undefined || numVfs === null) {
    causes.push(required('spec.numVfs', 'numVfs (number of virtual functions to create) is required and must be at least 1'));
  } else if (!isInt(numVfs) || numVfs < 1) {
    causes.push(invalid('spec.numVfs', `numVfs must be an integer of at least 1; got ${show(numVfs)}`));
  } else {
    const isMellanox = vendor === VENDOR_MELLANOX || nic?.vendor === VENDOR_MELLANOX;
    const max = nic?.maxVfs ?? (isMellanox ? MELLANOX_MAX_VFS : undefined);
    if (max !== undefined && numVfs > max) {
      const who = nic ? `${nic.model} (${nic.vendor}/${nic.deviceID})` : `vendor ${VENDOR_MELLANOX}`;
      causes.push(invalid('spec.numVfs', `numVfs ${numVfs} exceeds the maximum of ${max} virtual functions for ${who}`));
    }
  }
  return causes;
}
