// VmSpec renders the VirtualMachine shapes the seed documents, and one networkData for all NICs.
import { expect, test } from '@playwright/test';
import YAML from 'yaml';
import { bridgeNet, sriovNet, vm, type VmSpec } from '../../src/kube/vm-spec.ts';

const CTX = { namespace: 'ns1', sshKeySecret: 'key', image: 'img:1', labels: { 'kvnet.io/run-id': 'r1' } };
type Tmpl = { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> & { domain: { devices: { interfaces: Record<string, unknown>[] } }; networks: unknown[]; volumes: { cloudInitNoCloud?: { userData: string; networkData?: string } }[] } };
const tmpl = (s: VmSpec): Tmpl => (s.build(CTX).spec as { template: Tmpl }).template;
const cloudInit = (s: VmSpec) => tmpl(s).spec.volumes.find((v) => v.cloudInitNoCloud)?.cloudInitNoCloud as { userData: string; networkData?: string };
const netData = (s: VmSpec): unknown => { const n = cloudInit(s).networkData; return n === undefined ? undefined : YAML.parse(n); };

test('masquerade without ports: the whole golden manifest', () => {
  expect(vm('a').build(CTX)).toEqual({
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine',
    metadata: { name: 'a', namespace: 'ns1', labels: { 'kvnet.io/run-id': 'r1' } },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': 'a', 'kvnet.io/run-id': 'r1' } },
        spec: {
          domain: {
            devices: { interfaces: [{ name: 'default', masquerade: {} }], disks: [{ name: 'containerdisk', disk: { bus: 'virtio' } }, { name: 'cloudinitdisk', disk: { bus: 'virtio' } }] },
            resources: { requests: { memory: '1Gi' } },
          },
          networks: [{ name: 'default', pod: {} }],
          accessCredentials: [{ sshPublicKey: { source: { secret: { secretName: 'key' } }, propagationMethod: { noCloud: {} } } }],
          volumes: [
            { name: 'containerdisk', containerDisk: { image: 'img:1' } },
            { name: 'cloudinitdisk', cloudInitNoCloud: { userData: '#cloud-config\npackages: [iperf3, socat]\n' } },
          ],
        },
      },
    },
  });
});

test('masquerade with ports lists them on the interface', () => {
  expect(tmpl(vm('a').pod({ ports: [80, 49152] })).spec.domain.devices.interfaces).toEqual([{ name: 'default', masquerade: {}, ports: [{ port: 80 }, { port: 49152 }] }]);
});

test('ipv6 on the pod NIC: DHCPv4 plus the fixed masquerade address and gateway', () => {
  expect(netData(vm('a').pod({ ipv6: true }))).toEqual({ version: 2, ethernets: { eth0: { dhcp4: true, addresses: ['fd10:0:2::2/120'], gateway6: 'fd10:0:2::1' } } });
});

test('secondary NICs with addresses and ipv6 on eth0 compose into one networkData', () => {
  const s = vm('a').pod({ ipv6: true }).nic('br1', bridgeNet('ns1/br-net'), { addresses: ['10.200.0.1/24'] }).nic('br2', bridgeNet('dhcp-net'), { dhcp4: true }).nic('br3', bridgeNet('idle'));
  expect(netData(s)).toEqual({
    version: 2,
    ethernets: {
      eth0: { dhcp4: true, addresses: ['fd10:0:2::2/120'], gateway6: 'fd10:0:2::1' },
      eth1: { addresses: ['10.200.0.1/24'] },
      eth2: { dhcp4: true },
      eth3: { dhcp4: false },
    },
  });
  const t = tmpl(s).spec;
  expect(t.domain.devices.interfaces.map((i) => i.name)).toEqual(['default', 'br1', 'br2', 'br3']);
  expect(t.domain.devices.interfaces[1]).toEqual({ name: 'br1', bridge: {} });
  expect(t.networks).toEqual([{ name: 'default', pod: {} }, { name: 'br1', multus: { networkName: 'ns1/br-net' } }, { name: 'br2', multus: { networkName: 'dhcp-net' } }, { name: 'br3', multus: { networkName: 'idle' } }]);
  expect(s.guestIfname('br2')).toBe('eth2');
});

test('an SR-IOV NIC with a MAC: sriov binding, macAddress, and networkData matched by MAC', () => {
  const s = vm('a').nic('vf', sriovNet('sriov-net'), { mac: '02:00:00:AA:00:01', addresses: ['192.168.10.1/24'] });
  expect(tmpl(s).spec.domain.devices.interfaces[1]).toEqual({ name: 'vf', sriov: {}, macAddress: '02:00:00:AA:00:01' });
  expect(netData(s)).toEqual({ version: 2, ethernets: { eth0: { dhcp4: true }, vf: { match: { macaddress: '02:00:00:aa:00:01' }, addresses: ['192.168.10.1/24'] } } });
});

test('secondary-only VM: no pod network, the first secondary NIC is eth0', () => {
  const s = vm('a').noPod().nic('br1', bridgeNet('n'), { addresses: ['10.0.0.1/24'] });
  expect(tmpl(s).spec.networks).toEqual([{ name: 'br1', multus: { networkName: 'n' } }]);
  expect(netData(s)).toEqual({ version: 2, ethernets: { eth0: { addresses: ['10.0.0.1/24'] } } });
});

test('placement: awayFrom is a required pod anti-affinity on the hostname; node is a hostname selector', () => {
  expect(tmpl(vm('b').placement({ awayFrom: ['a'] })).spec.affinity).toEqual({
    podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchExpressions: [{ key: 'kubevirt.io/vm', operator: 'In', values: ['a'] }] }, topologyKey: 'kubernetes.io/hostname' }] },
  });
  expect(tmpl(vm('b').placement({ node: 'worker-1' })).spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'worker-1' });
});

test('hostname and subdomain, labels (VM and template), template annotations, image, runStrategy, memory', () => {
  const s = vm('a').hostname('web', 'headless').labels({ app: 'web' }).annotate('k', 'v').image('other:2').runStrategy('Halted').memory('2Gi');
  const m = s.build(CTX);
  const t = tmpl(s);
  expect([t.spec.hostname, t.spec.subdomain]).toEqual(['web', 'headless']);
  expect(m.metadata?.labels).toEqual({ 'kvnet.io/run-id': 'r1', app: 'web' });
  expect(t.metadata).toEqual({ labels: { 'kubevirt.io/vm': 'a', 'kvnet.io/run-id': 'r1', app: 'web' }, annotations: { k: 'v' } });
  expect((m.spec as { runStrategy: string }).runStrategy).toBe('Halted');
  expect(JSON.stringify(t.spec)).toContain('"image":"other:2"');
  expect(JSON.stringify(t.spec)).toContain('"memory":"2Gi"');
});

test('clone is deep: changing the clone leaves the original alone', () => {
  const a = vm('a').nic('br1', bridgeNet('n'), { addresses: ['10.0.0.1/24'] });
  const b = a.clone().pod({ ports: [80] }).nic('br2', bridgeNet('m'));
  expect(a.build(CTX)).not.toEqual(b.build(CTX));
  expect(tmpl(a).spec.domain.devices.interfaces.map((i) => i.name)).toEqual(['default', 'br1']);
  expect(JSON.stringify(a.clone().build(CTX))).toBe(JSON.stringify(a.build(CTX)));
});

test('extra packages join the defaults; a NIC name may not repeat', () => {
  expect(cloudInit(vm('a').withPackages(['tcpdump', 'socat'])).userData).toBe('#cloud-config\npackages: [iperf3, socat, tcpdump]\n');
  expect(() => vm('a').nic('x', bridgeNet('n')).nic('x', bridgeNet('m'))).toThrow(/taken/);
});
