// The seed's §8.6 manifests with kubectl, in the documented order: policy (8.6.1) → syncStatus →
// SriovNetwork (8.6.2) → net-attach-def → VM (8.6.3). The VM manifest gets SSH keys and a static
// address for the check, and a second copy on the other node to talk to.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import YAML from 'yaml';
import { Guest } from '../../src/guest/guest.ts';
import type { KObject } from '../../src/kube/client.ts';
import { DataPlaneSim } from '../sim/helpers.ts';
import { kubectl } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

const SEED = resolve(import.meta.dirname, '../fixtures/seed');
let sim: DataPlaneSim;
let k: (args: string[]) => Promise<string>;

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('sriov-seed');
  k = async (args) => {
    const r = await kubectl(sim.sim.kubeconfig, args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
});

test.afterAll(async () => {
  await sim?.stop();
});

/** The §8.6.3 VM with the run's key, pinned to `node`, with `cidr` on the SR-IOV NIC. */
function seedVm(name: string, node: string, mac: string, cidr: string): string {
  const vm = YAML.parse(readFileSync(join(SEED, '8.6.3-vm-sriov.yaml'), 'utf8')) as KObject;
  vm.metadata = { ...vm.metadata, name };
  const spec = (vm.spec as { template: { spec: Record<string, unknown> & { domain: { devices: { interfaces: Record<string, unknown>[] } }; volumes: { cloudInitNoCloud?: Record<string, unknown> }[] } } }).template.spec;
  spec.nodeSelector = { 'kubernetes.io/hostname': node };
  spec.domain.devices.interfaces[1].macAddress = mac;
  const ci = spec.volumes.find((v) => v.cloudInitNoCloud)?.cloudInitNoCloud as Record<string, unknown>;
  ci.userData = `${String(ci.userData)}ssh_authorized_keys:\n  - ${sim.keys.publicKey.trim()}\n`;
  ci.networkData = `version: 2\nethernets:\n  eth0:\n    dhcp4: true\n  sriov:\n    match:\n      macaddress: "${mac}"\n    addresses: [ ${cidr} ]\n`;
  const path = join(sim.sim.stateDir, '..', `${name}.yaml`);
  writeFileSync(path, YAML.stringify(vm));
  return path;
}

test('§8.6 seed manifests applied in order give two VMs on different nodes a working SR-IOV link', async () => {
  await k(['apply', '-f', join(SEED, '00-namespaces.yaml')]);
  await k(['create', '-f', join(SEED, '8.6.1-sriov-policy.yaml')]);
  // §8.6.1 step 4, on every SR-IOV node.
  for (const node of ['node-1', 'node-2']) {
    await sim.kube.waitFor(async () => (await k(['get', 'sriovnetworknodestates', '-n', 'openshift-sriov-network-operator', node, '-o', 'jsonpath={.status.syncStatus}'])) === 'Succeeded'
      && (await k(['get', 'node', node, '-o', 'jsonpath={.status.allocatable.openshift\\.io/intel_sriov_vfio}'])) === '8', { what: `${node} synced with 8 VFs`, timeoutMs: 20_000 });
  }
  await k(['create', '-f', join(SEED, '8.6.2-sriov-network.yaml')]);
  await sim.kube.waitFor(async () => (await k(['get', 'net-attach-def', '-n', 'kvnet-seed'])).includes('sriov-network'), { what: 'net-attach-def sriov-network', timeoutMs: 10_000 });
  await k(['apply', '-f', seedVm('example-vm', 'node-1', '02:5e:ed:00:00:01', '10.56.217.21/24')]);
  await k(['apply', '-f', seedVm('example-vm-peer', 'node-2', '02:5e:ed:00:00:02', '10.56.217.22/24')]);
  for (const vm of ['example-vm', 'example-vm-peer']) {
    await sim.kube.waitFor(async () => (await k(['get', 'vmi', vm, '-n', 'kvnet-seed', '-o', 'jsonpath={.status.phase}'])) === 'Running', { what: `${vm} Running`, timeoutMs: 60_000 });
  }
  const guest = await Guest.connect({ kc: sim.kube.kc, namespace: 'kvnet-seed', vmi: 'example-vm', user: 'fedora', privateKey: sim.keys.privateKey, timeoutMs: 30_000 });
  sim.guests.push(guest);
  expect(await guest.execOk('ip -o link show eth1')).toContain('02:5e:ed:00:00:01');
  const r = await guest.exec('ping -c 3 -i 0.2 -W 2 10.56.217.22');
  expect(r.code, `ping over the VLAN 200 VFs: ${r.stdout}${r.stderr}`).toBe(0);
});
