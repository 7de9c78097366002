// KubeMacPool in the sim (control plane only): the range CNAO publishes and validates, the VM
// webhook's allocation, retention on update, release on delete, exhaustion, the §8.14.1 opt-out
// label and the collision events, driven with kubectl where a user would use it.
import { expect, test } from '@playwright/test';
import YAML from 'yaml';
import { parseMac, validateRangeConfig } from '../../src/sim/kubemacpool/pool.ts';
import { eventually, hasKubectl, kubectl, NO_KUBECTL, startTestSim, type TestSim } from '../api/helpers.ts';

test.describe.configure({ mode: 'serial' });
test.skip(!hasKubectl, NO_KUBECTL);

let sim: TestSim;
const NS = 'kmp';
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

type Obj = { metadata: { name: string; annotations?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string>; status?: Record<string, unknown>; webhooks?: { name: string }[] };
type Iface = { name: string; macAddress?: string };

test.beforeAll(async () => {
  sim = await startTestSim('kubemacpool');
  await ok('create', 'namespace', NS);
});
test.afterAll(async () => { await sim?.stop(); });

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(sim, args);
  expect(r.code, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
async function apply(manifest: unknown, ns = NS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return kubectl(sim, ['apply', '-n', ns, '-f', '-'], { input: YAML.stringify(manifest) });
}
const getJson = async <T = Obj>(...args: string[]): Promise<T> => JSON.parse(await ok('get', ...args, '-o', 'json')) as T;
const ifaces = (o: Obj) => ((o.spec as { template: { spec: { domain: { devices: { interfaces: Iface[] } } } } }).template.spec.domain.devices.interfaces);

/** Pod network (masquerade) plus one Multus NIC, or what `nics` says. */
function vmManifest(name: string, nics: Iface[] = [{ name: 'default' }, { name: 'sec' }], extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, ...extra },
    spec: {
      runStrategy: 'Halted',
      template: { spec: {
        domain: { devices: { interfaces: nics.map((n) => (n.name === 'default' ? { masquerade: {}, ...n } : { bridge: {}, ...n })) } },
        networks: nics.map((n) => (n.name === 'default' ? { name: 'default', pod: {} } : { name: n.name, multus: { networkName: 'net' } })),
      } },
    },
  };
}

async function range(): Promise<{ start: number; end: number; rangeStart: string; rangeEnd: string }> {
  const cm = await getJson('configmap', '-n', 'openshift-cnv', 'kubemacpool-mac-range-config');
  const { RANGE_START: rangeStart, RANGE_END: rangeEnd } = cm.data as Record<string, string>;
  return { rangeStart, rangeEnd, start: parseMac(rangeStart) as number, end: parseMac(rangeEnd) as number };
}

async function setRange(spec: Record<string, string>): Promise<void> {
  await ok('patch', 'networkaddonsconfig', 'cluster', '--type=merge', '-p', JSON.stringify({ spec: { kubeMacPool: spec } }));
}

test('the NetworkAddonsConfig `cluster` and the webhook configuration are where kubectl finds them; the default range is a random 02:XX:XX:00:00:00–02:XX:XX:FF:FF:FF', async () => {
  const nac = YAML.parse(await ok('get', 'networkaddonsconfig', 'cluster', '-o', 'yaml')) as Obj;
  expect(nac.spec?.kubeMacPool).toEqual({});
  await eventually(async () => ((await getJson('networkaddonsconfig', 'cluster')).status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === 'Available' && c.status === 'True'), 10_000, 'NetworkAddonsConfig Available');
  const mwc = await getJson('mutatingwebhookconfiguration', 'kubemacpool-mutator');
  expect(mwc.webhooks?.map((w) => w.name)).toEqual(['mutatepods.kubemacpool.io', 'mutatevirtualmachines.kubemacpool.io']);
  const r = await range();
  expect(r.rangeStart).toMatch(/^02:[0-9a-f]{2}:[0-9a-f]{2}:00:00:00$/);
  expect(r.rangeEnd).toBe(`${r.rangeStart.slice(0, 8)}:ff:ff:ff`);
});

test('every masquerade and Multus interface without a MAC gets one from the range, written into the VM template; a bridge-bound pod interface gets none', async () => {
  expect((await apply(vmManifest('a'))).code).toBe(0);
  const a = await getJson('vm', '-n', NS, 'a');
  const r = await range();
  const macs = ifaces(a).map((i) => i.macAddress as string);
  for (const m of macs) {
    expect(m).toMatch(MAC);
    expect((parseMac(m) as number) >= r.start && (parseMac(m) as number) <= r.end, `${m} in ${r.rangeStart}-${r.rangeEnd}`).toBe(true);
  }
  expect(new Set(macs).size).toBe(2);
  expect(a.metadata.annotations?.['kubemacpool.io/transaction-timestamp']).toBeTruthy();
  // The same path, a pod interface bound by `bridge`: KMP leaves it alone.
  const bridged = vmManifest('pod-bridge', [{ name: 'default' }]) as { spec: { template: { spec: { domain: { devices: { interfaces: Record<string, unknown>[] } } } } } };
  bridged.spec.template.spec.domain.devices.interfaces[0] = { name: 'default', bridge: {} };
  expect((await apply(bridged)).code).toBe(0);
  expect(ifaces(await getJson('vm', '-n', NS, 'pod-bridge'))[0].macAddress).toBeUndefined();
  await ok('delete', 'vm', '-n', NS, 'pod-bridge');
});

test('an update without the MACs keeps them; a new interface gets its own', async () => {
  const before = ifaces(await getJson('vm', '-n', NS, 'a'));
  // A replace from the manifest as written (no MACs), as `kubectl replace` of the user's file sends it.
  const next = vmManifest('a', [{ name: 'default' }, { name: 'sec' }, { name: 'hot' }], { labels: { edited: 'v2' } });
  const r = await kubectl(sim, ['replace', '-n', NS, '-f', '-'], { input: YAML.stringify(next) });
  expect(r.code, r.stderr).toBe(0);
  const after = ifaces(await getJson('vm', '-n', NS, 'a'));
  expect(after.slice(0, 2).map((i) => i.macAddress)).toEqual(before.map((i) => i.macAddress));
  expect(after[2].macAddress).toMatch(MAC);
  expect(before.map((i) => i.macAddress)).not.toContain(after[2].macAddress);
});

test('a server-side dry run shows the MACs a create would get and holds none', async () => {
  const r = await kubectl(sim, ['create', '-n', NS, '--dry-run=server', '-o', 'json', '-f', '-'], { input: YAML.stringify(vmManifest('dry')) });
  expect(r.code, r.stderr).toBe(0);
  expect(ifaces(JSON.parse(r.stdout) as Obj).map((i) => i.macAddress)).toEqual([expect.stringMatching(MAC), expect.stringMatching(MAC)]);
  expect((await kubectl(sim, ['get', 'vm', '-n', NS, 'dry'])).code).not.toBe(0);
});

test('CNAO refuses an invalid range in NetworkAddonsConfig with its own words and keeps the range it applied', async () => {
  const applied = await range();
  const cases: [Record<string, string>, RegExp][] = [
    [{ rangeStart: '02:00:00:00:00:00' }, /both or none of the KubeMacPool ranges needs to be configured/],
    [{ rangeStart: '02:00:00:00:00', rangeEnd: '02:00:00:00:00:ff' }, /failed to parse rangeStart because the mac address is invalid/],
    [{ rangeStart: '02:00:00:00:00:ff', rangeEnd: '02:00:00:00:00:00' }, /invalid range\. Range end is lesser than or equal to its start/],
    [{ rangeStart: '03:00:00:00:00:00', rangeEnd: '03:00:00:00:00:ff' }, /failed to set RangeStart: invalid mac address\. Multicast addressing is not supported\. .*The first octet is 0X3/],
  ];
  for (const [spec, message] of cases) {
    await ok('patch', 'networkaddonsconfig', 'cluster', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/kubeMacPool', value: spec }]));
    const degraded = await eventually(async () => ((await getJson('networkaddonsconfig', 'cluster')).status?.conditions as { type: string; status: string; reason?: string; message?: string }[]).find((c) => c.type === 'Degraded' && c.status === 'True'), 10_000, `Degraded for ${JSON.stringify(spec)}`);
    expect(degraded.reason).toBe('FailedToValidate');
    expect(degraded.message).toMatch(message);
    expect(await range()).toEqual(applied);
  }
  await ok('patch', 'networkaddonsconfig', 'cluster', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/kubeMacPool', value: {} }]));
  // An empty range reuses the one applied before (fillDefaultsKubeMacPool), not a new random one.
  await eventually(async () => ((await getJson('networkaddonsconfig', 'cluster')).status?.conditions as { type: string; status: string }[]).some((c) => c.type === 'Degraded' && c.status === 'False'), 10_000, 'Degraded False again');
  expect(await range()).toEqual(applied);
  // CNAO's byte-wise range check, as written: an octet of the start below the end's is enough.
  expect(validateRangeConfig('02:01:00:00:00:00', '02:00:ff:00:00:00')).toEqual([]);
});

test('a range set in NetworkAddonsConfig takes effect; when it is used up, a create fails as KubeMacPool words it, and deleting a VM releases its MACs', async () => {
  await setRange({ rangeStart: '02:aa:00:00:00:00', rangeEnd: '02:aa:00:00:00:02' });
  await eventually(async () => (await range()).rangeStart === '02:aa:00:00:00:00', 10_000, 'the range ConfigMap to follow');
  expect((await apply(vmManifest('r1'))).code).toBe(0);
  expect((await apply(vmManifest('r2', [{ name: 'default' }]))).code).toBe(0);
  const held = [...ifaces(await getJson('vm', '-n', NS, 'r1')), ...ifaces(await getJson('vm', '-n', NS, 'r2'))].map((i) => i.macAddress).sort();
  expect(held).toEqual(['02:aa:00:00:00:00', '02:aa:00:00:00:01', '02:aa:00:00:00:02']);
  const full = await apply(vmManifest('r3', [{ name: 'default' }]));
  expect(full.code).not.toBe(0);
  expect(full.stderr).toContain('admission webhook "mutatevirtualmachines.kubemacpool.io" denied the request: Failed to create virtual machine allocation error: Failed to allocate mac to the vm object: the range is full');
  await ok('delete', 'vm', '-n', NS, 'r2');
  const again = await eventually(async () => { const r = await apply(vmManifest('r3', [{ name: 'default' }])); return r.code === 0 && r; }, 10_000, 'r3 to get the released MAC');
  expect(again.code).toBe(0);
  const r3 = ifaces(await getJson('vm', '-n', NS, 'r3'))[0].macAddress;
  expect(held).toContain(r3);
  expect(ifaces(await getJson('vm', '-n', NS, 'r1')).map((i) => i.macAddress)).not.toContain(r3);
  await ok('delete', 'vm', '-n', NS, 'r1', 'r3');
  await setRange({ rangeStart: '02:bb:00:00:00:00', rangeEnd: '02:bb:00:00:ff:ff' });
  await eventually(async () => (await range()).rangeStart === '02:bb:00:00:00:00', 10_000, 'the range ConfigMap to follow');
});

test('§8.14.1: a namespace labelled mutatevirtualmachines.kubemacpool.io=ignore gets no pool MACs; removing the label re-enables the pool', async () => {
  // Positive control on the same path first: the pool gives this namespace MACs.
  expect((await apply(vmManifest('before'))).code).toBe(0);
  expect(ifaces(await getJson('vm', '-n', NS, 'before')).every((i) => MAC.test(i.macAddress ?? ''))).toBe(true);
  await ok('label', 'namespace', NS, 'mutatevirtualmachines.kubemacpool.io=ignore');
  expect((await apply(vmManifest('ignored'))).code).toBe(0);
  expect(ifaces(await getJson('vm', '-n', NS, 'ignored')).map((i) => i.macAddress)).toEqual([undefined, undefined]);
  await ok('label', 'namespace', NS, 'mutatevirtualmachines.kubemacpool.io-');
  expect((await apply(vmManifest('after'))).code).toBe(0);
  expect(ifaces(await getJson('vm', '-n', NS, 'after')).every((i) => MAC.test(i.macAddress ?? ''))).toBe(true);
  await ok('delete', 'vm', '-n', NS, 'before', 'ignored', 'after');
});

test('a VMI created without a VM gets no MAC from the pool', async () => {
  const vmi = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'bare' }, spec: (vmManifest('x') as { spec: { template: { spec: unknown } } }).spec.template.spec };
  expect((await apply(vmi)).code).toBe(0);
  const got = await getJson('vmi', '-n', NS, 'bare');
  expect(((got.spec as { domain: { devices: { interfaces: Iface[] } } }).domain.devices.interfaces).map((i) => i.macAddress)).toEqual([undefined, undefined]);
  await ok('delete', 'vmi', '-n', NS, 'bare');
});

test('an explicit MAC another VM holds is accepted, and once both run a Warning MACCollision names both VMIs', async () => {
  expect((await apply(vmManifest('c1'))).code).toBe(0);
  const mac = ifaces(await getJson('vm', '-n', NS, 'c1'))[1].macAddress as string;
  const dup = await apply(vmManifest('c2', [{ name: 'default' }, { name: 'sec', macAddress: mac.toUpperCase() }]));
  expect(dup.code, dup.stderr).toBe(0);
  // Two MACs in one VM are still refused (checkIntraVMDuplicateMACs).
  const twice = await apply(vmManifest('c3', [{ name: 'default', macAddress: '02:cc:00:00:00:01' }, { name: 'sec', macAddress: '02:cc:00:00:00:01' }]));
  expect(twice.stderr).toContain('duplicate MAC address 02:cc:00:00:00:01 found on interfaces: default and sec');
  // The running VMIs, as virt-handler reports them (this sim runs no workload controllers).
  for (const name of ['c1', 'c2']) {
    const tmpl = (await getJson('vm', '-n', NS, name)).spec as { template: { spec: Record<string, unknown> } };
    await sim.custom.createNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances', body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: tmpl.template.spec } });
    const cur = (await sim.custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances', name })) as Obj;
    const macs = ifaces({ ...cur, spec: { template: { spec: cur.spec } } }).map((i) => ({ name: i.name, mac: i.macAddress?.toLowerCase() }));
    await sim.custom.replaceNamespacedCustomObjectStatus({ group: 'kubevirt.io', version: 'v1', namespace: NS, plural: 'virtualmachineinstances', name, body: { ...cur, status: { phase: 'Running', interfaces: macs } } });
  }
  const want = `MAC ${mac}: Collision between vmi/${NS}/c1, vmi/${NS}/c2`;
  const events = await eventually(async () => {
    const out = await ok('get', 'events', '-n', NS, '-o', 'json');
    const items = (JSON.parse(out) as { items: { message: string; type: string; involvedObject: { name: string; kind: string } }[] }).items.filter((e) => e.message === want && (e as { reason?: string }).reason === 'MACCollision');
    return items.length >= 2 && items;
  }, 10_000, 'MACCollision on both VMIs');
  expect(events.map((e) => `${e.type} ${e.involvedObject.kind}/${e.involvedObject.name}`).sort()).toEqual(['Warning VirtualMachineInstance/c1', 'Warning VirtualMachineInstance/c2']);
});

test('a NetworkAddonsConfig without kubeMacPool removes the webhook: VMs then get no pool MACs', async () => {
  await ok('patch', 'networkaddonsconfig', 'cluster', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/kubeMacPool' }]));
  await eventually(async () => (await kubectl(sim, ['get', 'mutatingwebhookconfiguration', 'kubemacpool-mutator'])).code !== 0, 10_000, 'the webhook configuration to go');
  const off = await apply(vmManifest('vm-off'));
  expect(off.code, off.stderr).toBe(0);
  expect(ifaces(await getJson('vm', '-n', NS, 'vm-off')).map((i) => i.macAddress)).toEqual([undefined, undefined]);
  await ok('patch', 'networkaddonsconfig', 'cluster', '--type=merge', '-p', JSON.stringify({ spec: { kubeMacPool: {} } }));
  await eventually(async () => (await kubectl(sim, ['get', 'mutatingwebhookconfiguration', 'kubemacpool-mutator'])).code === 0, 10_000, 'the webhook configuration back');
  expect((await apply(vmManifest('vm-on'))).code).toBe(0);
  expect(ifaces(await getJson('vm', '-n', NS, 'vm-on')).every((i) => MAC.test(i.macAddress ?? ''))).toBe(true);
});
