// What the target cluster offers, read from its API the same way on the sim and on a real cluster.
import { ApisApi, VersionApi } from '@kubernetes/client-node';
import type { Kube, KObject } from './client.ts';

export interface ClusterFacts {
  kubernetesVersion: string;
  kubevirtVersion?: string;
  /** API groups served, e.g. kubevirt.io, k8s.cni.cncf.io. */
  groups: string[];
  /** Ready nodes that take VMs. */
  schedulableNodes: string[];
  dualStack: boolean;
  /** OpenShift's Network config `status.clusterNetworkMTU`, when published. */
  clusterNetworkMTU?: number;
  networkType?: string;
  /** Extended resources (e.g. openshift.io/<sriov>) some schedulable node has allocatable > 0 of. */
  nodeResources: string[];
  /** Every namespace, when the credentials may list them. */
  namespaces?: string[];
  /** The names of the mutating admission webhooks registered, when the credentials may list them. */
  mutatingWebhooks?: string[];
}

interface NodeStatus { conditions?: { type: string; status: string }[] }

export async function discover(kube: Kube): Promise<ClusterFacts> {
  const [version, groupList, nodes, namespaces, mutatingWebhooks] = await Promise.all([
    kube.kc.makeApiClient(VersionApi).getCode(),
    kube.kc.makeApiClient(ApisApi).getAPIVersions(),
    kube.list<KObject>('v1', 'Node'),
    kube.list<KObject>('v1', 'Namespace').then((l) => l.map((n) => n.metadata?.name as string).sort(), () => undefined),
    kube.list<KObject>('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration')
      .then((l) => l.flatMap((c) => ((c.webhooks as { name: string }[] | undefined) ?? []).map((w) => w.name)).sort(), () => undefined),
  ]);
  const groups = groupList.groups.map((g) => g.name);
  const schedulableNodes = nodes
    .filter((n) => (n.status as NodeStatus).conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .filter((n) => !(n.spec as { unschedulable?: boolean })?.unschedulable && n.metadata?.labels?.['kubevirt.io/schedulable'] !== 'false')
    .map((n) => n.metadata?.name as string)
    .sort();
  const nodeResources = [...new Set(nodes
    .filter((n) => schedulableNodes.includes(n.metadata?.name as string))
    .flatMap((n) => Object.entries((n.status as { allocatable?: Record<string, string> } | undefined)?.allocatable ?? {}))
    .filter(([, q]) => q !== '0' && q !== '')
    .map(([r]) => r))].sort();
  let kubevirtVersion: string | undefined;
  if (groups.includes('kubevirt.io')) {
    const kvs = await kube.list<KObject>('kubevirt.io/v1', 'KubeVirt').catch(() => []);
    kubevirtVersion = (kvs[0]?.status as { observedKubeVirtVersion?: string } | undefined)?.observedKubeVirtVersion;
  }
  let clusterNetworkMTU: number | undefined;
  let networkType: string | undefined;
  let dualStack = nodes.some((n) => ((n.spec as { podCIDRs?: string[] })?.podCIDRs ?? []).some((c) => c.includes(':')));
  if (groups.includes('config.openshift.io')) {
    const net = await kube.get<KObject>('config.openshift.io/v1', 'Network', undefined, 'cluster').catch(() => undefined);
    const st = net?.status as { clusterNetworkMTU?: number; networkType?: string; clusterNetwork?: { cidr: string }[] } | undefined;
    clusterNetworkMTU = st?.clusterNetworkMTU;
    networkType = st?.networkType;
    dualStack ||= (st?.clusterNetwork ?? []).some((c) => c.cidr.includes(':'));
  }
  return { kubernetesVersion: version.gitVersion, kubevirtVersion, groups, schedulableNodes, dualStack, clusterNetworkMTU, networkType, nodeResources, namespaces, mutatingWebhooks };
}
