// §8.3 Exposing a virtual machine by using a service: ClusterIP, NodePort, LoadBalancer, dual-stack.
import { test as base, expect, topology } from '../src/fixtures/test.ts';
import type { Lab, LabVm, Scope } from '../src/fixtures/lab.ts';
import { measured, threshold } from '../src/fixtures/annotate.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { vm, type VmSpec } from '../src/kube/vm-spec.ts';
import { attachBars, recordMetric } from '../src/report/allure.ts';
import { internalIP, nodeAddresses, readyEndpoints, serviceManifest, viewService, type IpFamily, type ServiceOptions, type ServiceView } from '../src/kube/service.ts';
import type { KObject } from '../src/kube/client.ts';
import { ratio, startTcpResponder, tcpRequests, tcpRequestsFromHarness, tcpThroughput, type RequestsResult } from '../src/probes/index.ts';

const TARGET_PORT = 9376; // the seed's §8.3.3 targetPort
const IPERF_PORT = 5201;

/** client calls the Services and is never a backend; web-2 and web-3 run on another node than client when there are two. */
class Svc {
  readonly svc: Record<string, ServiceView> = {};
  private readonly stops = new Map<string, () => Promise<void>>();
  constructor(readonly lab: Lab, readonly scope: Scope, readonly dualStack: boolean, readonly client: LabVm, readonly web1: LabVm, readonly web2: LabVm, readonly web3: LabVm) {}

  get namespace(): string {
    return this.scope.namespace;
  }

  /** Convergence takes a second or two on a working cluster; a stuck controller fails at the profile's bound. */
  get bound(): number {
    return this.lab.profile.timeouts.convergenceMs;
  }

  /**
   * Always a new Service, never an adopted one: a Service from an earlier run keeps the rules,
   * endpoints and address it got then, and would no longer show that the cluster programs new ones.
   */
  async createService(o: Omit<ServiceOptions, 'namespace'>): Promise<ServiceView> {
    const kube = this.lab.kube;
    const manifest = serviceManifest({ ...o, namespace: this.namespace });
    await kube.delete(manifest);
    await kube.waitForObject('v1', 'Service', this.namespace, o.name, (x) => x === undefined || undefined, { what: `the previous Service ${o.name} to be deleted`, timeoutMs: 60_000 });
    const view = viewService(await kube.create(manifest));
    this.svc[o.name] = view;
    return view;
  }

  /** `count` ready VMs, each listed once per IP family of the Service. */
  async endpoints(name: string, count: number, families = this.dualStack ? 2 : 1): Promise<void> {
    await this.lab.kube.waitFor(async () => (await readyEndpoints(this.lab.kube, this.namespace, name)).length >= count * families, { what: `Service ${name}: ${count} ready endpoints`, timeoutMs: this.bound });
  }

  /** Rules follow endpoints asynchronously on any cluster: wait until a first request from client goes through. */
  async reachable(host: string, port: number): Promise<void> {
    await this.lab.kube.waitFor(async () => (await tcpRequests(this.client.guest, host, port, { count: 1, timeoutMs: 1000 })).failures === 0, { what: `a reply from client through ${bracket(host)}:${port}`, timeoutMs: this.bound, intervalMs: 200 });
  }

  /** The same from this process, outside the cluster. */
  async reachableFromHere(host: string, port: number): Promise<void> {
    await this.lab.kube.waitFor(async () => (await tcpRequestsFromHarness(host, port, { count: 1, timeoutMs: 1000 })).failures === 0, { what: `a reply from outside the cluster through ${bracket(host)}:${port}`, timeoutMs: this.bound, intervalMs: 200 });
  }

  /** MetalLB is installed (declared requirement), so an address that does not come is a failure. */
  async ingress(name: string): Promise<string> {
    return this.lab.kube.waitFor(async () => viewService(await this.lab.kube.get<KObject>('v1', 'Service', this.namespace, name) as KObject).ingress[0], { what: `MetalLB to give Service ${name} an address in status.loadBalancer.ingress`, timeoutMs: this.bound });
  }

  async serve(v: LabVm): Promise<void> {
    const stop = await startTcpResponder(v.guest, TARGET_PORT, v.name);
    this.stops.set(v.name, stop);
  }

  async unserve(v: LabVm): Promise<void> {
    await this.stops.get(v.name)?.();
    this.stops.delete(v.name);
  }

  async unserveAll(): Promise<void> {
    await Promise.all([...this.stops.values()].map((stop) => stop().catch(() => undefined)));
    this.stops.clear();
  }
}

const bracket = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

const test = base.extend<{}, { s: Svc }>({
  s: topology('services', async (scope, lab) => {
    const facts = await lab.facts();
    const ipv6 = facts.dualStack;
    const apart = (spec: VmSpec) => (facts.schedulableNodes.length > 1 ? spec.placement({ awayFrom: ['client'] }) : spec);
    // client first, so the anti-affinity of web-2 and web-3 sees its pod.
    const client = await scope.create(vm('client').pod({ ipv6 }));
    const [web1, web2, web3] = await scope.createAll([
      vm('web-1').pod({ ipv6 }).labels({ special: 'key', drop: 'me' }),
      apart(vm('web-2').pod({ ipv6 }).labels({ special: 'key' })),
      apart(vm('web-3').pod({ ipv6 }).labels({ drop: 'me' })),
    ]);
    const s = new Svc(lab, scope, ipv6, client, web1, web2, web3);
    scope.defer(() => s.unserveAll());
    await Promise.all([web1, web2, web3].map((v) => s.serve(v)));
    const policy = ipv6 ? { ipFamilyPolicy: 'PreferDualStack' as const } : {};
    const ports = [{ port: 80, targetPort: TARGET_PORT }];
    await Promise.all([
      s.createService({ name: 'by-clusterip', type: 'ClusterIP', selector: { special: 'key' }, ports, ...policy }),
      s.createService({ name: 'by-nodeport', type: 'NodePort', selector: { special: 'key' }, ports, ...policy }),
      s.createService({ name: 'by-loadbalancer', type: 'LoadBalancer', selector: { special: 'key' }, ports, ...policy }),
      // One backend, every type at once: the latency and throughput comparisons are against this VM's pod IP.
      s.createService({ name: 'one', type: 'LoadBalancer', selector: { 'kubevirt.io/vm': 'web-2' }, ports: [{ name: 'http', port: 80, targetPort: TARGET_PORT }, { name: 'iperf', port: IPERF_PORT, targetPort: IPERF_PORT }], ...policy }),
      s.createService({ name: 'drop', type: 'ClusterIP', selector: { drop: 'me' }, ports, ...policy }),
    ]);
    return s;
  }, { timeoutMs: 30 * 60_000 }),
});

async function spread(name: string, r: RequestsResult, backends: string[]): Promise<void> {
  await attachBars(`${name} requests per backend`, backends.map((b) => ({ label: b, value: r.distribution[b] ?? 0 })), 'requests');
  for (const b of backends) expect(r.distribution[b] ?? 0, `${b} answered none of ${r.samples.length} requests through ${r.target}: ${JSON.stringify(r.distribution)}`).toBeGreaterThan(0);
}

test.describe('8.3.1 About services', () => {
  capability('ClusterIP', { epic: 'Services', feature: 'ClusterIP', section: '8.3.1' }, () => {
    test('a ClusterIP Service reaches the VM labelled special: key from another VM, load balanced over every backend', details({ params: { type: 'ClusterIP' } }), async ({ s }) => {
      const ip = s.svc['by-clusterip'].clusterIPs[0];
      expect(ip, 'spec.clusterIP is allocated').toMatch(/^[\d.:a-f]+$/);
      await s.endpoints('by-clusterip', 2);
      await s.reachable(ip, 80);
      const r = await tcpRequests(s.client.guest, ip, 80, { count: 30 });
      expect(r.failures, `requests to ${ip}:80 that got no reply`).toBe(0);
      await spread('ClusterIP', r, ['web-1', 'web-2']);
    });
  });

  capability('NodePort', { epic: 'Services', feature: 'NodePort', section: '8.3.1' }, () => {
    test("a NodePort Service is reachable from outside the cluster on each node's address", details({ params: { type: 'NodePort' } }), async ({ s }) => {
      const port = s.svc['by-nodeport'].ports[0].nodePort as number;
      expect(port, 'spec.ports[0].nodePort is allocated from 30000-32767').toBeGreaterThanOrEqual(30000);
      await s.endpoints('by-nodeport', 2);
      const all: RequestsResult[] = [];
      for (const n of await nodeAddresses(s.lab.kube)) {
        await s.reachableFromHere(n.address, port);
        const r = await tcpRequestsFromHarness(n.address, port, { count: 20 });
        expect(r.failures, `from this process to ${n.node} ${n.type} ${n.address}:${port}: ${r.errors[0] ?? ''}`).toBe(0);
        all.push(r);
      }
      const merged = { ...all[0], distribution: Object.fromEntries(['web-1', 'web-2'].map((b) => [b, all.reduce((sum, r) => sum + (r.distribution[b] ?? 0), 0)])) };
      await spread('NodePort', merged, ['web-1', 'web-2']);
    });
  });

  capability('LoadBalancer', { epic: 'Services', feature: 'LoadBalancer', section: '8.3.1', requires: [requires.api('metallb.io', 'MetalLB')] }, () => {
    test('a LoadBalancer Service gets an external IP address and is reachable there from outside the cluster', details({ params: { type: 'LoadBalancer' } }), async ({ s }) => {
      const ip = await s.ingress('by-loadbalancer');
      await s.endpoints('by-loadbalancer', 2);
      await s.reachableFromHere(ip, 80);
      const r = await tcpRequestsFromHarness(ip, 80, { count: 40 });
      expect(r.failures, `from this process to ${ip}:80: ${r.errors[0] ?? ''}`).toBe(0);
      await spread('LoadBalancer', r, ['web-1', 'web-2']);
    });
  });
});

capability('8.3.2 Dual-stack support', { epic: 'Services', feature: 'Dual-stack', section: '8.3.2' }, () => {
  const orders: IpFamily[][] = [['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']];
  for (const families of orders) {
    const d = details({ requires: families.includes('IPv6') ? [requires.dualStack()] : [], params: { ipFamilies: families.join(',') } });
    test(`ipFamilies [${families.join(', ')}] allocates cluster IPs of those families in that order, each reaching the VM`, d, async ({ s }) => {
      const name = `fam-${families.join('-').toLowerCase()}`;
      const view = await s.createService({ name, selector: { 'kubevirt.io/vm': 'web-2' }, ports: [{ port: 80, targetPort: TARGET_PORT }], ipFamilies: families, ipFamilyPolicy: families.length === 2 ? 'PreferDualStack' : 'SingleStack' });
      expect(view.ipFamilies).toEqual(families);
      expect(view.clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')), `spec.clusterIPs ${view.clusterIPs.join(', ')}`).toEqual(families);
      await s.endpoints(name, 1, families.length);
      for (const ip of view.clusterIPs) {
        await s.reachable(ip, 80);
        const r = await tcpRequests(s.client.guest, ip, 80, { count: 5 });
        expect(r.failures, `requests to ${bracket(ip)}:80`).toBe(0);
        expect(r.replies.every((x) => x === 'web-2'), `only web-2 answers through ${bracket(ip)}:80: ${JSON.stringify(r.distribution)}`).toBe(true);
      }
    });
  }

  test('RequireDualStack allocates an IPv4 and an IPv6 cluster IP', details({ requires: [requires.dualStack()], params: { ipFamilyPolicy: 'RequireDualStack' } }), async ({ s }) => {
    const view = await s.createService({ name: 'require-dual', selector: { 'kubevirt.io/vm': 'web-2' }, ports: [{ port: 80, targetPort: TARGET_PORT }], ipFamilyPolicy: 'RequireDualStack' });
    expect(view.clusterIPs.map((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4')).sort()).toEqual(['IPv4', 'IPv6']);
  });

  test('RequireDualStack fails on a cluster without dual-stack networking', details({ params: { ipFamilyPolicy: 'RequireDualStack' } }), async ({ s }) => {
    test.skip(s.dualStack, 'the cluster is dual-stack: RequireDualStack is allowed there');
    const err = await s.lab.kube.create(serviceManifest({ name: 'require-dual', namespace: s.namespace, selector: { special: 'key' }, ports: [{ port: 80 }], ipFamilyPolicy: 'RequireDualStack' })).then(() => undefined, (e: { code?: number }) => e);
    expect(err?.code, 'the API server refuses the Service (422)').toBe(422);
  });
});

capability('Measured through Services', { epic: 'Services', feature: 'Service overhead', section: '8.3.1', requires: [requires.nodes(2)] }, () => {
  test('request latency through ClusterIP, NodePort and LoadBalancer beside the pod IP', details({ params: { placement: 'cross-node' } }), async ({ lab, s }) => {
    const one = s.svc.one;
    const n = 20;
    const nodeA = await lab.kube.get<KObject>('v1', 'Node', undefined, s.client.node);
    await s.endpoints('one', 1);
    const paths: [string, string, number][] = [
      ['pod IP (direct)', s.web2.podIPv4 as string, TARGET_PORT],
      ['ClusterIP', one.clusterIPs[0], 80],
      ['NodePort (node InternalIP)', internalIP(nodeA as KObject) as string, one.ports[0].nodePort as number],
    ];
    const results: [string, RequestsResult][] = [];
    for (const [label, host, port] of paths) {
      await s.reachable(host, port);
      const r = await tcpRequests(s.client.guest, host, port, { count: n });
      expect(r.failures, `${label} ${bracket(host)}:${port}: failed requests`).toBe(0);
      await measured(`request latency ${label}`, r.samples, r.stats, 'ms', 'histogram');
      results.push([label, r]);
    }
    // From outside: no pod-IP baseline exists there, so these are recorded beside each other.
    const outside: [string, string, number][] = [];
    const addr = (await nodeAddresses(lab.kube))[0];
    if (addr) outside.push([`NodePort from outside (${addr.type})`, addr.address, one.ports[0].nodePort as number]);
    // MetalLB installed: its address is part of the comparison, and a missing one fails here too.
    if ((await lab.facts()).groups.includes('metallb.io')) outside.push(['LoadBalancer from outside', await s.ingress('one'), 80]);
    else test.info().annotations.push({ type: 'not measured', description: 'LoadBalancer: the target serves no metallb.io API (MetalLB not installed)' });
    for (const [label, host, port] of outside) {
      await s.reachableFromHere(host, port);
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

  test('TCP throughput through the ClusterIP', details({ params: { placement: 'cross-node', type: 'ClusterIP' } }), async ({ lab, s }) => {
    const ip = s.svc.one.clusterIPs[0];
    await s.endpoints('one', 1);
    await s.reachable(ip, 80);
    const r = await tcpThroughput(s.client.guest, s.web2.guest, ip, { seconds: lab.profile.measure.iperfSeconds, port: IPERF_PORT });
    await measured('tcp-clusterip', r.intervals.map((b) => b / 1e9), r.stats, 'Gbit/s', 'line', { bitsPerSecond: r.bitsPerSecond, retransmits: r.retransmits });
    await threshold('TCP throughput through ClusterIP', r.bitsPerSecond / 1e9, '>=', lab.profile.thresholds.services.minClusterIpTcpGbps, 'Gbit/s');
  });
});

capability('8.3.1 Backends follow the VMs', { epic: 'Services', feature: 'ClusterIP', section: '8.3.1' }, () => {
  test('a stopped VM drops out of the Service endpoints and stops receiving requests', details({ params: { type: 'ClusterIP' } }), async ({ s }) => {
    const ip = s.svc.drop.clusterIPs[0];
    await s.endpoints('drop', 2);
    await s.reachable(ip, 80);
    const before = await tcpRequests(s.client.guest, ip, 80, { count: 20 });
    expect(before.failures, `requests through ${ip}:80 while both drop: me VMs run`).toBe(0);
    expect(Object.keys(before.distribution).sort(), 'both drop: me VMs answer while running').toEqual(['web-1', 'web-3']);
    // Its responder goes first, while the guest can still remove its files.
    await s.unserve(s.web3);
    await s.web3.stop();
    try {
      await s.lab.kube.waitFor(async () => {
        const eps = await readyEndpoints(s.lab.kube, s.namespace, 'drop');
        return eps.length > 0 && eps.every((e) => !e.pod?.includes('web-3'));
      }, { what: 'web-3 to leave the ready endpoints of Service drop', timeoutMs: s.bound });
      // kube-proxy follows the endpoints on its own sync: poll until only web-1 answers, bounded.
      let after: RequestsResult | undefined;
      await s.lab.kube.waitFor(async () => {
        after = await tcpRequests(s.client.guest, ip, 80, { count: 20 });
        return after.failures === 0 && Object.keys(after.distribution).join() === 'web-1';
      }, { what: `only web-1 to answer through ${ip}:80 after web-3 stopped`, timeoutMs: s.bound, intervalMs: 500 }).catch(() => undefined);
      expect(after?.failures, `requests through ${ip}:80 after web-3 stopped that got no reply (a stale backend)`).toBe(0);
      expect(after?.distribution, 'only web-1 answers').toEqual({ 'web-1': 20 });
    } finally {
      // Shared VM: back as it was, for the tests a later worker runs against the same scope.
      await s.web3.start();
      await s.serve(s.web3);
    }
  });
});
