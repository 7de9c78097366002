// The one place that knows KubeVirt VirtualMachine shapes: a builder suites describe VMs with
// (pod NIC, secondary NICs, placement, hostname) and one renderer for the guest's networkData.
import type { KObject } from './client.ts';

export type NetworkRef = { multus: string; binding: 'bridge' | 'sriov' };
export const bridgeNet = (nad: string): NetworkRef => ({ multus: nad, binding: 'bridge' });
export const sriovNet = (nad: string): NetworkRef => ({ multus: nad, binding: 'sriov' });

export interface NicOptions {
  mac?: string;
  /** Static CIDRs through cloud-init networkData. */
  addresses?: string[];
  dhcp4?: boolean;
  model?: string;
  /** KubeVirt interface state (link down, or hot-unplugged). */
  state?: 'up' | 'down' | 'absent';
}

export interface BuildContext {
  namespace: string;
  sshKeySecret: string;
  image: string;
  labels?: Record<string, string>;
}

/** The seed's §8.2.2 masquerade IPv6 (KubeVirt's fixed guest address and gateway). */
export const MASQUERADE_IPV6 = { address: 'fd10:0:2::2/120', gateway: 'fd10:0:2::1' };
/** Tools every guest gets through cloud-init `packages:` (ping comes with the image). */
export const DEFAULT_PACKAGES = ['iperf3', 'socat'];
export const VM_LABEL = 'kubevirt.io/vm';

type Placement = { node: string } | { awayFrom: string[] };
interface Nic { name: string; net: NetworkRef; o: NicOptions }

export function vm(name: string): VmSpec {
  return new VmSpec(name);
}

export class VmSpec {
  private place?: Placement;
  private podNic?: { ports?: number[]; ipv6?: boolean } = {};
  private nics: Nic[] = [];
  private host?: { hostname: string; subdomain?: string };
  private extraLabels: Record<string, string> = {};
  private annotations: Record<string, string> = {};
  private img?: string;
  private strategy: 'Always' | 'Halted' | 'Manual' | 'RerunOnFailure' = 'Always';
  private mem = '1Gi';
  private eviction?: 'LiveMigrate' | 'LiveMigrateIfPossible' | 'None' | 'External';
  private packages: string[] = [...DEFAULT_PACKAGES];

  constructor(readonly name: string) {}

  placement(p: Placement): this {
    this.place = 'node' in p ? { node: p.node } : { awayFrom: [...p.awayFrom] };
    return this;
  }

  pod(o: { ports?: number[]; ipv6?: boolean } = {}): this {
    this.podNic = { ...o, ...(o.ports ? { ports: [...o.ports] } : {}) };
    return this;
  }

  noPod(): this {
    this.podNic = undefined;
    return this;
  }

  nic(name: string, net: NetworkRef, o: NicOptions = {}): this {
    if (name === 'default' || this.nics.some((n) => n.name === name)) throw new Error(`VM ${this.name}: interface name ${name} is taken`);
    this.nics.push({ name, net: { ...net }, o: { ...o, ...(o.addresses ? { addresses: [...o.addresses] } : {}) } });
    return this;
  }

  hostname(hostname: string, subdomain?: string): this {
    this.host = { hostname, subdomain };
    return this;
  }

  labels(l: Record<string, string>): this {
    this.extraLabels = { ...this.extraLabels, ...l };
    return this;
  }

  annotate(key: string, value: string): this {
    this.annotations = { ...this.annotations, [key]: value };
    return this;
  }

  image(image: string): this {
    this.img = image;
    return this;
  }

  runStrategy(s: 'Always' | 'Halted' | 'Manual' | 'RerunOnFailure'): this {
    this.strategy = s;
    return this;
  }

  memory(q: string): this {
    this.mem = q;
    return this;
  }

  /** spec.evictionStrategy: what a node drain does to the VM (LiveMigrate: it moves). */
  evictionStrategy(s: 'LiveMigrate' | 'LiveMigrateIfPossible' | 'None' | 'External'): this {
    this.eviction = s;
    return this;
  }

  /** Extra cloud-init packages on top of the defaults (the profile's guest.tools). */
  withPackages(p: string[]): this {
    this.packages = [...new Set([...this.packages, ...p])];
    return this;
  }

  clone(): VmSpec {
    const c = new VmSpec(this.name);
    if (this.place) c.placement(this.place);
    c.podNic = this.podNic ? { ...this.podNic } : undefined;
    for (const n of this.nics) c.nic(n.name, n.net, n.o);
    c.host = this.host ? { ...this.host } : undefined;
    c.extraLabels = { ...this.extraLabels };
    c.annotations = { ...this.annotations };
    c.img = this.img;
    c.strategy = this.strategy;
    c.mem = this.mem;
    c.eviction = this.eviction;
    c.packages = [...this.packages];
    return c;
  }

  /** Guest interface name of a NIC by the order KubeVirt plugs them (pod first). */
  guestIfname(nic: string): string {
    const order = [...(this.podNic ? ['default'] : []), ...this.nics.map((n) => n.name)];
    const i = order.indexOf(nic);
    if (i < 0) throw new Error(`VM ${this.name} has no interface ${nic}`);
    return `eth${i}`;
  }

  /** The secondary NICs as declared (name, network, options). */
  secondaryNics(): ReadonlyArray<Readonly<Nic>> {
    return this.nics;
  }

  get hasPod(): boolean {
    return this.podNic !== undefined;
  }

  build(ctx: BuildContext): KObject {
    const labels = { ...ctx.labels, ...this.extraLabels };
    const interfaces: Record<string, unknown>[] = [];
    const networks: Record<string, unknown>[] = [];
    if (this.podNic) {
      interfaces.push({ name: 'default', masquerade: {}, ...(this.podNic.ports ? { ports: this.podNic.ports.map((port) => ({ port })) } : {}) });
      networks.push({ name: 'default', pod: {} });
    }
    for (const n of this.nics) {
      interfaces.push({
        name: n.name, [n.net.binding]: {},
        ...(n.o.mac ? { macAddress: n.o.mac } : {}), ...(n.o.model ? { model: n.o.model } : {}), ...(n.o.state ? { state: n.o.state } : {}),
      });
      networks.push({ name: n.name, multus: { networkName: n.net.multus } });
    }
    const networkData = this.networkData();
    const userData = `#cloud-config\npackages: [${this.packages.join(', ')}]\n`;
    return {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: this.name, namespace: ctx.namespace, ...(Object.keys(labels).length ? { labels } : {}) },
      spec: {
        runStrategy: this.strategy,
        template: {
          metadata: { labels: { [VM_LABEL]: this.name, ...labels }, ...(Object.keys(this.annotations).length ? { annotations: { ...this.annotations } } : {}) },
          spec: {
            domain: {
              devices: { interfaces, disks: [{ name: 'containerdisk', disk: { bus: 'virtio' } }, { name: 'cloudinitdisk', disk: { bus: 'virtio' } }] },
              resources: { requests: { memory: this.mem } },
            },
            networks,
            ...(this.eviction ? { evictionStrategy: this.eviction } : {}),
            ...(this.host ? { hostname: this.host.hostname, ...(this.host.subdomain ? { subdomain: this.host.subdomain } : {}) } : {}),
            ...this.placementSpec(),
            accessCredentials: [{ sshPublicKey: { source: { secret: { secretName: ctx.sshKeySecret } }, propagationMethod: { noCloud: {} } } }],
            volumes: [
              { name: 'containerdisk', containerDisk: { image: this.img ?? ctx.image } },
              { name: 'cloudinitdisk', cloudInitNoCloud: { userData, ...(networkData ? { networkData } : {}) } },
            ],
          },
        },
      },
    };
  }

  private placementSpec(): Record<string, unknown> {
    if (!this.place) return {};
    if ('node' in this.place) return { nodeSelector: { 'kubernetes.io/hostname': this.place.node } };
    if (this.place.awayFrom.length === 0) return {};
    return {
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{
            labelSelector: { matchExpressions: [{ key: VM_LABEL, operator: 'In', values: [...this.place.awayFrom] }] },
            topologyKey: 'kubernetes.io/hostname',
          }],
        },
      },
    };
  }

  /**
   * cloud-init v2 networkData for the whole NIC list, or undefined when cloud-init's own
   * fallback (DHCP on the first NIC) already does it. The pod NIC keeps DHCP, plus the
   * masquerade IPv6 when asked; secondary NICs are keyed by guest order or matched by MAC.
   */
  networkData(): string | undefined {
    if (this.podNic && !this.podNic.ipv6 && this.nics.length === 0) return undefined;
    const lines = ['version: 2', 'ethernets:'];
    if (this.podNic) {
      lines.push('  eth0:', '    dhcp4: true');
      if (this.podNic.ipv6) lines.push('    addresses:', `    - ${MASQUERADE_IPV6.address}`, `    gateway6: ${MASQUERADE_IPV6.gateway}`);
    }
    for (const n of this.nics) {
      if (n.o.state === 'absent') continue;
      const ifname = this.guestIfname(n.name);
      if (n.o.mac) lines.push(`  ${n.name}:`, '    match:', `      macaddress: "${n.o.mac.toLowerCase()}"`);
      else lines.push(`  ${ifname}:`);
      if (n.o.dhcp4) lines.push('    dhcp4: true');
      if (n.o.addresses?.length) lines.push('    addresses:', ...n.o.addresses.map((a) => `    - ${a}`));
      if (!n.o.dhcp4 && !n.o.addresses?.length) lines.push('    dhcp4: false');
    }
    return `${lines.join('\n')}\n`;
  }
}
