// VirtualMachine manifests the way the seed writes them: masquerade on the pod network,
// dual-stack through cloud-init, SSH keys through accessCredentials.
import type { KObject } from './client.ts';

export interface VmOptions {
  name: string;
  namespace: string;
  /** The masquerade `ports` list; omitted means every port is let in. */
  ports?: number[];
  labels?: Record<string, string>;
  /** Pin to a node by hostname. */
  node?: string;
  /** The Secret holding the SSH public key (accessCredentials, noCloud propagation). */
  sshKeySecret: string;
  /** Add the seed's §8.2.2 IPv6 networkData (fd10:0:2::2/120, gateway fd10:0:2::1). */
  ipv6?: boolean;
  /** Guest image for real clusters; needs sshd, cloud-init, ping and iperf3. */
  image?: string;
  runStrategy?: 'Always' | 'Halted' | 'Manual';
  /** Template labels (they pass through to the virt-launcher pod, where Services select them). */
  templateLabels?: Record<string, string>;
  /** Last word on the manifest: add interfaces, networks, hostname, annotations... */
  customize?: (vm: KObject) => void;
}

export const DEFAULT_GUEST_IMAGE = 'quay.io/containerdisks/fedora:41';

/** @deprecated describe VMs with `vm(name)` (src/kube/vm-spec.ts) and create them with `Scope.create`. */
export function masqueradeVm(o: VmOptions): KObject {
  const vm = baseVm(o);
  o.customize?.(vm);
  return vm;
}

function baseVm(o: VmOptions): KObject {
  const networkData = o.ipv6
    ? 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    addresses: [ fd10:0:2::2/120 ]\n    gateway6: fd10:0:2::1\n'
    : undefined;
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      runStrategy: o.runStrategy ?? 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': o.name, ...o.labels, ...o.templateLabels } },
        spec: {
          domain: {
            devices: {
              interfaces: [{ name: 'default', masquerade: {}, ...(o.ports ? { ports: o.ports.map((port) => ({ port })) } : {}) }],
              disks: [{ name: 'containerdisk', disk: { bus: 'virtio' } }, { name: 'cloudinitdisk', disk: { bus: 'virtio' } }],
            },
            resources: { requests: { memory: '1Gi' } },
          },
          networks: [{ name: 'default', pod: {} }],
          ...(o.node ? { nodeSelector: { 'kubernetes.io/hostname': o.node } } : {}),
          accessCredentials: [{ sshPublicKey: { source: { secret: { secretName: o.sshKeySecret } }, propagationMethod: { noCloud: {} } } }],
          volumes: [
            { name: 'containerdisk', containerDisk: { image: o.image ?? DEFAULT_GUEST_IMAGE } },
            { name: 'cloudinitdisk', cloudInitNoCloud: { userData: '#cloud-config\npackages: [iperf3]\n', ...(networkData ? { networkData } : {}) } },
          ],
        },
      },
    },
  };
}

export function sshKeySecret(name: string, namespace: string, publicKey: string): KObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', stringData: { key: publicKey } };
}

/**
 * The VM's template spec, for `customize` callbacks.
 * @deprecated use the VmSpec builder (src/kube/vm-spec.ts).
 */
export function templateSpec(vm: KObject): Record<string, unknown> & { domain: { devices: { interfaces: Record<string, unknown>[] } }; networks: Record<string, unknown>[]; volumes: Record<string, unknown>[] } {
  return ((vm.spec as { template: { spec: unknown } }).template.spec) as ReturnType<typeof templateSpec>;
}
