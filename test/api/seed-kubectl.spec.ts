// The seed manifests through `kubectl apply -f <dir>`: created, server-set metadata present,
// unchanged on re-apply, configured when edited; `kubectl create` twice is AlreadyExists.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import YAML from 'yaml';
import { kindOf } from '../../src/sim/api/kinds.ts';
import type { KObject } from '../../src/sim/api/types.ts';
import { NO_KUBECTL, SEED_DIR, type TestSim, hasKubectl, kubectl, loadObjects, scratchFile, startTestSim, yamlFiles } from './helpers.ts';

test.skip(!hasKubectl, NO_KUBECTL);

let sim: TestSim;
test.beforeAll(async () => { sim = await startTestSim('seed-kubectl'); });
test.afterAll(async () => { await sim?.stop(); });

const docs = yamlFiles(SEED_DIR).flatMap((f) => loadObjects(join(SEED_DIR, f)).map((o) => ({ file: f, o })));
const key = (o: KObject) => `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;
/** How many seed documents define each object (files that edit one object again, as the README says). */
const definitions = new Map<string, number>();
for (const { o } of docs) definitions.set(key(o), (definitions.get(key(o)) ?? 0) + 1);

/** `<kind lowercased>.<group>/<name>`, as kubectl names objects in apply output. */
function resourceName(o: KObject): string {
  const k = kindOf(o.apiVersion, o.kind);
  if (!k) throw new Error(`unknown kind ${o.apiVersion} ${o.kind}`);
  return `${k.kind.toLowerCase()}${k.group ? `.${k.group}` : ''}/${o.metadata.name}`;
}
function kubectlRef(o: KObject): string[] {
  const k = kindOf(o.apiVersion, o.kind);
  if (!k) throw new Error(`unknown kind ${o.apiVersion} ${o.kind}`);
  return [`${k.plural}${k.group ? `.${k.group}` : ''}`, o.metadata.name as string, ...(k.namespaced ? ['-n', o.metadata.namespace ?? 'default'] : [])];
}
/** Output lines of `kubectl apply`, one per document, as [name, verb]. */
function applyLines(stdout: string): [string, string][] {
  return stdout.trim().split('\n').map((l) => l.trim().split(/\s+/) as [string, string]);
}

test.describe.configure({ mode: 'serial' });

test('kubectl apply -f seed/ creates every document in file-name order', async () => {
  const r = await kubectl(sim, ['apply', '-f', `${SEED_DIR}/`]);
  expect(r.code, r.stderr).toBe(0);
  const lines = applyLines(r.stdout);
  expect(lines.map((l) => l[0])).toEqual(docs.map(({ o }) => resourceName(o)));
  const seen = new Set<string>();
  lines.forEach(([name, verb], i) => {
    const k = key(docs[i].o);
    // The sim ships a HyperConverged, as an install does; everything else is new on first sight.
    const preexisting = seen.has(k) || docs[i].o.kind === 'HyperConverged';
    expect(verb, `${docs[i].file}: ${name}`).toBe(preexisting ? 'configured' : 'created');
    seen.add(k);
  });
});

test('kubectl get -o yaml returns each object with server-set metadata', async () => {
  const unique = [...new Map(docs.map(({ o }) => [key(o), o])).values()];
  // Few at a time: each kubectl is a process of its own.
  for (let i = 0; i < unique.length; i += 16) {
    await Promise.all(unique.slice(i, i + 16).map(async (o) => {
      const r = await kubectl(sim, ['get', ...kubectlRef(o), '-o', 'yaml']);
      expect(r.code, r.stderr).toBe(0);
      const got = YAML.parse(r.stdout) as KObject;
      expect(got.kind).toBe(o.kind);
      expect(got.metadata.name).toBe(o.metadata.name);
      expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number(got.metadata.resourceVersion)).toBeGreaterThan(0);
      expect(got.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(got.metadata.generation).toBeGreaterThanOrEqual(1);
      expect(got.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBeTruthy();
    }));
  }
});

type Iface = { name: string; macAddress?: string };
const ifacesOf = (o: KObject | undefined): Iface[] => ((o?.spec as { template?: { spec?: { domain?: { devices?: { interfaces?: Iface[] } } } } } | undefined)?.template?.spec?.domain?.devices?.interfaces ?? []);

/**
 * KubeMacPool wrote MACs the manifest does not have: kubectl's JSON merge patch for a CRD sends the
 * whole interface list again, so the re-apply is "configured", and the webhook puts the MACs back.
 */
async function macsFilled(o: KObject): Promise<Iface[] | undefined> {
  if (o.kind !== 'VirtualMachine') return undefined;
  const live = JSON.parse((await kubectl(sim, ['get', ...kubectlRef(o), '-o', 'json'])).stdout || '{}') as KObject;
  const asked = new Map(ifacesOf(o).map((i) => [i.name, i.macAddress]));
  const got = ifacesOf(live);
  return got.some((i) => i.macAddress && !asked.get(i.name)) ? got : undefined;
}

test('re-applying unchanged manifests reports "unchanged"', async () => {
  const filled = await Promise.all(docs.map(({ o }) => macsFilled(o)));
  const r = await kubectl(sim, ['apply', '-f', `${SEED_DIR}/`]);
  expect(r.code, r.stderr).toBe(0);
  const lines = applyLines(r.stdout);
  for (const [i, [name, verb]] of lines.entries()) {
    const k = key(docs[i].o);
    const macs = filled[i];
    if (macs && (definitions.get(k) ?? 0) === 1) {
      expect(['configured', 'unchanged']).toContain(verb);
      expect(ifacesOf(JSON.parse((await kubectl(sim, ['get', ...kubectlRef(docs[i].o), '-o', 'json'])).stdout) as KObject), `${docs[i].file}: ${name} keeps its pool MACs`).toEqual(macs);
    } else if ((definitions.get(k) ?? 0) === 1) expect(verb, `${docs[i].file}: ${name}`).toBe('unchanged');
    // An object that several files edit flips between their versions; the rest must not change.
    else expect(['configured', 'unchanged']).toContain(verb);
  }
  const last = yamlFiles(SEED_DIR).at(-1) as string;
  const again = await kubectl(sim, ['apply', '-f', join(SEED_DIR, last)]);
  expect(again.code, again.stderr).toBe(0);
  for (const [name, verb] of applyLines(again.stdout)) expect(verb, name).toBe('unchanged');
});

test('a changed copy (one label edited) reports "configured" and lands', async () => {
  const src = docs.find(({ o }) => o.kind === 'VirtualMachine' && definitions.get(key(o)) === 1);
  expect(src).toBeTruthy();
  const o = structuredClone(src?.o as KObject);
  o.metadata.labels = { ...o.metadata.labels, 'kvnet.io/edited': 'label-1' };
  // The copy keeps the MACs KubeMacPool gave (as `kubectl get -o yaml` shows them), so only the label differs.
  const live = new Map(ifacesOf(JSON.parse((await kubectl(sim, ['get', ...kubectlRef(o), '-o', 'json'])).stdout) as KObject).map((i) => [i.name, i.macAddress]));
  for (const i of ifacesOf(o)) if (live.get(i.name)) i.macAddress = live.get(i.name);
  const file = scratchFile(sim, 'edited.yaml', YAML.stringify(o));
  const r = await kubectl(sim, ['apply', '-f', file]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe(`${resourceName(o)} configured`);
  const got = await kubectl(sim, ['get', ...kubectlRef(o), '-o', 'jsonpath={.metadata.labels.kvnet\\.io/edited}']);
  expect(got.stdout).toBe('label-1');
  const same = await kubectl(sim, ['apply', '-f', file]);
  expect(same.stdout.trim()).toBe(`${resourceName(o)} unchanged`);
});

test('kubectl create twice → AlreadyExists, exit code 1', async () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'created-twice', namespace: 'default' }, data: { a: '1' } };
  const file = scratchFile(sim, 'created-twice.yaml', YAML.stringify(cm));
  const first = await kubectl(sim, ['create', '-f', file]);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout.trim()).toBe('configmap/created-twice created');
  const second = await kubectl(sim, ['create', '-f', file]);
  expect(second.code).toBe(1);
  expect(second.stderr).toContain('AlreadyExists');
  expect(second.stderr).toContain('already exists');
  // And a seed VM, a custom resource.
  const vmFile = join(SEED_DIR, '8.2.1-masquerade-vm.yaml');
  const vm = await kubectl(sim, ['create', '-f', vmFile]);
  expect(vm.code).toBe(1);
  expect(vm.stderr).toMatch(/AlreadyExists.*already exists/);
});
