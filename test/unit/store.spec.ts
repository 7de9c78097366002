// The API store serves reads from cached JSON: every write must show in the next read, and lists
// come in key order (namespace, then name, bytewise) as etcd returns a range.
import { expect, test } from '@playwright/test';
import { kindOf, type Kind } from '../../src/sim/api/kinds.ts';
import { Registry } from '../../src/sim/api/registry.ts';
import type { KObject } from '../../src/sim/api/types.ts';

const NS = kindOf('v1', 'Namespace') as Kind;
const CM = kindOf('v1', 'ConfigMap') as Kind;
const cm = (name: string, value: string): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value } });
const parse = (b: Buffer) => JSON.parse(b.toString()) as KObject & { data: { value: string } };

function registry(): Registry {
  const r = new Registry();
  for (const n of ['b', 'a', 'a-x']) r.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
  return r;
}

test('a cached encoding never outlives a write: update, patch and delete all show', () => {
  const r = registry();
  r.create(CM, 'a', cm('one', 'v1'));
  expect(parse(r.store.json(r.getShared(CM, 'a', 'one'))).data.value).toBe('v1');
  r.update(CM, 'a', 'one', { ...r.get(CM, 'a', 'one'), data: { value: 'v2' } });
  expect(parse(r.store.json(r.getShared(CM, 'a', 'one'))).data.value).toBe('v2');
  r.patch(CM, 'a', 'one', 'merge', { data: { value: 'v3' } });
  const shared = r.getShared(CM, 'a', 'one');
  expect(parse(r.store.json(shared)).data.value).toBe('v3');
  expect(parse(r.store.json(shared)).metadata.resourceVersion).toBe(shared.metadata.resourceVersion);
  r.delete(CM, 'a', 'one');
  expect(() => r.getShared(CM, 'a', 'one')).toThrow(/not found/);
});

test('server-side apply records its manager in the same write: one event, and the read shows it', () => {
  const r = registry();
  const events: string[] = [];
  r.store.subscribe((e) => { if (e.kind === CM) events.push(e.type); });
  r.patch(CM, 'a', 'applied', 'apply', cm('applied', 'x'), { fieldManager: 'kubectl' });
  expect(events).toEqual(['ADDED']);
  const managers = (parse(r.store.json(r.getShared(CM, 'a', 'applied'))).metadata.managedFields ?? []) as { manager: string; operation: string }[];
  expect(managers.map((m) => `${m.manager}/${m.operation}`)).toEqual(['kubectl/Apply']);
  const rv = r.getShared(CM, 'a', 'applied').metadata.resourceVersion;
  r.patch(CM, 'a', 'applied', 'apply', cm('applied', 'x'), { fieldManager: 'kubectl' });
  expect(r.getShared(CM, 'a', 'applied').metadata.resourceVersion).toBe(rv); // unchanged: no write
  r.patch(CM, 'a', 'applied', 'apply', cm('applied', 'x'), { fieldManager: 'other' });
  expect(events).toEqual(['ADDED', 'MODIFIED']); // a new manager is a change
});

test('lists come in key order: namespace then name, bytewise, across writes that add and remove', () => {
  const r = registry();
  for (const [ns, name] of [['b', 'z'], ['a', 'm'], ['a-x', 'q'], ['a', 'b-2'], ['a', 'b10'], ['a', 'b.1']]) r.create(CM, ns, cm(name, ns));
  const keys = () => r.listShared(CM, undefined).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  // etcd's order of `<ns>/<name>`: '-' < '.' < '/' < digits < letters
  expect(keys()).toEqual(['a-x/q', 'a/b-2', 'a/b.1', 'a/b10', 'a/m', 'b/z']);
  r.delete(CM, 'a', 'b10');
  r.create(CM, 'a', cm('c', 'a'));
  expect(keys()).toEqual(['a-x/q', 'a/b-2', 'a/b.1', 'a/c', 'a/m', 'b/z']);
  expect(r.listShared(CM, 'a').items.map((o) => o.metadata.name)).toEqual(['b-2', 'b.1', 'c', 'm']);
  expect(r.listShared(CM, 'a', { labelSelector: 'missing' }).items).toEqual([]);
});

test('controllers get the same integrity as HTTP clients: no rename by patch, no uid change, dry-run deletecollection', () => {
  const r = registry();
  const one = r.create(CM, 'a', cm('one', 'v1'));
  const two = r.create(CM, 'a', cm('two', 'v2'));
  const events: string[] = [];
  r.store.subscribe((e) => events.push(`${e.type} ${e.object.metadata.name}`));
  expect(() => r.patch(CM, 'a', 'one', 'json', [{ op: 'replace', path: '/metadata/name', value: 'two' }])).toThrow(/does not match the name on the URL/);
  expect(() => r.patch(CM, 'a', 'one', 'merge', { metadata: { uid: 'x' } })).toThrow(/metadata.uid: Invalid value: "x": field is immutable/);
  expect(() => r.update(CM, 'a', 'one', { ...r.get(CM, 'a', 'one'), metadata: { ...r.get(CM, 'a', 'one').metadata, uid: 'x' } })).toThrow(/Precondition failed: UID in precondition: x/);
  expect(r.deleteCollection(CM, 'a', { dryRun: true }).length).toBe(2);
  expect(events).toEqual([]);
  expect(r.get(CM, 'a', 'two').metadata.uid).toBe(two.metadata.uid);
  expect(r.get(CM, 'a', 'one').metadata.resourceVersion).toBe(one.metadata.resourceVersion);
});
