// The simulated cluster's control plane: the registry and its controllers, the sim's settings, and
// the objects a fresh OpenShift Virtualization install has (seeded by the modules, src/sim/modules).
import os from 'node:os';
import { type Kind, kindOf } from './api/kinds.ts';
import { Registry } from './api/registry.ts';
import type { KObject } from './api/types.ts';
import type { Controller } from './controllers/controller.ts';
import { nodeInternalIP, nodeName } from './topology.ts';

export interface SimSettings {
  nodes: number;
  dualStack: boolean;
  /** Pod network MTU. */
  mtu: number;
  baseDomain: string;
  /** `127.x.y`: the host-loopback /24 of this sim's node ExternalIPs and LoadBalancer pool (random per sim). */
  externalNet?: string;
  /** Guest memory a live migration copies, as a fraction of the VM's memory (default 1/64: a 1 GiB VM sends 16 MiB). */
  migrationMemoryScale?: number;
  /** Line rate of every node NIC on the machine network, in Gbit/s (fabric/shape.ts); unset: unshaped. */
  nicRateGbps?: number;
}

export const DEFAULT_SETTINGS: SimSettings = { nodes: 2, dualStack: true, mtu: 1400, baseDomain: 'kvnet.example.com' };

/** Namespaces the operators own on a real install. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'openshift-cnv', 'openshift-sriov-network-operator', 'openshift-nmstate', 'openshift-dns'];

/** The KubeVirt release whose behaviour the sim follows. */
export const KUBEVIRT_VERSION = 'v1.3.1';

export { nodeInternalIP, nodeName } from './topology.ts';

/** The node's address as seen from outside the cluster: on host loopback, where the sim's host side listens. */
export function nodeExternalIP(externalNet: string, i: number): string {
  return `${externalNet}.${10 + i}`;
}

/** The MetalLB pool: addresses on host loopback next to the nodes' (the seeded IPAddressPool's range). */
export function loadBalancerRange(externalNet: string): string {
  return `${externalNet}.200-${externalNet}.250`;
}

/** The cluster's DNS domain (its Service address is the allocator's DNS_SERVICE_IP). */
export const CLUSTER_DOMAIN = 'cluster.local';

/** MetalLB's namespace, where its IPAddressPools and L2Advertisements live. */
export const METALLB_NAMESPACE = 'metallb-system';

const kind = (apiVersion: string, k: string): Kind => kindOf(apiVersion, k) as Kind;

/** What a cluster has before any operator: system namespaces, nodes, and its DNS and Network config. */
export function seedCore(r: Registry, settings: SimSettings): void {
  const ns = kind('v1', 'Namespace');
  for (const name of SYSTEM_NAMESPACES) r.create(ns, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
  for (let i = 1; i <= settings.nodes; i++) r.create(kind('v1', 'Node'), undefined, nodeObject(settings, i));
  r.create(kind('config.openshift.io/v1', 'DNS'), undefined, {
    apiVersion: 'config.openshift.io/v1', kind: 'DNS', metadata: { name: 'cluster' }, spec: { baseDomain: settings.baseDomain },
  });
  // Where an OpenShift cluster publishes its pod network: CIDRs, plugin, and the MTU guests get.
  r.create(kind('config.openshift.io/v1', 'Network'), undefined, {
    apiVersion: 'config.openshift.io/v1', kind: 'Network', metadata: { name: 'cluster' },
    spec: {
      clusterNetwork: [{ cidr: '10.128.0.0/14', hostPrefix: 24 }, ...(settings.dualStack ? [{ cidr: 'fd01::/48', hostPrefix: 64 }] : [])],
      serviceNetwork: ['172.30.0.0/16', ...(settings.dualStack ? ['fd02::/112'] : [])],
      networkType: 'OVNKubernetes',
    },
  });
  const net = r.get(kind('config.openshift.io/v1', 'Network'), undefined, 'cluster');
  net.status = { clusterNetwork: (net.spec as { clusterNetwork: unknown }).clusterNetwork, serviceNetwork: (net.spec as { serviceNetwork: unknown }).serviceNetwork, networkType: 'OVNKubernetes', clusterNetworkMTU: settings.mtu };
  r.update(kind('config.openshift.io/v1', 'Network'), undefined, 'cluster', net, { subresource: 'status' });
}

/** The KubeVirt CR and HyperConverged an OpenShift Virtualization install leaves. */
export function seedKubeVirt(r: Registry): void {
  const kv = r.create(kind('kubevirt.io/v1', 'KubeVirt'), 'openshift-cnv', {
    apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { name: 'kubevirt-kubevirt-hyperconverged', namespace: 'openshift-cnv' },
    spec: { configuration: { network: { defaultNetworkInterface: 'masquerade' } } },
  });
  kv.status = { phase: 'Deployed', observedKubeVirtVersion: KUBEVIRT_VERSION, targetKubeVirtVersion: KUBEVIRT_VERSION, conditions: [{ type: 'Available', status: 'True' }] };
  r.update(kind('kubevirt.io/v1', 'KubeVirt'), 'openshift-cnv', kv.metadata.name as string, kv, { subresource: 'status' });
  r.create(kind('hco.kubevirt.io/v1beta1', 'HyperConverged'), 'openshift-cnv', {
    apiVersion: 'hco.kubevirt.io/v1beta1', kind: 'HyperConverged', metadata: { name: 'kubevirt-hyperconverged', namespace: 'openshift-cnv' },
    spec: {
      featureGates: { deployKubeSecondaryDNS: false, alignCPUs: false },
      liveMigrationConfig: { completionTimeoutPerGiB: 150, parallelMigrationsPerCluster: 5, parallelOutboundMigrationsPerNode: 2, progressTimeout: 150 },
    },
  });
}

/** MetalLB as an install leaves it configured: one L2 pool on the sim's external /24, advertised. */
export function seedMetalLB(r: Registry, externalNet: string): void {
  const ns = METALLB_NAMESPACE;
  r.create(kind('v1', 'Namespace'), undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } });
  r.create(kind('metallb.io/v1beta1', 'IPAddressPool'), ns, {
    apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'default', namespace: ns },
    spec: { addresses: [loadBalancerRange(externalNet)], autoAssign: true, avoidBuggyIPs: false },
  });
  r.create(kind('metallb.io/v1beta1', 'L2Advertisement'), ns, {
    apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'default', namespace: ns },
    spec: { ipAddressPools: ['default'] },
  });
}

function nodeObject(settings: SimSettings, i: number): KObject {
  const name = nodeName(i);
  const resources = { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi', 'devices.kubevirt.io/kvm': '1k', 'devices.kubevirt.io/tun': '1k', 'devices.kubevirt.io/vhost-net': '1k' };
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/worker': '', 'kubevirt.io/schedulable': 'true', 'cpumanager': 'true',
        'topology.kubernetes.io/zone': 'sim-zone-a',
      },
      annotations: { 'kvnet.io/simulated': 'true' },
    },
    spec: { podCIDR: `10.128.${i - 1}.0/24`, podCIDRs: [`10.128.${i - 1}.0/24`, ...(settings.dualStack ? [`fd01:0:0:${i}::/64`] : [])] },
    status: {
      capacity: resources, allocatable: resources,
      addresses: [
        { type: 'InternalIP', address: nodeInternalIP(i) },
        ...(settings.externalNet ? [{ type: 'ExternalIP', address: nodeExternalIP(settings.externalNet, i) }] : []),
        { type: 'Hostname', address: name },
      ],
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', lastHeartbeatTime: t, lastTransitionTime: t },
        { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', lastHeartbeatTime: t, lastTransitionTime: t },
        { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', lastHeartbeatTime: t, lastTransitionTime: t },
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.31.0', kubeProxyVersion: 'v1.31.0', containerRuntimeVersion: 'cri-o://1.31.0',
        kernelVersion: os.release(), osImage: 'Red Hat Enterprise Linux CoreOS (kvnet sim)', operatingSystem: 'linux', architecture: 'amd64',
        machineID: `kvnet-${name}`, systemUUID: `kvnet-${name}`, bootID: `kvnet-${name}`,
      },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    },
  };
}

export class SimCluster {
  readonly registry: Registry;
  private readonly controllers: Controller[] = [];

  constructor(readonly settings: SimSettings) {
    this.registry = new Registry({ dualStack: settings.dualStack });
  }

  use(c: Controller): this {
    this.controllers.push(c);
    return this;
  }

  start(): this {
    for (const c of this.controllers) c.start();
    return this;
  }

  stop(): void {
    for (const c of this.controllers) c.stop();
  }
}
