// The API server's Service allocators (control plane only): families and their order, requested and
// conflicting cluster IPs and node ports, RequireDualStack on a single-stack cluster, release on delete,
// EndpointSlices and MetalLB — through client-node and kubectl, as a user sees them.
import { expect, test } from '@playwright/test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type TestSim, NO_KUBECTL, eventually, expectApiError, hasKubectl, kubectl, scratchFile, startTestSim } from '../api/helpers.ts';

let dual: TestSim;
let single: TestSim;

test.beforeAll(async () => {
  [dual, single] = await Promise.all([startTestSim('svc-alloc-dual'), startTestSim('svc-alloc-single', { dualStack: false })]);
  for (const s of [dual, single]) await s.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'alloc' } } as KubernetesObject);
});
test.afterAll(async () => {
  await Promise.all([dual?.stop(), single?.stop()]);
});

interface Spec { clusterIP?: string; clusterIPs?: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string; ports?: { nodePort?: number }[] }
const svc = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'alloc' }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec } }) as KubernetesObject & { metadata: { name: string; namespace: string } };
const create = async (sim: TestSim, name: string, spec: Record<string, unknown>) => ((await sim.objects.create(svc(name, spec))) as unknown as { spec: Spec }).spec;
const fam = (ip: string) => (ip.includes(':') ? 'IPv6' : 'IPv4');

test('ClusterIP: SingleStack defaults to IPv4 from 172.30.0.0/16', async () => {
  const s = await create(dual, 'plain', {});
  expect(s.ipFamilies).toEqual(['IPv4']);
  expect(s.ipFamilyPolicy).toBe('SingleStack');
  expect(s.clusterIP).toMatch(/^172\.30\.\d+\.\d+$/);
  expect(s.clusterIPs).toEqual([s.clusterIP]);
});

for (const families of [['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']]) {
  test(`ipFamilies [${families.join(', ')}] gets cluster IPs of those families in that order`, async () => {
    const s = await create(dual, `fam-${families.join('-').toLowerCase()}`, { ipFamilies: families, ipFamilyPolicy: families.length === 2 ? 'RequireDualStack' : 'SingleStack' });
    expect(s.ipFamilies).toEqual(families);
    expect(s.clusterIPs?.map(fam)).toEqual(families);
    for (const ip of s.clusterIPs ?? []) expect(ip).toMatch(ip.includes(':') ? /^fd02::[0-9a-f]+$/ : /^172\.30\./);
  });
}

test('PreferDualStack gets both families on a dual-stack cluster and IPv4 alone on a single-stack one', async () => {
  expect((await create(dual, 'prefer', { ipFamilyPolicy: 'PreferDualStack' })).clusterIPs?.map(fam)).toEqual(['IPv4', 'IPv6']);
  expect((await create(single, 'prefer', { ipFamilyPolicy: 'PreferDualStack' })).clusterIPs?.map(fam)).toEqual(['IPv4']);
});

test('RequireDualStack on a single-stack cluster: 422 on spec.ipFamilyPolicy (client-node)', async () => {
  const err = await expectApiError(single.objects.create(svc('require', { ipFamilyPolicy: 'RequireDualStack' })));
  expect(err.code).toBe(422);
  expect(err.status.details?.causes?.map((c) => c.field)).toContain('spec.ipFamilyPolicy');
});

test('RequireDualStack on a single-stack cluster: kubectl create is refused', async () => {
  test.skip(!hasKubectl, NO_KUBECTL);
  const file = scratchFile(single, 'require.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: require2, namespace: alloc}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  selector: {app: x}\n  ports: [{port: 80}]\n');
  const r = await kubectl(single, ['create', '-f', file]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('spec.ipFamilyPolicy');
});

test('a requested cluster IP is honoured; taken or out of range is a 422 on spec.clusterIPs[0]', async () => {
  expect((await create(dual, 'want-ip', { clusterIP: '172.30.99.99' })).clusterIPs).toEqual(['172.30.99.99']);
  const taken = await expectApiError(dual.objects.create(svc('want-ip-2', { clusterIP: '172.30.99.99' })));
  expect(taken.code).toBe(422);
  expect(taken.status.details?.causes?.[0]).toMatchObject({ field: 'spec.clusterIPs[0]' });
  expect(taken.status.message).toContain('already allocated');
  const outside = await expectApiError(dual.objects.create(svc('want-ip-3', { clusterIP: '10.0.0.5' })));
  expect(outside.status.message).toContain('not in the valid range');
});

test('172.30.0.10 is never handed out dynamically: it is the cluster DNS address', async () => {
  const ips = await Promise.all(Array.from({ length: 40 }, (_, i) => create(dual, `many-${i}`, {}).then((s) => s.clusterIP)));
  expect(ips).not.toContain('172.30.0.10');
  expect(new Set(ips).size).toBe(ips.length);
});

test('a deleted Service releases its cluster IP and node port', async () => {
  await create(dual, 'release', { type: 'NodePort', clusterIP: '172.30.88.88', ports: [{ port: 80, nodePort: 31888 }] });
  await dual.objects.delete(svc('release', {}));
  const again = await create(dual, 'release-again', { type: 'NodePort', clusterIP: '172.30.88.88', ports: [{ port: 80, nodePort: 31888 }] });
  expect(again.clusterIP).toBe('172.30.88.88');
  expect(again.ports?.[0].nodePort).toBe(31888);
});

test('NodePort: allocated from 30000-32767, a requested one honoured, a taken one a 422 on spec.ports[i].nodePort', async () => {
  const auto = await create(dual, 'np-auto', { type: 'NodePort' });
  expect(auto.ports?.[0].nodePort).toBeGreaterThanOrEqual(30000);
  expect(auto.ports?.[0].nodePort).toBeLessThanOrEqual(32767);
  expect((await create(dual, 'np-want', { type: 'NodePort', ports: [{ port: 80, nodePort: 30500 }] })).ports?.[0].nodePort).toBe(30500);
  const err = await expectApiError(dual.objects.create(svc('np-clash', { type: 'NodePort', ports: [{ name: 'a', port: 81 }, { name: 'b', port: 80, nodePort: 30500 }] })));
  expect(err.code).toBe(422);
  expect(err.status.details?.causes?.map((c) => c.field)).toEqual(['spec.ports[1].nodePort']);
});

test('NodePort conflict through kubectl names spec.ports[0].nodePort', async () => {
  test.skip(!hasKubectl, NO_KUBECTL);
  await create(dual, 'np-kubectl', { type: 'NodePort', ports: [{ port: 80, nodePort: 30600 }] });
  const file = scratchFile(dual, 'np.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: np-kubectl-2, namespace: alloc}\nspec:\n  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80, nodePort: 30600}]\n');
  const r = await kubectl(dual, ['create', '-f', file]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('spec.ports[0].nodePort: Invalid value: 30600: provided port is already allocated');
});

test('an update keeps the allocated cluster IPs and node ports', async () => {
  const first = await create(dual, 'keep', { type: 'NodePort' });
  const r = await kubectl(dual, ['label', 'service', 'keep', '-n', 'alloc', 'touched=yes']);
  test.skip(r.code === null, NO_KUBECTL);
  const after = ((await dual.objects.read(svc('keep', {}))) as { spec: Spec }).spec;
  expect(after.clusterIPs).toEqual(first.clusterIPs);
  expect(after.ports?.[0].nodePort).toBe(first.ports?.[0].nodePort);
});

test('headless (clusterIP: None) gets no address; a LoadBalancer gets an ingress IP from the MetalLB pool', async () => {
  expect((await create(dual, 'headless', { clusterIP: 'None' })).clusterIPs).toEqual(['None']);
  await create(dual, 'lb', { type: 'LoadBalancer' });
  const ingress = await eventually(async () => ((await dual.objects.read(svc('lb', {}))) as { status?: { loadBalancer?: { ingress?: { ip: string }[] } } }).status?.loadBalancer?.ingress?.[0]?.ip, 5000, 'LB ingress');
  expect(ingress).toMatch(/^127\.\d+\.\d+\.2\d\d$/);
});

test('nodes report an ExternalIP on host loopback beside their InternalIP', async () => {
  const nodes = (await dual.objects.list('v1', 'Node')).items as { status?: { addresses?: { type: string; address: string }[] } }[];
  for (const n of nodes) {
    const types = (n.status?.addresses ?? []).map((a) => a.type);
    expect(types).toEqual(['InternalIP', 'ExternalIP', 'Hostname']);
    expect(n.status?.addresses?.[1].address).toMatch(/^127\./);
  }
});
