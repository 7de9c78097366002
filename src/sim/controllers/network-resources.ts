// KubeVirt's template service, network part: a Multus network whose NetworkAttachmentDefinition
// names a device-plugin resource (annotation `k8s.v1.cni.cncf.io/resourceName`, e.g.
// `openshift.io/<sriov resource>` or `bridge.network.kubevirt.io/<bridge>`) adds one unit of it
// per interface to the virt-launcher pod's requests and limits, so the scheduler places the VM
// only where the device exists. The NAD is read when the pod is rendered, so a missing one fails
// the render (kubevirt/kubevirt pkg/network/multus NetworkToResource); virt-controller retries.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { VmiNetwork, VmiSpec } from './kubevirt-types.ts';

const NAD = kindOf('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition') as Kind;
export const NAD_RESOURCE_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';
export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

/** A VM network's NAD reference (`name` in the VM's namespace, or `namespace/name`). */
export function nadRef(vmNamespace: string, networkName: string): { namespace: string; name: string } {
  const [namespace, name] = networkName.includes('/') ? networkName.split('/', 2) : [vmNamespace, networkName];
  return { namespace, name };
}

/** The launcher pod's resource requests for the VM's Multus networks; throws, as KubeVirt's render does, when a NAD is missing. */
export function networkResourceRequests(api: Registry, vmNamespace: string, networks: VmiNetwork[]): Record<string, string> {
  const counts: Record<string, number> = {};
  for (const n of networks) {
    if (!n.multus) continue;
    const { namespace, name } = nadRef(vmNamespace, n.multus.networkName);
    // virt-controller reads NADs cluster-wide: namespace isolation is Multus's check, at sandbox creation.
    const nad = api.tryGet(NAD, namespace, name);
    if (!nad) throw new Error(`failed to locate network attachment definition ${namespace}/${name}`);
    const res = nad.metadata.annotations?.[NAD_RESOURCE_ANNOTATION];
    for (const r of (res ?? '').split(',').map((x) => x.trim()).filter(Boolean)) counts[r] = (counts[r] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)]));
}

/** Multus pod interface names KubeVirt derives from the network name (pod<hash>). */
export function podInterfaceName(network: string): string {
  let h = 0;
  for (const ch of network) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `pod${h.toString(16).padStart(8, '0').slice(0, 11)}`;
}

/** The VMI's Multus networks the pod gets: an interface hot-unplugged (`state: absent`) is left out (generateMultusAnnotation). */
export function podMultusNetworks(spec: VmiSpec): VmiNetwork[] {
  const absent = new Set((spec.domain.devices?.interfaces ?? []).filter((i) => i.state === 'absent').map((i) => i.name));
  return (spec.networks ?? []).filter((n) => n.multus && !absent.has(n.name));
}

/** The launcher pod's `k8s.v1.cni.cncf.io/networks` value (each NAD by namespace and name, as KubeVirt splits `ns/name`), or undefined. */
export function multusNetworksAnnotation(vmNamespace: string, spec: VmiSpec): string | undefined {
  const nets = podMultusNetworks(spec).map((n) => {
    const ref = nadRef(vmNamespace, n.multus?.networkName as string);
    return { name: ref.name, namespace: ref.namespace, interface: podInterfaceName(n.name) };
  });
  return nets.length ? JSON.stringify(nets) : undefined;
}
