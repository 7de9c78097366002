// §8.4 Accessing a virtual machine by using its internal FQDN (headless service + hostname/subdomain).
import { test as base, expect, topology } from '../src/fixtures/test.ts';
import type { Lab, LabVm } from '../src/fixtures/lab.ts';
import { measured, threshold } from '../src/fixtures/annotate.ts';
import { capability } from '../src/fixtures/capability.ts';
import { dnsPath, expectBlocked } from '../src/fixtures/paths.ts';
import { vm } from '../src/kube/vm-spec.ts';
import { readyEndpoints, serviceManifest } from '../src/kube/service.ts';
import { icmpLatency, resolve, type ResolveResult } from '../src/probes/index.ts';

const SUBDOMAIN = 'mysubdomain'; // the seed's §8.4.1 service name
const HOSTNAME = 'myvm'; //          the seed's §8.4.2 spec.hostname

interface Fqdn {
  lab: Lab;
  namespace: string;
  client: LabVm; //  resolves and pings
  named: LabVm; //   hostname myvm, subdomain mysubdomain
  unnamed: LabVm; // subdomain mysubdomain, no hostname: the VM name is used
  orphan: LabVm; //  subdomain without a matching headless service
}

const test = base.extend<{}, { f: Fqdn }>({
  f: topology('headless-fqdn', async (scope, lab) => {
    const facts = await lab.facts();
    // A new headless Service each time (never adopted), so its records show what the cluster does now.
    const headless = serviceManifest({ name: SUBDOMAIN, namespace: scope.namespace, selector: { expose: 'me' }, clusterIP: 'None', ports: [{ port: 1234, targetPort: 1234 }] });
    await lab.kube.delete(headless);
    await lab.kube.waitForObject('v1', 'Service', scope.namespace, SUBDOMAIN, (x) => x === undefined || undefined, { what: `the previous Service ${SUBDOMAIN} to be deleted`, timeoutMs: 60_000 });
    await lab.kube.create(headless);
    // No ports lists: ICMP reaches the guests themselves, as on the seed's Fedora VM.
    // client first, so that vm-fedora's anti-affinity sees it: the ping crosses nodes where there are two.
    const client = await scope.create(vm('client').pod());
    const fedora = vm('vm-fedora').pod().labels({ expose: 'me' }).hostname(HOSTNAME, SUBDOMAIN);
    if (facts.schedulableNodes.length > 1) fedora.placement({ awayFrom: ['client'] });
    const [named, unnamed, orphan] = await scope.createAll([
      fedora,
      vm('vm-unnamed').pod().labels({ expose: 'me' }).hostname('', SUBDOMAIN),
      vm('vm-orphan').pod().hostname('', 'nosuchservice'),
    ]);
    return { lab, namespace: scope.namespace, client, named, unnamed, orphan };
  }, { timeoutMs: 30 * 60_000 }),
});

const fqdn = (f: Fqdn, host: string, sub = SUBDOMAIN) => `${host}.${sub}.${f.namespace}.svc.cluster.local`;

/** The headless service lists both VMs with their hostnames (the records follow from it). */
async function listed(f: Fqdn): Promise<void> {
  await f.lab.kube.waitFor(async () => (await readyEndpoints(f.lab.kube, f.namespace, SUBDOMAIN)).filter((e) => e.hostname).length >= 2, { what: `the headless service ${SUBDOMAIN} to list both VMs with their hostnames`, timeoutMs: f.lab.profile.timeouts.convergenceMs });
}

/** DNS follows endpoints asynchronously on any cluster: retry until the name resolves (or give the last answer). */
async function resolveWhenReady(f: Fqdn, name: string): Promise<ResolveResult> {
  let last: ResolveResult | undefined;
  const bound = f.lab.profile.timeouts.convergenceMs;
  const deadline = Date.now() + bound;
  await f.lab.kube.waitFor(async () => {
    // Each lookup ends by the deadline: on a dead path one resolver run would outlast the bound.
    last = await resolve(f.client.guest, name, { family: 4, limitS: Math.max(1, (deadline - Date.now()) / 1000) });
    return last.addresses.length > 0;
  }, { what: `${name} to resolve in the guest`, timeoutMs: bound, intervalMs: 300 }).catch(() => undefined); // the caller asserts on `last`
  return last as ResolveResult;
}

capability('8.4.1 Creating a headless service', { epic: 'Internal FQDN', feature: 'Headless service', section: '8.4.1' }, () => {
  test('the headless service name itself resolves to the pod IPs of its ready VMs', async ({ f }) => {
    await listed(f);
    // The short name exercises the guest's search domains (<ns>.svc.cluster.local first).
    const r = await resolveWhenReady(f, SUBDOMAIN);
    expect([...r.addresses].sort(), `getent ahostsv4 ${SUBDOMAIN} (short name, via resolv.conf search)`).toEqual([f.named.podIPv4, f.unnamed.podIPv4].sort());
  });
});

capability('8.4.2 Mapping a virtual machine to a headless service', { epic: 'Internal FQDN', feature: 'Headless service FQDN', section: '8.4.2' }, () => {
  test('spec.hostname and spec.subdomain give <hostname>.<subdomain>.<namespace>.svc.cluster.local, resolving in another VM to the pod IP', async ({ f }) => {
    await listed(f);
    const name = fqdn(f, HOSTNAME);
    const r = await resolveWhenReady(f, name);
    expect(r.addresses, `getent ahostsv4 ${name} in VM client (failed lookups: ${r.failures})`).toEqual([f.named.podIPv4]);
  });

  test('without spec.hostname, the record uses the VM name: <vm name>.<subdomain>.<namespace>.svc.cluster.local', async ({ f }) => {
    await listed(f);
    const name = fqdn(f, f.unnamed.name);
    const r = await resolveWhenReady(f, name);
    expect(r.addresses, `getent ahostsv4 ${name} in VM client (failed lookups: ${r.failures})`).toEqual([f.unnamed.podIPv4]);
  });

  test('a subdomain with no headless service of that name gives no record', async ({ f }) => {
    await listed(f);
    await resolveWhenReady(f, fqdn(f, HOSTNAME)); // records follow endpoints: let the control's record appear first
    // Control: the same resolver in the same client answers for a record that exists.
    await expectBlocked(dnsPath(f.client, fqdn(f, f.orphan.name, 'nosuchservice')), { control: dnsPath(f.client, fqdn(f, HOSTNAME)) });
  });
});

capability('8.4.3 Connecting to a virtual machine by using its internal FQDN', { epic: 'Internal FQDN', feature: 'Headless service FQDN', section: '8.4.3' }, () => {
  test('ping <hostname>.<subdomain>.<namespace>.svc.cluster.local answers from the VM', async ({ f }) => {
    await listed(f);
    const name = fqdn(f, HOSTNAME);
    const first = await resolveWhenReady(f, name);
    expect(first.addresses, `getent ahostsv4 ${name} before pinging it`).toEqual([f.named.podIPv4]);
    const r = await icmpLatency(f.client.guest, name, { count: 3, intervalS: 0.2, family: 4 });
    expect(r.address, `ping ${name} resolved to`).toBe(f.named.podIPv4);
    expect(r.received, `echo replies from ${name}`).toBeGreaterThan(0);
  });
});

capability('8.4.3 Cluster DNS from a guest', { epic: 'Internal FQDN', feature: 'Cluster DNS', section: '8.4.3' }, () => {
  test('DNS resolution latency of the FQDN from a guest', async ({ lab, f }) => {
    await listed(f);
    const name = fqdn(f, HOSTNAME);
    const first = await resolveWhenReady(f, name);
    expect(first.addresses, `getent ahostsv4 ${name} resolves at all`).toEqual([f.named.podIPv4]);
    const r = await resolve(f.client.guest, name, { family: 4, count: 50 });
    await measured('dns-resolution', r.samples, r.stats, 'ms', 'histogram', { failures: r.failures, tool: r.tool });
    expect(r.failures, `lookups of ${name} that failed`).toBe(0);
    const t = lab.profile.thresholds.services;
    await threshold('DNS resolution p50', r.stats.p50, '<=', t.dnsP50Ms, 'ms');
    await threshold('DNS resolution p99', r.stats.p99, '<=', t.dnsP99Ms, 'ms');
  });
});
