// The seed's §8.5 and §8.8 manifests, applied with kubectl in the documented order, give two
// guests that talk over the secondary network. Changes to the seed objects are only what a
// user adds to log in and address the guests: an SSH key (accessCredentials), static
// addresses in networkData, and for §8.8's VM (which has only the secondary NIC) a pod NIC
// first, because guests are reached over the pod network's port-forward.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import YAML from 'yaml';
import { Guest } from '../../src/guest/guest.ts';
import type { KObject } from '../../src/kube/client.ts';
import { templateSpec } from '../../src/kube/vm.ts';
import { loadObjects, SEED_DIR } from '../admission/helpers.ts';
import { DataPlaneSim, hasKubectl, KUBECTL } from '../sim/helpers.ts';

test.describe.configure({ mode: 'serial', timeout: 180_000 });

let sim: DataPlaneSim;
let dir: string;

test.beforeAll(async () => {
  test.skip(!hasKubectl, `kubectl not installed at ${KUBECTL}`);
  sim = await DataPlaneSim.start('secondary-seed');
  dir = resolve('test-results', 'secondary-seed');
  mkdirSync(dir, { recursive: true });
});

test.afterAll(async () => {
  await sim?.stop();
});

const kubectl = (args: string[]) => sim.kubectl(args);

async function apply(file: string): Promise<void> {
  const r = await kubectl(['apply', '-f', file]);
  expect(r.code, `kubectl apply -f ${file}: ${r.out}`).toBe(0);
}

/** A seed VM with the user's additions, written next to the kubeconfig. */
function edited(file: string, name: string, edit: (vm: KObject) => void): string {
  const vm = structuredClone(loadObjects(join(SEED_DIR, file))[0]) as unknown as KObject;
  vm.metadata = { ...vm.metadata, name };
  const spec = templateSpec(vm);
  spec.accessCredentials = [{ sshPublicKey: { source: { secret: { secretName: 'ssh-key' } }, propagationMethod: { noCloud: {} } } }];
  edit(vm);
  const out = join(dir, `${vm.metadata?.namespace}-${name}.yaml`);
  writeFileSync(out, YAML.stringify(vm));
  return out;
}

function setNetworkData(vm: KObject, text: string): void {
  const ci = templateSpec(vm).volumes.find((v) => v.cloudInitNoCloud) as { cloudInitNoCloud: Record<string, string> };
  ci.cloudInitNoCloud.networkData = text;
}

function pin(vm: KObject, node: string): void {
  templateSpec(vm).nodeSelector = { 'kubernetes.io/hostname': node };
}

async function login(ns: string, name: string): Promise<Guest> {
  await sim.kube.waitFor(async () => ((await sim.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', ns, name))?.status as { phase?: string } | undefined)?.phase === 'Running', { what: `${ns}/${name} Running`, timeoutMs: 60_000 });
  const g = await Guest.connect({ kc: sim.kube.kc, namespace: ns, vmi: name, user: 'fedora', privateKey: sim.keys.privateKey, timeoutMs: 30_000 });
  sim.guests.push(g);
  return g;
}

async function copyKey(ns: string): Promise<void> {
  const key = await sim.kube.get<KObject>('v1', 'Secret', 'selftest', 'ssh-key');
  await sim.kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ssh-key', namespace: ns }, type: 'Opaque', data: key?.data as Record<string, string> });
}

test('§8.5: NNCP, then NAD, then VMs — two guests on br1 talk across nodes', async () => {
  await apply(join(SEED_DIR, '00-namespaces.yaml'));
  await apply(join(SEED_DIR, '8.5.1-nncp.yaml'));
  const w = await kubectl(['wait', 'nncp', 'br1-eth1-policy', '--for=condition=Available', '--timeout=60s']);
  expect(w.code, w.out).toBe(0);
  await apply(join(SEED_DIR, '99-support.yaml')); // a-bridge-network on br1, the §8.5.2 bridge "bridge-interface", ...
  await apply(join(SEED_DIR, '8.5.2-bridge-nad.yaml'));
  expect((await kubectl(['get', 'network-attachment-definition', 'bridge-network', '-n', 'kvnet-seed'])).code).toBe(0);
  await copyKey('kvnet-seed');
  const nd = (ip: string) => `version: 2\nethernets:\n  eth0:\n    dhcp4: true\n  eth1:\n    addresses:\n    - ${ip}/24\n`;
  await apply(edited('8.5.3-vm-bridge.yaml', 'example-vm', (vm) => { setNetworkData(vm, nd('10.10.10.1')); pin(vm, 'node-1'); }));
  await apply(edited('8.5.3-vm-bridge.yaml', 'example-vm-2', (vm) => { setNetworkData(vm, nd('10.10.10.2')); pin(vm, 'node-2'); }));
  const [a, b] = await Promise.all([login('kvnet-seed', 'example-vm'), login('kvnet-seed', 'example-vm-2')]);
  expect((await a.exec('ping -n -c 2 -W 1 10.10.10.2')).code, 'example-vm → example-vm-2 over br1').toBe(0);
  expect((await b.exec('ping -n -c 2 -W 1 10.10.10.1')).code).toBe(0);
});

test('§8.8: layer2 NADs, then VMs — vm-server (kvnet-seed) and a VM in my-namespace share the network', async () => {
  await apply(join(SEED_DIR, '8.8.1-l2-nad.yaml'));
  await copyKey('my-namespace');
  // vm-server has only the secondary NIC; a pod NIC goes first, so the seed's eth0 address moves to eth1.
  const withPod = (ip: string, ns: string, node: string) => (vm: KObject) => {
    vm.metadata = { ...vm.metadata, namespace: ns };
    const spec = templateSpec(vm);
    spec.domain.devices.interfaces.unshift({ name: 'default', masquerade: {} });
    spec.networks.unshift({ name: 'default', pod: {} });
    setNetworkData(vm, `version: 2\nethernets:\n  eth0:\n    dhcp4: true\n  eth1:\n    addresses:\n    - ${ip}/24\n`);
    pin(vm, node);
  };
  await apply(edited('8.8.2-vm-ovn.yaml', 'vm-server', withPod('192.168.100.10', 'kvnet-seed', 'node-1')));
  await apply(edited('8.8.2-vm-ovn.yaml', 'vm-client', withPod('192.168.100.11', 'my-namespace', 'node-2')));
  const [server, client] = await Promise.all([login('kvnet-seed', 'vm-server'), login('my-namespace', 'vm-client')]);
  expect(Number((await server.execOk('cat /sys/class/net/eth1/mtu')).trim()), 'the NAD mtu').toBe(1300);
  expect((await client.exec('ping -n -c 2 -W 1 192.168.100.10')).code, 'my-namespace/vm-client → kvnet-seed/vm-server').toBe(0);
});
