// §8.3 Exposing a virtual machine by using a service: ClusterIP, NodePort, LoadBalancer, dual-stack.
import { test, expect } from '../src/fixtures/test.ts';
import type { Lab, LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability, measured, threshold } from '../src/fixtures/annotate.ts';
import { attachBars, recordMetric } from '../src/report/allure.ts';
import { internalIP, nodeAddresses, readyEndpoints, serviceManifest, viewService, type IpFamily, type ServiceOptions, type ServiceView } from '../src/kube/service.ts';
import type { KObject } from '../src/kube/client.ts';
import { ratio, startTcpResponder, tcpRequests, tcpRequestsFromHarness, tcpThroughput, type RequestsResult } from '../src/probes/index.ts';

const TARGET_PORT = 9376; // the seed's §8.3.3 targetPort
const IPERF_PORT = 5201;

let lab: Lab;
let scope: Scope;
let client: LabVm; // node A, calls the Services; never a backend (no self-hairpin)
let web1: LabVm; //   node A, special: key + drop: me
let web2: LabVm; //   node B, special: key (and the single backend of `one`)
let web3: LabVm; //   node B, drop: me (stopped by the last test)
/** Stop functions of the web VMs' responders, by VM name. */
const responders = new Map<string, () => Promise<void>>();
let dualStack: boolean;
let nodes: string[];
const svc: Record<string, ServiceView> = {};

async function createService(o: Omit<ServiceOptions, 'namespace'>): Promise<ServiceView> {
  await lab.kube.create(serviceManifest({ ...o, namespace: scope.namespace }));
  return viewService(await lab.kube.get<KObject>('v1', 'Service', scope.namespace, o.name) as KObject);
}

/** `count` ready VMs, each listed once per IP family of the Service. */
async function waitForEndpoints(name: string, count: number, families = dualStack ? 2 : 1): Promise<void> {
  await lab.kube.waitFor(async () => (await readyEndpoints(lab.kube, scope.namespace, name)).length >= count * families, { what: `Service ${name}: ${count} ready endpoints`, timeoutMs: 30_000 });
}

/** Rules follow endpoints asynchronously on any cluster: wait until a first request goes through. */
async function waitReachable(host: string, port: number): Promise<void> {
  await lab.kube.waitFor(async () => (await tcpRequests(client.guest, host, port, { count: 1, timeoutMs: 1000 })).failures === 0, { what: `a reply through ${host}:${port}`, timeoutMs: 15_000, intervalMs: 200 });
}

const bracket = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

test.beforeAll(async ({ lab: l }) => {
  lab = l;
  const facts = await lab.facts();
  dualStack = facts.dualStack;
  nodes = facts.schedulableNodes;
  scope = await lab.scope('services');
  const [a, b] = [nodes[0], nodes[1] ?? nodes[0]];
  [client, web1, web2, web3] = await Promise.all([
    scope.vm({ name: 'client', node: a, ipv6: dualStack }),
    scope.vm({ name: 'web-1', node: a, ipv6: dualStack, templateLabels: { special: 'key', drop: 'me' } }),
    scope.vm({ name: 'web-2', node: b, ipv6: dualStack, templateLabels: { special: 'key' } }),
    scope.vm({ name: 'web-3', node: b, ipv6: dualStack, templateLabels: { drop: 'me' } }),
  ]);
  await Promise.all([web1, web2, web3].map(async (v) => {
    const stop = await startTcpResponder(v.guest, TARGET_PORT, v.name);
    responders.set(v.name, stop);
    scope.defer(stop);
  }));
  const policy = dualStack ? { ipFamilyPolicy: 'PreferDualStack' as const } : {};
  const ports = [{ port: 80, targetPort: TARGET_PORT }];
  const made = await Promise.all([
    createService({ name: 'by-clusterip', type: 'ClusterIP', selector: { special: 'key' }, ports, ...policy }),
    createService({ name: 'by-nodeport', type: 'NodePort', selector: { special: 'key' }, ports, ...policy }),
    createService({ name: 'by-loadbalancer', type: 'LoadBalancer', selector: { special: 'key' }, ports, ...policy }),
    // One backend, every type at once: the latency and throughput comparisons are against this VM's pod IP.
    createService({ name: 'one', type: 'LoadBalancer', selector: { 'kubevirt.io/vm': 'web-2' }, ports: [{ name: 'http', port: 80, targetPort: TARGET_PORT }, { name: 'iperf', port: IPERF_PORT, targetPort: IPERF_PORT }], ...policy }),
    createService({ name: 'drop', type: 'ClusterIP', selector: { drop: 'me' }, ports, ...policy }),
  ]);
  ['by-clusterip', 'by-nodeport', 'by-loadbalancer', 'one', 'drop'].forEach((n, i) => (svc[n] = made[i]));
  await Promise.all([waitForEndpoints('by-clusterip', 2), waitForEndpoints('one', 1), waitForEndpoints('drop', 2)]);
  await waitReachable(svc['by-clusterip'].clusterIPs[0], 80);
});

test.afterAll(async () => {
  await scope?.dispose();
});

async function ingressOf(name: string): Promise<string | undefined> {
  try {
    return await lab.kube.waitFor(async () => viewService(await lab.kube.get<KObject>('v1', 'Service', scope.namespace, name) as KObject).ingress[0], { what: `${name} status.loadBalancer.ingress`, timeoutMs: 30_000 });
  } catch {
    return undefined;
  }
}

async function spread(name: string, r: RequestsResult, backends: string[]): Promise<void> {
  await attachBars(`${name} requests per backend`, backends.map((b) => ({ label: b, value: r.distribution[b] ?? 0 })), 'requests');
  for (const b of backends) expect(r.distribution[b] ?? 0, `${b} answered none of ${r.samples.length} requests through ${r.target}: ${JSON.stringify(r.distribution)}`).toBeGreaterThan(0);
}

test.describe('8.3.1 About services', () => {
  test('a ClusterIP Service reaches the VM labelled special: key from another VM, load balanced over every backend', async () => {
    await capability('Services', 'ClusterIP', '8.3.1', { type: 'ClusterIP' });
    const ip = svc['by-clusterip'].clusterIPs[0];
    expect(ip, 'spec.clusterIP is allocated').toMatch(/^[\d.:a-f]+$/);
    const r = await tcpRequests(client.guest, ip, 80, { count: 30 });
    expect(r.failures, `requests to ${ip}:80 that got no reply`).toBe(0);
    await spread('ClusterIP', r, ['web-1', 'web-2']);
  });

  test("a NodePort Service is reachable from outside the cluster on each node's address", async () => {
    await capability('Services', 'NodePort', '8.3.1', { type: 'NodePort' });
    const port = svc['by-nodeport'].ports[0].nodePort as number;
    expect(port, 'spec.ports[0].nodePort is allocated from 30000-32767').toBeGreaterThanOrEqual(30000);
    const all: RequestsResult[] = [];
    for (const n of await nodeAddresses(lab.kube)) {
      const r = await tcpRequestsFromHarness(n.address, port, { count: 20 });
      expect(r.failures, `from this process to ${n.node} ${n.type} ${n.address}:${port}: ${r.errors[0] ?? ''}`).toBe(0);
      all.push(r);
    }
    const merged = { ...all[0], distribution: Object.fromEntries(['web-1', 'web-2'].map((b) => [b, all.reduce((s, r) => s + (r.distribution[b] ?? 0), 0)])) };
    await spread('NodePort', merged, ['web-1', 'web-2']);
  });

  test('a LoadBalancer Service gets an external IP address and is reachable there from outside the cluster', async () => {
    await capability('Services', 'LoadBalancer', '8.3.1', { type: 'LoadBalancer' });
    const ip = await ingressOf('by-loadbalancer');
    test.skip(!ip, 'no load balancer implementation (e.g. MetalLB) gave the Service an address within 30 s');
    const r = await tcpRequestsFromHarness(ip as string, 80, { count: 40 });
    expect(r.failures, `from this process to ${ip}:80: ${r.errors[0] ?? ''}`).toBe(0);
    await spread('LoadBalancer', r, ['web-1', 'web-2']);
  });
});

test.describe('8.3.2 Dual-stack support', () => {
  const orders: IpFamily[][] = [['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']];
  for (const families of orders) {
    test(`ipFamilies [${families.join(', ')}] allocates cluster IPs of those families in that order, each reaching the VM`, async () => {
      await capability('Services', 'Dual-stack', '8.3.2', { ipFamilies: families.join(',') });
      test.skip(!dualStack && families.includes('IPv6'), 'the cluster is single-stack IPv4: no IPv6 service range');
      const name = `fam-${families.join('-').toLowerCase()}`;
      const s = await createService({ name, selector: { 'kubevirt.io/vm': 'web-2' }, ports: [{ port: 80, targetPort: TARGET_PORT }], ipFamilies: families, ipFamilyPolicy: families.length === 2 ? 'PreferDualStack' : 'SingleStack' });
      expect(s.ipFamilies).toEqual(families);
      expect(s.clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')), `spec.clusterIPs ${s.clusterIPs.join(', ')}`).toEqual(families);
      await waitForEndpoints(name, 1, families.length);
      for (const ip of s.clusterIPs) {
        await waitReachable(ip, 80);
        const r = await tcpRequests(client.guest, ip, 80, { count: 5 });
        expect(r.failures, `requests to ${bracket(ip)}:80`).toBe(0);
        expect(r.replies.every((x) => x === 'web-2')).toBe(true);
      }
    });
  }

  test('RequireDualStack allocates an IPv4 and an IPv6 cluster IP', async () => {
    await capability('Services', 'Dual-stack', '8.3.2', { ipFamilyPolicy: 'RequireDualStack' });
    test.skip(!dualStack, 'the cluster is single-stack: RequireDualStack fails there by design (checked by the next test)');
    const s = await createService({ name: 'require-dual', selector: { 'kubevirt.io/vm': 'web-2' }, ports: [{ port: 80, targetPort: TARGET_PORT }], ipFamilyPolicy: 'RequireDualStack' });
    expect(s.clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')).sort()).toEqual(['IPv4', 'IPv6']);
  });

  test('RequireDualStack fails on a cluster without dual-stack networking', async () => {
    await capability('Services', 'Dual-stack', '8.3.2', { ipFamilyPolicy: 'RequireDualStack' });
    test.skip(dualStack, 'the cluster is dual-stack: RequireDualStack is allowed there');
    const err = await lab.kube.create(serviceManifest({ name: 'require-dual', namespace: scope.namespace, selector: { special: 'key' }, ports: [{ port: 80 }], ipFamilyPolicy: 'RequireDualStack' })).then(() => undefined, (e: { code?: number }) => e);
    expect(err?.code, 'the API server refuses the Service (422)').toBe(422);
  });
});

test.describe('Measured through Services', () => {
  test('request latency through ClusterIP, NodePort and LoadBalancer beside the pod IP', async () => {
    await capability('Services', 'Service overhead', '8.3.1', { placement: 'cross-node' });
    const one = svc.one;
    const n = 20;
    const nodeA = await lab.kube.get<KObject>('v1', 'Node', undefined, client.node);
    const paths: [string, string, number][] = [
      ['pod IP (direct)', web2.podIPv4 as string, TARGET_PORT],
      ['ClusterIP', one.clusterIPs[0], 80],
      ['NodePort (node InternalIP)', internalIP(nodeA as KObject) as string, one.ports[0].nodePort as number],
    ];
    const results: [string, RequestsResult][] = [];
    for (const [label, host, port] of paths) {
      const r = await tcpRequests(client.guest, host, port, { count: n });
      expect(r.failures, `${label} ${bracket(host)}:${port}: failed requests`).toBe(0);
      await measured(`request latency ${label}`, r.samples, r.stats, 'ms', 'histogram');
      results.push([label, r]);
    }
    // From outside: no pod-IP baseline exists there, so these are recorded beside each other.
    const outside: [string, string, number][] = [];
    const addr = (await nodeAddresses(lab.kube))[0];
    if (addr) outside.push([`NodePort from outside (${addr.type})`, addr.address, one.ports[0].nodePort as number]);
    const lb = await ingressOf('one');
    if (lb) outside.push(['LoadBalancer from outside', lb, 80]);
    for (const [label, host, port] of outside) {
      const r = await tcpRequestsFromHarness(host, port, { count: n });
      expect(r.failures, `${label} ${host}:${port}: ${r.errors[0] ?? ''}`).toBe(0);
      await measured(`request latency ${label}`, r.samples, r.stats, 'ms', 'histogram');
      await recordMetric('Service overhead', `${label} p50`, r.stats.p50, 'ms');
    }
    const direct = results[0][1].stats.p50;
    await attachBars('request latency p50 by path', results.map(([label, r]) => ({ label, value: r.stats.p50 })), 'ms');
    const max = lab.profile.thresholds.services.maxOverheadRatio;
    for (const [label, r] of results.slice(1)) {
      await threshold(`${label} overhead (p50 / pod IP p50)`, ratio(r.stats.p50, direct), '<=', max, 'x');
    }
  });

  test('TCP throughput through the ClusterIP', async () => {
    await capability('Services', 'Service overhead', '8.3.1', { placement: 'cross-node', type: 'ClusterIP' });
    const r = await tcpThroughput(client.guest, web2.guest, svc.one.clusterIPs[0], { seconds: lab.profile.measure.iperfSeconds, port: IPERF_PORT });
    await measured('tcp-clusterip', r.intervals.map((b) => b / 1e9), r.stats, 'Gbit/s', 'line', { bitsPerSecond: r.bitsPerSecond, retransmits: r.retransmits });
    await threshold('TCP throughput through ClusterIP', r.bitsPerSecond / 1e9, '>=', lab.profile.thresholds.services.minClusterIpTcpGbps, 'Gbit/s');
  });
});

test.describe('8.3.1 Backends follow the VMs', () => {
  test('a stopped VM drops out of the Service endpoints and stops receiving requests', async () => {
    await capability('Services', 'ClusterIP', '8.3.1', { type: 'ClusterIP' });
    const ip = svc.drop.clusterIPs[0];
    const before = await tcpRequests(client.guest, ip, 80, { count: 20 });
    expect(before.failures).toBe(0);
    expect(Object.keys(before.distribution).sort(), 'both drop: me VMs answer while running').toEqual(['web-1', 'web-3']);
    // Its responder goes first, while the guest can still remove its files (afterAll cannot reach a stopped VM).
    await responders.get('web-3')?.();
    await lab.kube.mergePatch({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'web-3', namespace: scope.namespace }, spec: { runStrategy: 'Halted' } });
    await lab.kube.waitFor(async () => {
      const eps = await readyEndpoints(lab.kube, scope.namespace, 'drop');
      return eps.length > 0 && eps.every((e) => !e.pod?.includes('web-3'));
    }, { what: 'web-3 to leave the ready endpoints of Service drop', timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000)); // kube-proxy's sync period on a real node is about this
    const after = await tcpRequests(client.guest, ip, 80, { count: 20 });
    expect(after.failures, `requests through ${ip}:80 after web-3 stopped that got no reply (a stale backend)`).toBe(0);
    expect(after.distribution, 'only web-1 answers').toEqual({ 'web-1': 20 });
  });
});
