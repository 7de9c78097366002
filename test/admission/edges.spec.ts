// Boundary values of the numeric rules, and the helpers exported for the lead.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import { parseNadConfig, vmNadIpamWarning, isUnicastMac, findNic } from '../../src/sim/api/admission/index.ts';
import { validate } from '../../src/sim/modules/index.ts';
import type { KObject } from '../../src/sim/api/types.ts';
import { SEED_DIR, loadObjects, request } from './helpers.ts';

const fieldsOf = (o: KObject, dualStack = true): string[] => validate(request(o, { dualStack })).map((c) => c.field);

function vmWithPort(port: unknown): KObject {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm', namespace: 'default' },
    spec: { runStrategy: 'Always', template: { spec: {
      domain: { devices: { interfaces: [{ name: 'default', masquerade: {}, ports: [{ port }] }] } },
      networks: [{ name: 'default', pod: {} }],
    } } },
  };
}
const PORT_FIELD = 'spec.template.spec.domain.devices.interfaces[0].ports[0].port';

for (const [port, ok] of [[0, false], [1, true], [65535, true], [65536, false], [-1, false], [80.5, false], ['80', false]] as const) {
  test(`VM port ${JSON.stringify(port)} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(vmWithPort(port)).includes(PORT_FIELD)).toBe(!ok);
  });
}

function sriovNetwork(spec: Record<string, unknown>): KObject {
  return { apiVersion: 'sriovnetwork.openshift.io/v1', kind: 'SriovNetwork', metadata: { name: 'n', namespace: 'openshift-sriov-network-operator' }, spec: { resourceName: 'r', ...spec } };
}
for (const [vlan, ok] of [[-1, false], [0, true], [4095, true], [4096, false]] as const) {
  test(`SriovNetwork vlan ${vlan} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(sriovNetwork({ vlan })).includes('spec.vlan')).toBe(!ok);
  });
}
for (const [vlanQoS, ok] of [[-1, false], [0, true], [7, true], [8, false]] as const) {
  test(`SriovNetwork vlanQoS ${vlanQoS} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(sriovNetwork({ vlanQoS })).includes('spec.vlanQoS')).toBe(!ok);
  });
}
test('SriovNetwork minTxRate equal to maxTxRate, and maxTxRate 0 (unlimited), are admitted', () => {
  expect(fieldsOf(sriovNetwork({ minTxRate: 100, maxTxRate: 100 }))).toEqual([]);
  expect(fieldsOf(sriovNetwork({ minTxRate: 100, maxTxRate: 0 }))).toEqual([]);
});

function bridgeNad(vlan: number): KObject {
  return { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'b', namespace: 'default' },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: 'b', type: 'bridge', bridge: 'br1', vlan }) } };
}
for (const [vlan, ok] of [[-1, false], [0, true], [4095, true], [4096, false]] as const) {
  test(`bridge NAD vlan ${vlan} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(bridgeNad(vlan)).includes('spec.config.vlan')).toBe(!ok);
  });
}

function policy(spec: Record<string, unknown>, nic: Record<string, unknown> = { vendor: '8086', deviceID: '158b', pfNames: ['ens1f0'] }): KObject {
  return { apiVersion: 'sriovnetwork.openshift.io/v1', kind: 'SriovNetworkNodePolicy', metadata: { name: 'p', namespace: 'openshift-sriov-network-operator' },
    spec: { resourceName: 'r', numVfs: 4, nicSelector: nic, ...spec } };
}
for (const [priority, ok] of [[-1, false], [0, true], [99, true], [100, false]] as const) {
  test(`policy priority ${priority} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(policy({ priority })).includes('spec.priority')).toBe(!ok);
  });
}
for (const [numVfs, ok] of [[0, false], [1, true], [127, true], [128, false]] as const) {
  test(`Mellanox (15b3/1015) numVfs ${numVfs} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(policy({ numVfs }, { vendor: '15b3', deviceID: '1015', pfNames: ['ens2f0'] })).includes('spec.numVfs')).toBe(!ok);
  });
}
test('Mellanox limit also applies when only the vendor is given; Intel 128 VFs is left to the node', () => {
  expect(fieldsOf(policy({ numVfs: 128 }, { vendor: '15b3', pfNames: ['ens2f0'] }))).toContain('spec.numVfs');
  expect(fieldsOf(policy({ numVfs: 128 }))).not.toContain('spec.numVfs');
});
for (const [mtu, ok] of [[0, false], [1, true], [9216, true], [9217, false]] as const) {
  test(`policy mtu ${mtu} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(policy({ mtu })).includes('spec.mtu')).toBe(!ok);
  });
}
test('supported-NIC table holds the four documented device ids', () => {
  expect(findNic('1572', '8086')?.vfDeviceID).toBe('154c');
  expect(findNic('158b', '8086')).toBeTruthy();
  expect(findNic('1015', '15b3')).toBeTruthy();
  expect(findNic('1017', '15b3')).toBeTruthy();
  expect(findNic('1017', '8086')).toBeUndefined();
});

function service(spec: Record<string, unknown>): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default' }, spec };
}
for (const [nodePort, ok] of [[29999, false], [30000, true], [32767, true], [32768, false]] as const) {
  test(`NodePort ${nodePort} is ${ok ? 'admitted' : 'rejected'}`, () => {
    expect(fieldsOf(service({ type: 'NodePort', ports: [{ port: 80, nodePort }] })).includes('spec.ports[0].nodePort')).toBe(!ok);
  });
}
test('Service targetPort accepts a port name and rejects a 16-character one', () => {
  expect(fieldsOf(service({ ports: [{ port: 80, targetPort: 'http' }] }))).toEqual([]);
  expect(fieldsOf(service({ ports: [{ port: 80, targetPort: 'a23456789012345x' }] }))).toContain('spec.ports[0].targetPort');
});
test('ExternalName needs no ports; IPv6-only on a single-stack cluster is refused', () => {
  expect(fieldsOf(service({ type: 'ExternalName', externalName: 'example.com' }))).toEqual([]);
  expect(fieldsOf(service({ ipFamilies: ['IPv6'], ports: [{ port: 80 }] }), false)).toContain('spec.ipFamilies[0]');
  expect(fieldsOf(service({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 80 }] }))).toEqual([]);
});

test('MAC addresses: unicast accepted, multicast and malformed refused', () => {
  expect(isUnicastMac('02:00:00:00:00:01')).toBe(true);
  expect(isUnicastMac('52-54-00-0E-AB-25')).toBe(true);
  expect(isUnicastMac('01:00:5e:00:00:01')).toBe(false);
  expect(isUnicastMac('ff:ff:ff:ff:ff:ff')).toBe(false);
  expect(isUnicastMac('02:00:00:00:00')).toBe(false);
  expect(isUnicastMac('02:00-00:00:00:01')).toBe(false);
});

test('SR-IOV state: absent on UPDATE is refused; bridge state: absent on UPDATE is admitted', () => {
  const [hotunplug] = loadObjects(join(SEED_DIR, '8.9.3-vm-hotunplug.yaml'));
  const [hotplug] = loadObjects(join(SEED_DIR, '8.9.2-vm-hotplug.yaml'));
  expect(validate(request(hotunplug, { operation: 'UPDATE', oldObject: hotplug }))).toEqual([]);
  const [sriovVm] = loadObjects(join(SEED_DIR, '8.6.3-vm-sriov.yaml'));
  const unplug = structuredClone(sriovVm) as KObject;
  const ifaces = (unplug.spec as { template: { spec: { domain: { devices: { interfaces: Array<Record<string, unknown>> } } } } }).template.spec.domain.devices.interfaces;
  ifaces[1].state = 'absent';
  expect(validate(request(unplug, { operation: 'UPDATE', oldObject: sriovVm })).map((c) => c.field))
    .toEqual(['spec.template.spec.domain.devices.interfaces[1].state']);
});

test('DELETE is never refused; unknown kinds pass', () => {
  expect(validate(request(vmWithPort(0), { operation: 'DELETE' }))).toEqual([]);
  expect(validate(request({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} }))).toEqual([]);
});

test('parseNadConfig types the seed NADs', () => {
  const [l2] = loadObjects(join(SEED_DIR, '8.8.1-l2-nad.yaml'));
  expect(parseNadConfig(l2)).toMatchObject({ type: 'ovn-k8s-cni-overlay', topology: 'layer2', mtu: 1300, name: 'my-namespace-l2-network', netAttachDefName: 'my-namespace/l2-network' });
  const [br] = loadObjects(join(SEED_DIR, '8.5.2-bridge-nad.yaml'));
  expect(parseNadConfig(br)).toMatchObject({ type: 'bridge', bridge: 'bridge-interface', vlan: 100, macspoofchk: false });
  const [mig] = loadObjects(join(SEED_DIR, '8.11-1-migration-nad.yaml'));
  expect(parseNadConfig(mig)).toMatchObject({ type: 'macvlan', master: 'eth1', mode: 'bridge', ipam: { type: 'whereabouts', range: '10.200.5.0/24' } });
  expect(parseNadConfig({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'x' }, spec: { config: '{' } })).toBeUndefined();
});

test('vmNadIpamWarning warns on IPAM NADs only', () => {
  const [mig] = loadObjects(join(SEED_DIR, '8.11-1-migration-nad.yaml'));
  expect(vmNadIpamWarning(mig)).toMatch(/IPAM.*not supported/);
  const [br] = loadObjects(join(SEED_DIR, '8.5.2-bridge-nad.yaml'));
  expect(vmNadIpamWarning(br)).toBeUndefined();
});

test('a NAD conflist is checked on its first plugin', () => {
  const nad: KObject = { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'c', namespace: 'default' },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: 'c', plugins: [{ type: 'bridge', bridge: 'br1', vlan: 5000 }, { type: 'tuning' }] }) } };
  expect(fieldsOf(nad)).toEqual(['spec.config.plugins[0].vlan']);
  expect(parseNadConfig(nad)).toMatchObject({ type: 'bridge', bridge: 'br1', name: 'c' });
});
