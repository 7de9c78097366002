// The macvlan CNI with whereabouts IPAM for VMs (seed §8.11's NAD shape): the NIC hangs off the
// node's eth1, the whereabouts address reaches the guest as a DHCP lease, VMs on two nodes get
// distinct addresses from the range (exclude honoured) and reach each other, and a deleted VM's
// address goes back to the range.
import { expect, test } from '@playwright/test';
import { addSecondaryNics } from '../../src/fixtures/secondary.ts';
import { masqueradeVm } from '../../src/kube/vm.ts';
import type { KObject } from '../../src/kube/client.ts';
import { DataPlaneSim, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

const RANGE = ['10.200.5.4', '10.200.5.5'];
let sim: DataPlaneSim;
let a: TestVm;
let b: TestVm;

function nad(namespace: string): KObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'mignet', namespace },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: 'mignet', type: 'macvlan', master: 'eth1', mode: 'bridge', ipam: { type: 'whereabouts', range: '10.200.5.0/24', exclude: ['10.200.5.0/30'] } }) },
  };
}

function vmOn(name: string, node: string): Promise<TestVm> {
  const vm = masqueradeVm({ name, namespace: sim.namespace, node, sshKeySecret: 'ssh-key' });
  addSecondaryNics(vm, [{ name: 'mig', nad: 'mignet', dhcp4: true }]);
  return sim.vmFrom(vm);
}

async function eth1v4(v: TestVm): Promise<string[]> {
  const out = await v.guest.execOk('ip -4 -o addr show dev eth1');
  return [...out.matchAll(/inet (\S+)/g)].map((m) => m[1]);
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  sim = await DataPlaneSim.start('macvlan');
  await sim.kube.create(nad(sim.namespace));
  [a, b] = await Promise.all([vmOn('ma', 'node-1'), vmOn('mb', 'node-2')]);
});

test.afterAll(async () => {
  await sim?.stop();
});

test('VMs on two nodes get distinct whereabouts addresses on the macvlan NIC and reach each other over it', async () => {
  const [ia, ib] = [await eth1v4(a), await eth1v4(b)];
  expect(ia).toHaveLength(1);
  expect(ib).toHaveLength(1);
  expect([ia[0], ib[0]].sort()).toEqual(RANGE.map((ip) => `${ip}/24`));
  const r = await a.guest.exec(`ping -n -c 3 -i 0.2 -W 1 -I eth1 ${ib[0].split('/')[0]}`);
  expect(r.code, r.stdout + r.stderr).toBe(0);
});

test("a deleted VM's address goes back to the range: the next VM gets it", async () => {
  const freed = (await eth1v4(b))[0];
  b.guest.close();
  await sim.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'mb', namespace: sim.namespace } });
  // virt-handler tears the NICs down (CNI DEL) before it lets the VMI go.
  await sim.kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', sim.namespace, 'mb', (x) => x === undefined || undefined, { timeoutMs: 60_000 });
  const c = await vmOn('mc', 'node-2');
  expect(await eth1v4(c)).toEqual([freed]);
});
