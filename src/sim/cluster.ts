// The simulated cluster's control plane: registry, admission, the objects a fresh
// OpenShift Virtualization install has, and the controllers. The data plane plugs in through `SimDataPlane`.
import os from 'node:os';
import { type Kind, kindOf } from './api/kinds.ts';
import { Registry } from './api/registry.ts';
import type { KObject } from './api/types.ts';
import type { Controller } from './controllers/controller.ts';
import { GarbageCollector } from './controllers/garbage-collector.ts';
import { NamespaceController } from './controllers/namespace-controller.ts';

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

export function nodeName(i: number): string {
  return `node-${i}`;
}

/** The node's address as seen from outside the cluster: on host loopback, where the sim's host side listens. */
export function nodeExternalIP(externalNet: string, i: number): string {
  return `${externalNet}.${10 + i}`;
}

/** The MetalLB pool: addresses on host loopback next to the nodes' (the seeded IPAddressPool's range). */
export function loadBalancerRange(externalNet: string): string {
  return `${externalNet}.200-${externalNet}.250`;
}

/** MetalLB's namespace, where its IPAddressPools and L2Advertisements live. */
export const METALLB_NAMESPACE = 'metallb-system';

/** The node's address on the machine network (the fabric puts the same on its eth0). */
export function nodeInternalIP(i: number): string {
  return `192.168.126.${10 + i}`;
}

export class SimCluster {
  readonly registry: Registry;
  private readonly controllers: Controller[] = [];

  constructor(readonly settings: SimSettings) {
    this.registry = new Registry({ dualStack: settings.dualStack });
  }

  kind(apiVersion: string, kind: string): Kind {
    return kindOf(apiVersion, kind) as Kind;
  }

  /** Objects a freshly installed cluster already has. */
  seed(): void {
    const r = this.registry;
    const ns = this.kind('v1', 'Namespace');
    for (const name of SYSTEM_NAMESPACES) r.create(ns, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
    for (let i = 1; i <= this.settings.nodes; i++) r.create(this.kind('v1', 'Node'), undefined, this.nodeObject(i));
    r.create(this.kind('config.openshift.io/v1', 'DNS'), undefined, {
      apiVersion: 'config.openshift.io/v1', kind: 'DNS', metadata: { name: 'cluster' }, spec: { baseDomain: this.settings.baseDomain },
    });
    // Where an OpenShift cluster publishes its pod network: CIDRs, plugin, and the MTU guests get.
    r.create(this.kind('config.openshift.io/v1', 'Network'), undefined, {
      apiVersion: 'config.openshift.io/v1', kind: 'Network', metadata: { name: 'cluster' },
      spec: {
        clusterNetwork: [{ cidr: '10.128.0.0/14', hostPrefix: 24 }, ...(this.settings.dualStack ? [{ cidr: 'fd01::/48', hostPrefix: 64 }] : [])],
        serviceNetwork: ['172.30.0.0/16', ...(this.settings.dualStack ? ['fd02::/112'] : [])],
        networkType: 'OVNKubernetes',
      },
    });
    const net = this.registry.get(this.kind('config.openshift.io/v1', 'Network'), undefined, 'cluster');
    net.status = { clusterNetwork: (net.spec as { clusterNetwork: unknown }).clusterNetwork, serviceNetwork: (net.spec as { serviceNetwork: unknown }).serviceNetwork, networkType: 'OVNKubernetes', clusterNetworkMTU: this.settings.mtu };
    r.update(this.kind('config.openshift.io/v1', 'Network'), undefined, 'cluster', net, { subresource: 'status' });
    const kv = r.create(this.kind('kubevirt.io/v1', 'KubeVirt'), 'openshift-cnv', {
      apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { name: 'kubevirt-kubevirt-hyperconverged', namespace: 'openshift-cnv' },
      spec: { configuration: { network: { defaultNetworkInterface: 'masquerade' } } },
    });
    kv.status = { phase: 'Deployed', observedKubeVirtVersion: KUBEVIRT_VERSION, targetKubeVirtVersion: KUBEVIRT_VERSION, conditions: [{ type: 'Available', status: 'True' }] };
    r.update(this.kind('kubevirt.io/v1', 'KubeVirt'), 'openshift-cnv', kv.metadata.name as string, kv, { subresource: 'status' });
    if (this.settings.externalNet) this.seedMetalLB(this.settings.externalNet);
    // HCO's NetworkAddonsConfig: KubeMacPool with no range, so CNAO picks a random one.
    r.create(this.kind('networkaddonsoperator.network.kubevirt.io/v1', 'NetworkAddonsConfig'), undefined, {
      apiVersion: 'networkaddonsoperator.network.kubevirt.io/v1', kind: 'NetworkAddonsConfig', metadata: { name: 'cluster' },
      spec: { kubeMacPool: {}, linuxBridge: {}, imagePullPolicy: 'IfNotPresent' },
    });
    r.create(this.kind('hco.kubevirt.io/v1beta1', 'HyperConverged'), 'openshift-cnv', {
      apiVersion: 'hco.kubevirt.io/v1beta1', kind: 'HyperConverged', metadata: { name: 'kubevirt-hyperconverged', namespace: 'openshift-cnv' },
      spec: {
        featureGates: { deployKubeSecondaryDNS: false, alignCPUs: false },
        liveMigrationConfig: { completionTimeoutPerGiB: 150, parallelMigrationsPerCluster: 5, parallelOutboundMigrationsPerNode: 2, progressTimeout: 150 },
      },
    });
  }

  /** MetalLB as an install leaves it configured: one L2 pool on the sim's external /24, advertised. */
  private seedMetalLB(externalNet: string): void {
    const r = this.registry;
    const ns = METALLB_NAMESPACE;
    r.create(this.kind('v1', 'Namespace'), undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } });
    r.create(this.kind('metallb.io/v1beta1', 'IPAddressPool'), ns, {
      apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'default', namespace: ns },
      spec: { addresses: [loadBalancerRange(externalNet)], autoAssign: true, avoidBuggyIPs: false },
    });
    r.create(this.kind('metallb.io/v1beta1', 'L2Advertisement'), ns, {
      apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'default', namespace: ns },
      spec: { ipAddressPools: ['default'] },
    });
  }

  private nodeObject(i: number): KObject {
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
      spec: { podCIDR: `10.128.${i - 1}.0/24`, podCIDRs: [`10.128.${i - 1}.0/24`, ...(this.settings.dualStack ? [`fd01:0:0:${i}::/64`] : [])] },
      status: {
        capacity: resources, allocatable: resources,
        addresses: [
          { type: 'InternalIP', address: nodeInternalIP(i) },
          ...(this.settings.externalNet ? [{ type: 'ExternalIP', address: nodeExternalIP(this.settings.externalNet, i) }] : []),
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

  use(c: Controller): this {
    this.controllers.push(c);
    return this;
  }

  start(): this {
    this.use(new NamespaceController(this.registry)).use(new GarbageCollector(this.registry));
    for (const c of this.controllers) c.start();
    return this;
  }

  stop(): void {
    for (const c of this.controllers) c.stop();
  }
}
