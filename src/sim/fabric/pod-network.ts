// Pod-network names re-exported for callers who think in terms of "the pod network".
export { Fabric, MACHINE_BRIDGE, MACHINE_NETNS } from './topo.ts';
export type { FabricOptions, PodInfo } from './topo.ts';
export { POD_BRIDGE, VXLAN_DEV, VXLAN_PORT, VXLAN_VNI } from './node.ts';
export { guestDefaults, type GuestDefaults } from './ipam.ts';
