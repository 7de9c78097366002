// NodeNetworkConfigurationPolicy (nmstate.io/v1), seed §8.5.1 and the OVS
// bridge-mapping that §8.8.1.2 localnet networks need.
import type { AdmissionRequest, Cause } from '../types.ts';
import { at, dig, get, ifname, list, oneOf, requirePresent } from './fields.ts';

/** nmstate interface type names. */
export const NMSTATE_INTERFACE_TYPES = [
  'ethernet', 'bond', 'linux-bridge', 'ovs-bridge', 'ovs-interface', 'vlan', 'vxlan', 'team', 'dummy',
  'loopback', 'mac-vlan', 'mac-vtap', 'vrf', 'veth', 'infiniband', 'ipvlan', 'hsr', 'macsec', 'xfrm', 'unknown',
] as const;
/** nmstate also accepts `ignore` (leave the interface unmanaged). */
export const NMSTATE_INTERFACE_STATES = ['up', 'down', 'absent', 'ignore'] as const;
export const BRIDGE_MAPPING_STATES = ['present', 'absent'] as const;

export function validateNodeNetworkConfigurationPolicy(req: AdmissionRequest): Cause[] {
  const ds = dig(req.object.spec, 'desiredState');
  const base = 'spec.desiredState';
  const causes: Cause[] = [];

  list(get(ds, 'interfaces')).forEach((iface, i) => {
    const f = at(base, 'interfaces', i);
    causes.push(...requirePresent(get(iface, 'name'), at(f, 'name'), 'interface name'));
    causes.push(...ifname(get(iface, 'name'), at(f, 'name'), 'interface name'));
    causes.push(...ifname(dig(iface, 'vlan', 'base-iface'), at(f, 'vlan', 'base-iface'), 'VLAN base interface'));
    // Removing an interface by name (state: absent) does not need its type.
    if (get(iface, 'state') !== 'absent') {
      causes.push(...requirePresent(get(iface, 'type'), at(f, 'type'), `interface type (one of ${NMSTATE_INTERFACE_TYPES.join(', ')})`));
    }
    causes.push(...oneOf(get(iface, 'type'), at(f, 'type'), NMSTATE_INTERFACE_TYPES, 'interface type'));
    causes.push(...oneOf(get(iface, 'state'), at(f, 'state'), NMSTATE_INTERFACE_STATES, 'interface state'));
    if (get(iface, 'type') === 'linux-bridge' || get(iface, 'type') === 'ovs-bridge') {
      list(dig(iface, 'bridge', 'port')).forEach((p, k) => {
        causes.push(...requirePresent(get(p, 'name'), at(f, 'bridge', 'port', k, 'name'), 'bridge port name (the node NIC to enslave, e.g. eth1)'));
        causes.push(...ifname(get(p, 'name'), at(f, 'bridge', 'port', k, 'name'), 'bridge port name'));
      });
    }
  });

  list(dig(ds, 'ovn', 'bridge-mappings')).forEach((m, i) => {
    const f = at(base, 'ovn', 'bridge-mappings', i);
    causes.push(...requirePresent(get(m, 'localnet'), at(f, 'localnet'), 'localnet (the OVN network name used by the localnet NAD)'));
    if (get(m, 'state') !== 'absent') {
      causes.push(...requirePresent(get(m, 'bridge'), at(f, 'bridge'), 'bridge (the OVS bridge to map the localnet onto, e.g. br-ex)'));
    }
    causes.push(...ifname(get(m, 'bridge'), at(f, 'bridge'), 'bridge-mapping bridge'));
    causes.push(...oneOf(get(m, 'state'), at(f, 'state'), BRIDGE_MAPPING_STATES, 'bridge-mapping state'));
  });
  return causes;
}
