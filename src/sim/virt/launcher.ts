// A virt-launcher pod as virt-handler sees it on its node: the API pod, its netns and addresses on
// the pod network, and its features (the port-forward listener to the guest). A migrating VMI has
// two: the active one and the target, so everything a launcher holds is keyed by its pod uid.
import type { KObject } from '../api/types.ts';
import type { Fabric, PodInfo } from '../fabric/topo.ts';
import type { WarmLauncher } from './warm-launcher.ts';

export interface Launcher {
  /** The API pod's namespace, name and uid. */
  namespace: string;
  podName: string;
  podUid: string;
  node: string;
  /** The fabric's pod (netns, pod IPs). */
  pod: PodInfo;
  /** The prepared netns the pod took, with the plumbing made in it ahead. */
  warm?: WarmLauncher;
}

/** The fabric's name for an API pod: unique per namespace and name. */
export function fabricPodName(podObj: KObject): string {
  return `${podObj.metadata.namespace}.${podObj.metadata.name}`;
}

/** The launcher's sandbox on its node: the pod netns with its pod-network eth0 (or a prepared launcher's netns). */
export async function startLauncher(fabric: Fabric, podObj: KObject, node: string, warm?: WarmLauncher): Promise<Launcher> {
  const pod = await fabric.addPod(node, fabricPodName(podObj), { netns: warm?.netns });
  return { namespace: podObj.metadata.namespace as string, podName: podObj.metadata.name as string, podUid: podObj.metadata.uid as string, node, pod, warm };
}

/** Port-forward (the launcher's feature): keep the listener to the guest's sshd up, so the first SSH finds it. */
export function openPortForward(fabric: Fabric, l: Launcher, guestIP: string, what: string): void {
  fabric.openDial(l.pod.netns, guestIP, 22).catch((e: Error) => console.error(`virt-handler: port-forward listener for ${what}: ${e.message}`));
}

export async function stopLauncher(fabric: Fabric, l: Launcher): Promise<void> {
  await fabric.removePod(l.pod.name);
}
