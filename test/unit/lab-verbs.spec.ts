// LabVm verbs on a data-plane sim: create adopts a running VM from the same spec, re-creates on a
// changed spec; edit updates the VirtualMachine; stop, start and restart wait for the phase and reconnect.
import { expect, test } from '@playwright/test';
import { vm } from '../../src/kube/vm-spec.ts';
import { DataPlaneSim } from '../sim/helpers.ts';

test.describe.configure({ mode: 'serial', timeout: 180_000 });
let sim: DataPlaneSim;

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('lab-verbs');
});

test.afterAll(async () => {
  await sim?.stop();
});

const uid = async (v: { vmi(): Promise<{ metadata?: { uid?: string } }> }) => (await v.vmi()).metadata?.uid;

test('create adopts a Running VM of the same spec; a changed spec is re-created', async () => {
  const a = await sim.scope.create(vm('adopt'));
  const first = await uid(a);
  expect((await a.os.runOk(['hostname'])).trim()).toBe('adopt');
  const again = await sim.scope.create(vm('adopt'));
  expect(await uid(again), 'adopted: same VMI').toBe(first);
  expect((await again.os.runOk(['echo', 'ok'])).trim()).toBe('ok');
  const changed = await sim.scope.create(vm('adopt').pod({ ports: [80] }));
  expect(await uid(changed), 'changed spec: a new VMI').not.toBe(first);
  expect((await changed.vmObject()).spec).toMatchObject({ template: { spec: { domain: { devices: { interfaces: [{ name: 'default', ports: [{ port: 80 }] }] } } } } });
});

test('edit, stop, start, restart', async () => {
  const v = await sim.scope.create(vm('verbs'));
  await v.edit((s) => s.labels({ role: 'web' }));
  expect((await v.vmObject()).metadata?.labels?.role).toBe('web');
  expect(v.spec.build({ namespace: 'x', sshKeySecret: 'k', image: 'i' }).metadata?.labels).toEqual({ role: 'web' });
  const before = await uid(v);
  await v.restart();
  expect(await uid(v), 'restart: a new VMI').not.toBe(before);
  expect((await v.os.runOk(['echo', 'back'])).trim()).toBe('back');
  await v.stop();
  await expect(v.vmi()).rejects.toThrow(/does not exist/);
  expect(() => v.guest).toThrow(/no SSH session/);
  await v.start();
  expect((await v.os.runOk(['echo', 'up'])).trim()).toBe('up');
  expect(v.node).not.toBe('');
  expect(v.podIPv4).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
});
