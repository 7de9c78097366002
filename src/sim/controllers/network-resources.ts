// KubeVirt's template service, network part: a Multus network whose NetworkAttachmentDefinition
// names a device-plugin resource (annotation `k8s.v1.cni.cncf.io/resourceName`, e.g.
// `openshift.io/<sriov resource>` or `bridge.network.kubevirt.io/<bridge>`) adds one unit of it
// per interface to the virt-launcher pod's requests and limits, so the scheduler places the VM
// only where the device exists.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { VmiNetwork } from './kubevirt-types.ts';

const NAD = kindOf('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition') as Kind;
export const NAD_RESOURCE_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

export function networkResourceRequests(api: Registry, vmNamespace: string, networks: VmiNetwork[]): Record<string, string> {
  const counts: Record<string, number> = {};
  for (const n of networks) {
    if (!n.multus) continue;
    const ref = n.multus.networkName;
    const [ns, name] = ref.includes('/') ? ref.split('/', 2) : [vmNamespace, ref];
    const res = api.tryGet(NAD, ns, name)?.metadata.annotations?.[NAD_RESOURCE_ANNOTATION];
    // A missing NAD is virt-handler's error to report; the pod is not held back for it here.
    for (const r of (res ?? '').split(',').map((x) => x.trim()).filter(Boolean)) counts[r] = (counts[r] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)]));
}
