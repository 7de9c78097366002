// Write semantics through the real kubectl: stale replace, patch types, server-side apply,
// --subresource=status, generateName, finalizers, GC, namespace deletion, missing namespace, delete -l.
import { test, expect } from '@playwright/test';
import YAML from 'yaml';
import type { KObject } from '../../src/sim/api/types.ts';
import { NO_KUBECTL, type TestSim, eventually, hasKubectl, kubectlOn, namespace, scratchFile, startTestSim, vm } from './helpers.ts';

test.skip(!hasKubectl, NO_KUBECTL);

let sim: TestSim;
const NS = 'wk';
test.beforeAll(async () => {
  sim = await startTestSim('writes-kubectl');
  await sim.objects.create(namespace(NS));
});
test.afterAll(async () => { await sim?.stop(); });

const { k, ok } = kubectlOn(() => sim);
const json = async (...args: string[]) => JSON.parse(await ok(...args, '-o', 'json')) as KObject;
const manifest = (name: string, o: object) => scratchFile(sim, `${name}.yaml`, YAML.stringify(o));
const svc = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
});
const notFound = async (...args: string[]) => {
  const r = await k(...args);
  return r.code === 1 && /NotFound|not found/.test(r.stderr);
};

test('kubectl replace with a stale resourceVersion → Conflict', async () => {
  await ok('create', 'configmap', 'occ', '-n', NS, '--from-literal=a=1');
  const stale = await json('get', 'cm', 'occ', '-n', NS);
  await ok('patch', 'cm', 'occ', '-n', NS, '--type=merge', '-p', '{"data":{"a":"2"}}');
  const r = await k('replace', '-f', manifest('occ', { ...stale, data: { a: '3' } }));
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('Conflict');
  expect(r.stderr).toContain('the object has been modified');
  expect((await json('get', 'cm', 'occ', '-n', NS)).data).toEqual({ a: '2' });
});

test('kubectl patch --type=json / merge / strategic on a Service', async () => {
  await ok('apply', '-f', manifest('s-patch', svc('s-patch')));
  await ok('patch', 'svc', 's-patch', '-n', NS, '--type=json', '-p', '[{"op":"add","path":"/metadata/labels","value":{"via":"json"}}]');
  expect((await json('get', 'svc', 's-patch', '-n', NS)).metadata.labels).toEqual({ via: 'json' });
  // Strategic (kubectl's default for built-in kinds): ports merge by port.
  await ok('patch', 'svc', 's-patch', '-n', NS, '-p', '{"spec":{"ports":[{"name":"https","port":443,"targetPort":8443,"protocol":"TCP"}]}}');
  const smp = await json('get', 'svc', 's-patch', '-n', NS);
  expect((smp.spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toEqual([80, 443]);
  // Merge patch replaces the whole list.
  await ok('patch', 'svc', 's-patch', '-n', NS, '--type=merge', '-p', '{"spec":{"ports":[{"name":"dns","port":53,"protocol":"UDP"}]}}');
  const merged = await json('get', 'svc', 's-patch', '-n', NS);
  expect((merged.spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toEqual([53]);
  // A custom resource takes merge but not strategic.
  await sim.objects.create(vm('vm-patch', NS));
  const bad = await k('patch', 'vm', 'vm-patch', '-n', NS, '--type=strategic', '-p', '{"metadata":{"labels":{"a":"b"}}}');
  expect(bad.code).toBe(1);
  await ok('patch', 'vm', 'vm-patch', '-n', NS, '--type=merge', '-p', '{"metadata":{"labels":{"a":"b"}}}');
  expect((await json('get', 'vm', 'vm-patch', '-n', NS)).metadata.labels).toEqual({ a: 'b' });
});

test('kubectl apply --server-side creates and updates', async () => {
  const base = { ...svc('s-ssa'), metadata: { name: 's-ssa', namespace: NS, labels: { one: '1', two: '2' } } };
  const created = await ok('apply', '--server-side', '-f', manifest('s-ssa', base));
  expect(created.trim()).toBe('service/s-ssa serverside-applied');
  const first = await json('get', 'svc', 's-ssa', '-n', NS, '--show-managed-fields');
  expect(first.metadata.managedFields?.map((m) => (m as { manager: string }).manager)).toContain('kubectl');
  const updated = await ok('apply', '--server-side', '-f', manifest('s-ssa', { ...base, metadata: { ...base.metadata, labels: { one: '1b' } } }));
  expect(updated.trim()).toBe('service/s-ssa serverside-applied');
  const second = await json('get', 'svc', 's-ssa', '-n', NS);
  expect(second.metadata.uid).toBe(first.metadata.uid);
  expect(second.metadata.labels).toEqual({ one: '1b' });
  // And for a custom resource.
  const out = await ok('apply', '--server-side', '-f', manifest('vm-ssa', vm('vm-ssa', NS, { ssa: 'yes-1' })));
  expect(out.trim()).toBe('virtualmachine.kubevirt.io/vm-ssa serverside-applied');
});

test('kubectl patch --subresource=status changes only status; the main resource ignores status', async () => {
  await sim.objects.create(vm('vm-status', NS));
  await ok('patch', 'vm', 'vm-status', '-n', NS, '--type=merge', '-p', '{"metadata":{"labels":{"via":"main"}},"status":{"printableStatus":"FromMain"}}');
  const main = await json('get', 'vm', 'vm-status', '-n', NS);
  expect(main.metadata.labels).toEqual({ via: 'main' });
  expect(main.status).toBeUndefined();
  await ok('patch', 'vm', 'vm-status', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"metadata":{"labels":{"via":"status"}},"spec":{"runStrategy":"Always"},"status":{"printableStatus":"Stopped"}}');
  const st = await json('get', 'vm', 'vm-status', '-n', NS);
  expect(st.status).toEqual({ printableStatus: 'Stopped' });
  expect(st.metadata.labels).toEqual({ via: 'main' });
  expect((st.spec as { runStrategy: string }).runStrategy).toBe('Halted');
  const printed = await ok('get', 'vm', 'vm-status', '-n', NS, '--no-headers');
  expect(printed).toContain('Stopped');
});

test('kubectl create with generateName', async () => {
  const file = manifest('gen', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-', namespace: NS }, data: {} });
  const a = await ok('create', '-f', file);
  const b = await ok('create', '-f', file);
  expect(a.trim()).toMatch(/^configmap\/gen-[a-z0-9]{5} created$/);
  expect(b.trim()).toMatch(/^configmap\/gen-[a-z0-9]{5} created$/);
  expect(a).not.toBe(b);
});

test('kubectl delete of an object with a finalizer leaves it with deletionTimestamp; removing the finalizer deletes it', async () => {
  await ok('apply', '-f', manifest('held', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: NS, finalizers: ['kvnet.io/hold'] }, data: {} }));
  await ok('delete', 'cm', 'held', '-n', NS, '--wait=false');
  const held = await json('get', 'cm', 'held', '-n', NS);
  expect(held.metadata.deletionTimestamp).toBeTruthy();
  await ok('patch', 'cm', 'held', '-n', NS, '--type=merge', '-p', '{"metadata":{"finalizers":null}}');
  expect(await notFound('get', 'cm', 'held', '-n', NS)).toBe(true);
});

test('kubectl delete of an owner garbage-collects the dependent', async () => {
  await ok('create', 'configmap', 'owner', '-n', NS);
  const owner = await json('get', 'cm', 'owner', '-n', NS);
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid };
  await ok('create', '-f', manifest('dep', { ...vm('vm-dep', NS), metadata: { name: 'vm-dep', namespace: NS, ownerReferences: [ref] } }));
  await ok('delete', 'cm', 'owner', '-n', NS);
  await eventually(() => notFound('get', 'vm', 'vm-dep', '-n', NS), 10_000, 'the dependent VM to go');
});

test('kubectl delete namespace removes the objects in it', async () => {
  await ok('create', 'namespace', 'doomed');
  await ok('create', 'configmap', 'c1', '-n', 'doomed');
  await ok('create', '-f', manifest('doomed-vm', vm('v1', 'doomed')));
  // kubectl waits for the namespace to be finalized by default.
  const out = await ok('delete', 'namespace', 'doomed', '--timeout=20s');
  expect(out.trim()).toBe('namespace "doomed" deleted');
  expect(await notFound('get', 'namespace', 'doomed')).toBe(true);
  const left = await ok('get', 'vm,cm', '-n', 'doomed', '-o', 'name');
  expect(left.trim()).toBe('');
});

test('kubectl create in a missing namespace → NotFound', async () => {
  const r = await k('create', 'configmap', 'x', '-n', 'no-such-ns');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('namespaces "no-such-ns" not found');
});

test('kubectl delete -l deletes only the matches', async () => {
  for (let i = 0; i < 4; i++) await sim.objects.create(vm(`bvm-${i}`, NS, { batch: i % 2 ? 'odd' : 'even' }));
  const out = await ok('delete', 'vm', '-n', NS, '-l', 'batch=even');
  expect(out.trim().split('\n').sort()).toEqual(['virtualmachine.kubevirt.io "bvm-0" deleted', 'virtualmachine.kubevirt.io "bvm-2" deleted']);
  const left = await ok('get', 'vm', '-n', NS, '-l', 'batch', '-o', 'name');
  expect(left.trim().split('\n').sort()).toEqual(['virtualmachine.kubevirt.io/bvm-1', 'virtualmachine.kubevirt.io/bvm-3']);
});
