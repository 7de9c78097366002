// §8.4 Accessing a virtual machine by using its internal FQDN (headless service + hostname/subdomain).
import { test, expect } from '../src/fixtures/test.ts';
import type { Lab, LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability, measured, threshold } from '../src/fixtures/annotate.ts';
import { readyEndpoints, serviceManifest } from '../src/kube/service.ts';
import { templateSpec } from '../src/kube/vm.ts';
import { icmpLatency, resolve, type ResolveResult } from '../src/probes/index.ts';

const SUBDOMAIN = 'mysubdomain'; // the seed's §8.4.1 service name
const HOSTNAME = 'myvm'; //          the seed's §8.4.2 spec.hostname

let lab: Lab;
let scope: Scope;
let client: LabVm; // resolves and pings
let named: LabVm; //  hostname myvm, subdomain mysubdomain
let unnamed: LabVm; // subdomain mysubdomain, no hostname: the VM name is used
let orphan: LabVm; // subdomain without a matching headless service

const fqdn = (host: string, sub = SUBDOMAIN) => `${host}.${sub}.${scope.namespace}.svc.cluster.local`;

/** DNS follows endpoints asynchronously on any cluster: retry until the name resolves (or give the last answer). */
async function resolveWhenReady(name: string): Promise<ResolveResult> {
  let last: ResolveResult | undefined;
  try {
    await lab.kube.waitFor(async () => {
      last = await resolve(client.guest, name, { family: 4 });
      return last.addresses.length > 0;
    }, { what: `${name} to resolve in the guest`, timeoutMs: 10_000, intervalMs: 300 });
  } catch { /* the caller asserts on `last` with its own message */ }
  return last as ResolveResult;
}

test.beforeAll(async ({ lab: l }) => {
  lab = l;
  const facts = await lab.facts();
  const [a, b] = [facts.schedulableNodes[0], facts.schedulableNodes[1] ?? facts.schedulableNodes[0]];
  scope = await lab.scope('headless-fqdn');
  const naming = (hostname: string | undefined, subdomain: string) => (vm: Parameters<typeof templateSpec>[0]) => {
    const spec = templateSpec(vm);
    if (hostname) spec.hostname = hostname;
    spec.subdomain = subdomain;
  };
  await lab.kube.create(serviceManifest({ name: SUBDOMAIN, namespace: scope.namespace, selector: { expose: 'me' }, clusterIP: 'None', ports: [{ port: 1234, targetPort: 1234 }] }));
  [client, named, unnamed, orphan] = await Promise.all([
    scope.vm({ name: 'client', node: a }),
    // No ports list: ICMP reaches the guest itself, as on the seed's Fedora VM.
    scope.vm({ name: 'vm-fedora', node: b, templateLabels: { expose: 'me' }, customize: naming(HOSTNAME, SUBDOMAIN) }),
    scope.vm({ name: 'vm-unnamed', node: a, templateLabels: { expose: 'me' }, customize: naming(undefined, SUBDOMAIN) }),
    scope.vm({ name: 'vm-orphan', node: b, customize: naming(undefined, 'nosuchservice') }),
  ]);
  await lab.kube.waitFor(async () => (await readyEndpoints(lab.kube, scope.namespace, SUBDOMAIN)).filter((e) => e.hostname).length >= 2, { what: `the headless service ${SUBDOMAIN} to list both VMs with their hostnames`, timeoutMs: 30_000 });
});

test.afterAll(async () => {
  await scope?.dispose();
});

test.describe('8.4.2 Mapping a virtual machine to a headless service', () => {
  test('spec.hostname and spec.subdomain give <hostname>.<subdomain>.<namespace>.svc.cluster.local, resolving in another VM to the pod IP', async () => {
    await capability('Internal FQDN', 'Headless service FQDN', '8.4.2');
    const name = fqdn(HOSTNAME);
    const r = await resolveWhenReady(name);
    expect(r.addresses, `getent ahostsv4 ${name} in VM client (failed lookups: ${r.failures})`).toEqual([named.podIPv4]);
  });

  test('without spec.hostname, the record uses the VM name: <vm name>.<subdomain>.<namespace>.svc.cluster.local', async () => {
    await capability('Internal FQDN', 'Headless service FQDN', '8.4.2');
    const name = fqdn(unnamed.name);
    const r = await resolveWhenReady(name);
    expect(r.addresses, `getent ahostsv4 ${name} in VM client (failed lookups: ${r.failures})`).toEqual([unnamed.podIPv4]);
  });

  test('a subdomain with no headless service of that name gives no record', async () => {
    await capability('Internal FQDN', 'Headless service FQDN', '8.4.2');
    const name = fqdn(orphan.name, 'nosuchservice');
    const r = await resolve(client.guest, name, { family: 4 });
    expect(r.addresses, `${name} must not resolve`).toEqual([]);
    expect(r.failures).toBe(1);
  });

  test('the headless service name itself resolves to the pod IPs of its ready VMs', async () => {
    await capability('Internal FQDN', 'Headless service', '8.4.1');
    // The short name exercises the guest's search domains (<ns>.svc.cluster.local first).
    const r = await resolveWhenReady(SUBDOMAIN);
    expect([...r.addresses].sort(), `getent ahostsv4 ${SUBDOMAIN} (short name, via resolv.conf search)`).toEqual([named.podIPv4, unnamed.podIPv4].sort());
  });
});

test.describe('8.4.3 Connecting to a virtual machine by using its internal FQDN', () => {
  test('ping <hostname>.<subdomain>.<namespace>.svc.cluster.local answers from the VM', async () => {
    await capability('Internal FQDN', 'Headless service FQDN', '8.4.3');
    const name = fqdn(HOSTNAME);
    const first = await resolveWhenReady(name);
    expect(first.addresses, `getent ahostsv4 ${name} before pinging it`).toEqual([named.podIPv4]);
    const r = await icmpLatency(client.guest, name, { count: 3, intervalS: 0.2, family: 4 });
    expect(r.address, `ping ${name} resolved to`).toBe(named.podIPv4);
    expect(r.received, `echo replies from ${name}`).toBeGreaterThan(0);
  });

  test('DNS resolution latency of the FQDN from a guest', async () => {
    await capability('Internal FQDN', 'Cluster DNS', '8.4.3');
    const name = fqdn(HOSTNAME);
    const first = await resolveWhenReady(name);
    expect(first.addresses, `getent ahostsv4 ${name} resolves at all`).toEqual([named.podIPv4]);
    const r = await resolve(client.guest, name, { family: 4, count: 50 });
    await measured('dns-resolution', r.samples, r.stats, 'ms', 'histogram', { failures: r.failures, tool: r.tool });
    expect(r.failures, `lookups of ${name} that failed`).toBe(0);
    const t = lab.profile.thresholds.services;
    await threshold('DNS resolution p50', r.stats.p50, '<=', t.dnsP50Ms, 'ms');
    await threshold('DNS resolution p99', r.stats.p99, '<=', t.dnsP99Ms, 'ms');
  });
});
