// NetworkAttachmentDefinition (k8s.cni.cncf.io/v1): the CNI config in spec.config,
// seed §8.5.2 (Linux bridge), §8.8.1 (OVN-Kubernetes layer2/localnet), §8.11 (macvlan).
import type { AdmissionRequest, Cause, KObject } from '../types.ts';
import { at, get, ifname, intRange, invalid, isObject, list, oneOf, required, show } from './fields.ts';

export const OVN_TYPE = 'ovn-k8s-cni-overlay';
export const OVN_CNI_VERSION = '0.3.1';
export const OVN_TOPOLOGIES = ['layer2', 'localnet'] as const;
export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
/** 68 is the kernel's IPv4 minimum; 9216 the largest jumbo frame NICs commonly take. */
export const MTU_MIN = 68;
export const MTU_MAX = 9216;

/** The fields of a NAD's CNI config that admission and controllers use. */
export interface NadConfig {
  cniVersion?: string;
  type?: string;
  name?: string;
  /** OVN-Kubernetes: layer2 | localnet. */
  topology?: string;
  /** Linux bridge: node bridge name. */
  bridge?: string;
  vlanId?: number;
  vlan?: number;
  mtu?: number;
  macspoofchk?: boolean;
  /** OVN-Kubernetes: `<namespace>/<name>` of the NAD. */
  netAttachDefName?: string;
  /** macvlan: parent interface. */
  master?: string;
  /** macvlan mode. */
  mode?: string;
  ipam?: Record<string, unknown>;
  /** The whole parsed JSON (first plugin of a conflist), for anything not typed above. */
  raw: Record<string, unknown>;
}

export type ParsedNad = { ok: true; config: NadConfig; path: string } | { ok: false; error: string };

/**
 * Parse spec.config. For a conflist (`plugins: [...]`) the first plugin is the
 * network's main plugin; `path` says where its fields sit for error messages.
 */
export function parseNadConfigDetailed(nad: KObject): ParsedNad {
  const text = get(nad.spec, 'config');
  if (typeof text !== 'string') return { ok: false, error: `spec.config must be a string holding CNI JSON; got ${show(text)}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `spec.config is not valid JSON: ${(e as Error).message}` };
  }
  if (!isObject(json)) return { ok: false, error: 'spec.config must be a JSON object' };
  let raw = json;
  let path = 'spec.config';
  const plugins = get(json, 'plugins');
  if (Array.isArray(plugins) && isObject(plugins[0])) {
    raw = { cniVersion: json.cniVersion, name: json.name, ...plugins[0] };
    path = 'spec.config.plugins[0]';
  }
  const str = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const num = (k: string): number | undefined => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined);
  const config: NadConfig = {
    cniVersion: str('cniVersion'),
    type: str('type'),
    name: str('name'),
    topology: str('topology'),
    bridge: str('bridge'),
    vlan: num('vlan'),
    vlanId: num('vlanID'),
    mtu: num('mtu'),
    macspoofchk: typeof raw.macspoofchk === 'boolean' ? raw.macspoofchk : undefined,
    netAttachDefName: str('netAttachDefName'),
    master: str('master'),
    mode: str('mode'),
    ipam: isObject(raw.ipam) ? raw.ipam : undefined,
    raw,
  };
  return { ok: true, config, path };
}

/** Typed CNI config of a NAD, or undefined when spec.config is missing or not JSON. */
export function parseNadConfig(nad: KObject): NadConfig | undefined {
  const p = parseNadConfigDetailed(nad);
  return p.ok ? p.config : undefined;
}

/**
 * §8.5.2 / §8.8.1: "Configuring IPAM in a NAD for virtual machines is not supported."
 * Not an admission error because §8.11's migration NAD legitimately uses whereabouts;
 * the API server can attach this as a warning when a VM references the NAD.
 */
export function vmNadIpamWarning(nad: KObject): string | undefined {
  const cfg = parseNadConfig(nad);
  if (!cfg?.ipam || Object.keys(cfg.ipam).length === 0) return undefined;
  const ns = nad.metadata.namespace ?? 'default';
  return `NetworkAttachmentDefinition ${ns}/${nad.metadata.name} configures IPAM (type ${show(cfg.ipam.type)}); IPAM in a network attachment definition for virtual machines is not supported — configure the guest address with cloud-init networkData or DHCP instead`;
}

export function validateNetworkAttachmentDefinition(req: AdmissionRequest): Cause[] {
  const nad = req.object;
  if (get(nad.spec, 'config') === undefined) {
    // Multus could fall back to a node-local file; the sim has none, so require it.
    return [required('spec.config', 'spec.config (the CNI configuration JSON) is required')];
  }
  const parsed = parseNadConfigDetailed(nad);
  if (!parsed.ok) return [invalid('spec.config', parsed.error)];
  const { config: c, path } = parsed;
  const raw = c.raw;
  const causes: Cause[] = [];
  if (typeof raw.type !== 'string' || raw.type === '') {
    causes.push(required(at(path, 'type'), `CNI plugin "type" is required in spec.config (e.g. "bridge", "${OVN_TYPE}", "macvlan"); got ${show(raw.type)}`));
    return causes;
  }
  causes.push(...intRange(raw.mtu, at(path, 'mtu'), MTU_MIN, MTU_MAX, 'mtu'));

  switch (raw.type) {
    case OVN_TYPE: {
      if (raw.cniVersion !== OVN_CNI_VERSION) {
        causes.push(invalid(at(path, 'cniVersion'), `cniVersion must be "${OVN_CNI_VERSION}" for ${OVN_TYPE}; got ${show(raw.cniVersion)}`));
      }
      if (raw.topology === undefined) causes.push(required(at(path, 'topology'), `topology is required for ${OVN_TYPE}: "layer2" or "localnet"`));
      else causes.push(...oneOf(raw.topology, at(path, 'topology'), OVN_TOPOLOGIES, 'topology'));
      const ns = nad.metadata.namespace ?? 'default';
      const want = `${ns}/${nad.metadata.name}`;
      if (raw.netAttachDefName !== want) {
        causes.push(invalid(at(path, 'netAttachDefName'), `netAttachDefName must be "<metadata.namespace>/<metadata.name>" = "${want}"; got ${show(raw.netAttachDefName)}`));
      }
      if (raw.name === undefined || raw.name === '') causes.push(required(at(path, 'name'), 'the network "name" is required for OVN-Kubernetes secondary networks'));
      causes.push(...intRange(raw.vlanID, at(path, 'vlanID'), 1, 4094, 'vlanID'));
      break;
    }
    case 'bridge':
    case 'cnv-bridge': {
      if (typeof raw.bridge !== 'string' || raw.bridge === '') {
        causes.push(required(at(path, 'bridge'), `"bridge" (the Linux bridge name on the node, e.g. "br1") is required for type ${raw.type}`));
      } else {
        causes.push(...ifname(raw.bridge, at(path, 'bridge'), 'bridge'));
      }
      causes.push(...intRange(raw.vlan, at(path, 'vlan'), 0, 4095, 'vlan'));
      if (raw.macspoofchk !== undefined && typeof raw.macspoofchk !== 'boolean') {
        causes.push(invalid(at(path, 'macspoofchk'), `macspoofchk must be a JSON boolean (true/false); got ${show(raw.macspoofchk)}`));
      }
      break;
    }
    case 'macvlan': {
      causes.push(...oneOf(raw.mode, at(path, 'mode'), MACVLAN_MODES, 'macvlan mode'));
      causes.push(...ifname(raw.master, at(path, 'master'), 'macvlan master'));
      break;
    }
    default:
      break;
  }
  // The CNI spec requires every plugin of a conflist to name its type.
  list(get(JSON.parse(get(nad.spec, 'config') as string), 'plugins')).forEach((p, i) => {
    if (i > 0 && (typeof get(p, 'type') !== 'string' || get(p, 'type') === '')) {
      causes.push(required(at('spec.config.plugins', i, 'type'), 'every plugin in a conflist needs a "type"'));
    }
  });
  return causes;
}
