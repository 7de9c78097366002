// The kubectl commands, through the real kubectl: server-side dry run never deletes,
// namespaces have no deletecollection, a patch cannot rename, size limits, ObjectMeta validation,
// and malformed parameters are the client's error.
import { test, expect } from '@playwright/test';
import { NO_KUBECTL, type TestSim, hasKubectl, kubectlOn, namespace, scratchFile, startTestSim } from './helpers.ts';

test.skip(!hasKubectl, NO_KUBECTL);

let sim: TestSim;
const NS = 'ik';
test.beforeAll(async () => {
  sim = await startTestSim('integrity-kubectl');
  await sim.objects.create(namespace(NS));
});
test.afterAll(async () => { await sim?.stop(); });

const { k, ok } = kubectlOn(() => sim);
const exists = async (...ref: string[]) => (await k('get', ...ref, '-o', 'name')).code === 0;

test('kubectl delete --dry-run=server deletes nothing (dryRun in the DeleteOptions body)', async () => {
  await ok('-n', NS, 'create', 'cm', 'c', '--from-literal=a=1');
  const out = await ok('-n', NS, 'delete', 'cm', 'c', '--dry-run=server');
  expect(out).toContain('configmap "c" deleted (server dry run)');
  expect(await exists('-n', NS, 'cm', 'c')).toBe(true);
  // The selector form goes through the same DeleteOptions per object.
  await ok('-n', NS, 'delete', 'cm', '--all', '--dry-run=server');
  expect(await exists('-n', NS, 'cm', 'c')).toBe(true);
});

test('kubectl create/apply/patch --dry-run=server store nothing', async () => {
  await ok('-n', NS, 'create', 'cm', 'never', '--from-literal=a=1', '--dry-run=server');
  expect(await exists('-n', NS, 'cm', 'never')).toBe(false);
  await ok('-n', NS, 'create', 'cm', 'stays', '--from-literal=a=1');
  await ok('-n', NS, 'patch', 'cm', 'stays', '--type=merge', '-p', '{"data":{"a":"2"}}', '--dry-run=server');
  expect(await ok('-n', NS, 'get', 'cm', 'stays', '-o', 'jsonpath={.data.a}')).toBe('1');
});

test('DELETE /api/v1/namespaces is not allowed (405), dry run or not', async () => {
  const before = await ok('get', 'ns', '-o', 'name');
  const r = await k('delete', '--raw', '/api/v1/namespaces?dryRun=All');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('MethodNotAllowed');
  expect(await ok('get', 'ns', '-o', 'name')).toBe(before);
});

test('kubectl patch cannot rename: a JSON patch of /metadata/name is a BadRequest, nothing is cloned', async () => {
  await ok('-n', NS, 'create', 'cm', 'orig', '--from-literal=a=1');
  await ok('-n', NS, 'create', 'cm', 'target', '--from-literal=a=target');
  const r = await k('-n', NS, 'patch', 'cm', 'orig', '--type=json', '-p', '[{"op":"replace","path":"/metadata/name","value":"target"}]');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('the name of the object (target) does not match the name on the URL (orig)');
  expect(await ok('-n', NS, 'get', 'cm', 'target', '-o', 'jsonpath={.data.a}')).toBe('target');
  expect(await exists('-n', NS, 'cm', 'orig')).toBe(true);
});

test('size limits: a file over 3 MiB is RequestEntityTooLarge, ConfigMap data over 1 MiB is invalid', async () => {
  const huge = scratchFile(sim, 'huge.txt', 'x'.repeat(3 * 1024 * 1024 + 100));
  const r = await k('-n', NS, 'create', 'cm', 'huge', `--from-file=${huge}`);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('Request entity too large: limit is 3145728');
  const big = scratchFile(sim, 'big.txt', 'x'.repeat(1024 * 1024 + 100));
  const b = await k('-n', NS, 'create', 'cm', 'big', `--from-file=${big}`);
  expect(b.code).toBe(1);
  expect(b.stderr).toContain('ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes');
  expect(await exists('-n', NS, 'cm', 'huge')).toBe(false);
  expect(await exists('-n', NS, 'cm', 'big')).toBe(false);
});

test('namespace names are DNS labels and label values are validated', async () => {
  const long = await k('create', 'ns', 'n'.repeat(64));
  expect(long.code).toBe(1);
  expect(long.stderr).toContain('metadata.name: Invalid value');
  expect(long.stderr).toContain('must be no more than 63 characters');
  const dotted = await k('create', 'ns', 'with.dot');
  expect(dotted.stderr).toContain('The Namespace "with.dot" is invalid: metadata.name: Invalid value: "with.dot": must not contain dots');
  const manifest = scratchFile(sim, 'bad-label.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-label\n  namespace: ${NS}\n  labels:\n    app: "${'v'.repeat(64)}"\n`);
  const l = await k('apply', '-f', manifest);
  expect(l.code).toBe(1);
  expect(l.stderr).toContain('metadata.labels: Invalid value');
  expect(l.stderr).toContain('must be no more than 63 characters');
});

test('a malformed resourceVersion on a watch and a garbage continue token are BadRequests', async () => {
  const w = await k('get', '--raw', `/api/v1/namespaces/${NS}/configmaps?watch=1&resourceVersion=abc`);
  expect(w.code).toBe(1);
  expect(w.stderr).toContain('invalid resource version');
  const c = await k('get', '--raw', `/api/v1/namespaces/${NS}/configmaps?limit=1&continue=garbage`);
  expect(c.code).toBe(1);
  expect(c.stderr).toContain('invalid continue token');
  // kubectl pages with limit and follows continue tokens.
  await ok('create', 'ns', 'ik-pages');
  for (const n of ['p1', 'p2', 'p3']) await ok('-n', 'ik-pages', 'create', 'cm', n);
  expect(await ok('-n', 'ik-pages', 'get', 'cm', '--chunk-size=1', '-o', 'name')).toBe('configmap/p1\nconfigmap/p2\nconfigmap/p3\n');
  const table = await ok('-n', 'ik-pages', 'get', 'cm', '--chunk-size=1', '--no-headers');
  expect(table.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['p1', 'p2', 'p3']);
});
