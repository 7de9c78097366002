// KubeVirt VirtualMachine / VirtualMachineInstance networking rules (seed §8.2–8.13),
// the checks virt-api's validating webhook makes on interfaces and networks.
import type { AdmissionRequest, Cause, KObject } from '../types.ts';
import { canonicalJson } from '../canonical-json.ts';
import {
  at, dig, duplicates, forbidden, get, has, intRange, invalid, isObject, list, oneOf, required, show,
} from './fields.ts';

export const RUN_STRATEGIES = ['Always', 'RerunOnFailure', 'Manual', 'Halted', 'Once'] as const;
export const PORT_PROTOCOLS = ['TCP', 'UDP'] as const;
/** Interface binding keys KubeVirt knows; exactly one must be set per interface. */
export const BINDINGS = ['masquerade', 'bridge', 'sriov', 'passt', 'slirp', 'macvtap', 'binding'] as const;
/** Bindings the seed allows on the pod network (masquerade, or bridge). */
const POD_BINDINGS = ['masquerade', 'bridge'];

const MAC = /^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$/;

/** Unicast = least significant bit of the first octet clear (multicast/broadcast have it set). */
export function isUnicastMac(v: unknown): boolean {
  if (typeof v !== 'string' || !MAC.test(v)) return false;
  return (parseInt(v.slice(0, 2), 16) & 1) === 0;
}

export function validateVirtualMachine(req: AdmissionRequest): Cause[] {
  const spec = req.object.spec;
  const causes: Cause[] = [];
  if (has(spec, 'running') && has(spec, 'runStrategy')) {
    causes.push(forbidden('spec.running', 'spec.running and spec.runStrategy are mutually exclusive; set only one (runStrategy is preferred)'));
  }
  causes.push(...oneOf(get(spec, 'runStrategy'), 'spec.runStrategy', RUN_STRATEGIES, 'runStrategy'));
  causes.push(...validateVmiSpec(dig(spec, 'template', 'spec'), 'spec.template.spec'));
  return causes;
}

export function validateVirtualMachineInstance(req: AdmissionRequest): Cause[] {
  // virt-api's VMI update admitter: only KubeVirt's service accounts change a VMI spec (users go
  // through the VM or a subresource); a user's spec change is refused, with no field.
  if (req.operation === 'UPDATE' && req.userInfo && req.oldObject && canonicalJson(req.object.spec) !== canonicalJson(req.oldObject.spec)) {
    return [{ reason: 'FieldValueNotSupported', field: '', message: 'update of VMI object is restricted' }];
  }
  return validateVmiSpec(req.object.spec, 'spec');
}

/** The shared VMI spec checks; `base` is where the spec sits in the object. */
function validateVmiSpec(spec: unknown, base: string): Cause[] {
  if (!isObject(spec)) return [];
  const causes: Cause[] = [];
  const ifBase = at(base, 'domain', 'devices', 'interfaces');
  const netBase = at(base, 'networks');
  const interfaces = list(dig(spec, 'domain', 'devices', 'interfaces'));
  const networks = list(get(spec, 'networks'));

  causes.push(...duplicates(interfaces.map((i, n) => ({ name: get(i, 'name'), field: at(ifBase, n, 'name') })), 'interface name'));
  causes.push(...duplicates(networks.map((x, n) => ({ name: get(x, 'name'), field: at(netBase, n, 'name') })), 'network name'));

  const netByName = new Map<unknown, unknown>();
  networks.forEach((x) => netByName.set(get(x, 'name'), x));
  const ifNames = new Set(interfaces.map((i) => get(i, 'name')));

  // Pod networks: at most one.
  let podSeen = false;
  networks.forEach((net, n) => {
    const f = at(netBase, n);
    if (get(net, 'name') === undefined) causes.push(required(at(f, 'name'), 'network name is required'));
    else if (!ifNames.has(get(net, 'name'))) {
      causes.push(invalid(at(f, 'name'), `network ${show(get(net, 'name'))} has no interface with the same name in ${ifBase}; add one or remove the network`));
    }
    if (has(net, 'pod')) {
      if (podSeen) causes.push(invalid(at(f, 'pod'), 'more than one pod network; a VM can connect to the default pod network only once'));
      podSeen = true;
    }
    if (has(net, 'multus') && !get(get(net, 'multus'), 'networkName')) {
      causes.push(required(at(f, 'multus', 'networkName'), 'multus.networkName (the NetworkAttachmentDefinition name) is required'));
    }
  });

  interfaces.forEach((iface, n) => {
    const f = at(ifBase, n);
    const name = get(iface, 'name');
    if (name === undefined) causes.push(required(at(f, 'name'), 'interface name is required'));
    else if (!netByName.has(name)) {
      causes.push(invalid(at(f, 'name'), `interface ${show(name)} has no network with the same name in ${netBase}; add one or rename the interface`));
    }

    const bindings = BINDINGS.filter((b) => has(iface, b));
    if (bindings.length === 0) {
      causes.push(required(f, `interface ${show(name)} needs a binding: set one of masquerade: {}, bridge: {} or sriov: {}`));
    } else if (bindings.length > 1) {
      causes.push(invalid(f, `interface ${show(name)} has ${bindings.length} bindings (${bindings.join(', ')}); set exactly one`));
    }

    const net = netByName.get(name);
    const onPod = has(net, 'pod');
    if (net !== undefined) {
      if (has(iface, 'masquerade') && !onPod) {
        causes.push(invalid(at(f, 'masquerade'), `masquerade binding is only allowed on the pod network; network ${show(name)} is not a pod network (use bridge: {} or sriov: {})`));
      }
      for (const b of bindings) {
        if (onPod && !POD_BINDINGS.includes(b)) {
          causes.push(invalid(at(f, b), `the pod network must use masquerade: {} or bridge: {}; got ${b}`));
        }
      }
    }

    list(get(iface, 'ports')).forEach((p, k) => {
      const pf = at(f, 'ports', k);
      if (!has(p, 'port')) causes.push(required(at(pf, 'port'), 'port is required (1-65535)'));
      causes.push(...intRange(get(p, 'port'), at(pf, 'port'), 1, 65535, 'port'));
      causes.push(...oneOf(get(p, 'protocol'), at(pf, 'protocol'), PORT_PROTOCOLS, 'protocol'));
    });

    const mac = get(iface, 'macAddress');
    if (mac !== undefined && mac !== '' && !isUnicastMac(mac)) {
      const why = typeof mac === 'string' && MAC.test(mac)
        ? 'is a multicast/broadcast address (the first octet must be even)'
        : 'is not a MAC address (six hex octets separated by ":" or "-")';
      causes.push(invalid(at(f, 'macAddress'), `macAddress ${show(mac)} ${why}; give a unicast MAC such as 02:00:00:00:00:01, or omit it to have one allocated`));
    }

    causes.push(...interfaceState(iface, at(f, 'state'), net));
  });

  return causes;
}

/**
 * virt-api's rules on `state` (pkg/network/admitter/admit.go, validateInterfaceStateValue): only
 * `absent` is a value, it is the bridge binding's hot unplug (§8.9.3: so SR-IOV's is refused), and
 * never on the default network. Same messages, on create and update alike.
 */
function interfaceState(iface: unknown, field: string, net: unknown): Cause[] {
  const state = get(iface, 'state');
  if (state === undefined || state === '') return [];
  const name = String(get(iface, 'name') ?? '');
  const q = JSON.stringify;
  const out: Cause[] = [];
  if (state !== 'absent') out.push(invalid(field, `logical ${name} interface state value is unsupported: ${String(state)}`));
  else {
    if (!has(iface, 'bridge')) out.push(invalid(field, `${q(name)} interface's state "absent" is supported only for bridge binding`));
    if (has(net, 'pod') || get(get(net, 'multus'), 'default') === true) out.push(invalid(field, `${q(name)} interface's state "absent" is not supported on default networks`));
  }
  return out;
}

/** Names of the multus networks a VM (or VMI) spec attaches, for the lead's NAD lookups. */
export function vmMultusNetworks(obj: KObject): string[] {
  const spec = obj.kind === 'VirtualMachine' ? dig(obj, 'spec', 'template', 'spec') : get(obj, 'spec');
  return list(get(spec, 'networks'))
    .map((n) => dig(n, 'multus', 'networkName'))
    .filter((n): n is string => typeof n === 'string');
}
