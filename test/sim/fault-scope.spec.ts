// Scoped faults, for real: pod-network-loss cuts every VM data path (cross-node pod network, a
// Service, a bridge NIC) but not SSH, and with a namespace selector only that namespace's VMs;
// overlay-mtu-low is a PMTU black hole between nodes; MetalLB assigns only from IPAddressPools.
// Faults are set with `kvnet sim fault` where a person would, so the CLI is tested on the way.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { expect, test } from '@playwright/test';
import { addSecondaryNics, ovnNad } from '../../src/fixtures/secondary.ts';
import { masqueradeVm } from '../../src/kube/vm.ts';
import type { KObject } from '../../src/kube/client.ts';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { DataPlaneSim, hasKubectl, type TestVm } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

const NS_A = 'loss-a';
const NS_B = 'loss-b';
const BRIDGE = 'br-loss';
const X_BR = '192.168.77.1';
const Z_BR = '192.168.77.2';
/** x and y also share an OVN layer2 network, which crosses nodes through the machine switch. */
const X_L2 = '192.168.78.1';
const Y_L2 = '192.168.78.2';
const L2 = { network: 'l2-faults', topology: 'layer2' as const };
const SVC_PORT = 8080;

let sim: DataPlaneSim;
let admin: SimAdmin;
/** x: loss-a, node-1, bridge and layer2 NICs. y: loss-b, node-2, layer2 NIC, Service backend. z: loss-b, node-1, bridge NIC. */
let x: TestVm;
let y: TestVm;
let z: TestVm;
let svcIP: string;

/** `kvnet sim fault …` as a person runs it. */
function kvnet(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'fault', ...args, '--kubeconfig', sim.sim.kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('error', rej);
    c.on('close', (code) => res({ code, out, err }));
  });
}

async function kvnetOk(args: string[]): Promise<string> {
  const r = await kvnet(args);
  expect(r.code, `kvnet sim fault ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function bridgeNadIn(namespace: string): KObject {
  // No bridge.network.kubevirt.io resource: the bridge CNI makes the (uplink-less, node-local) bridge itself.
  return { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'lossnet', namespace }, spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: 'lossnet', type: 'bridge', bridge: BRIDGE }) } };
}

async function vmWith(name: string, namespace: string, node: string, nics: { bridge?: string; l2?: string }, labels?: Record<string, string>): Promise<TestVm> {
  const vm = masqueradeVm({ name, namespace, node, sshKeySecret: 'ssh-key', templateLabels: labels });
  addSecondaryNics(vm, [
    ...(nics.bridge ? [{ name: 'lossnet', nad: 'lossnet', addresses: [`${nics.bridge}/24`] }] : []),
    ...(nics.l2 ? [{ name: 'l2', nad: 'l2', addresses: [`${nics.l2}/24`] }] : []),
  ]);
  return sim.vmFrom(vm);
}

async function pings(from: TestVm, ip: string, o: { size?: number; tries?: number } = {}): Promise<boolean> {
  const df = o.size === undefined ? '' : `-M do -s ${o.size} `;
  const r = await from.guest.exec(`ping -4 -n ${df}-c ${o.tries ?? 3} -i 0.2 -W 1 ${ip}`);
  return r.code === 0 && !/ 0 received/.test(r.stdout);
}

async function connects(from: TestVm, host: string, port: number): Promise<boolean> {
  const r = await from.guest.exec(`timeout 4 socat -u TCP4:${host}:${port},connect-timeout=3 STDOUT`);
  return r.code === 0 && r.stdout.includes('svc-ok');
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  sim = await DataPlaneSim.start('fault-scope', {}, NS_A);
  admin = new SimAdmin(sim.sim.stateDir);
  await sim.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS_B } });
  await sim.secret(NS_B);
  await Promise.all([NS_A, NS_B].flatMap((ns) => [sim.kube.create(bridgeNadIn(ns)), sim.kube.create(ovnNad(ns, 'l2', L2))]));
  [x, y, z] = await Promise.all([
    vmWith('x', NS_A, 'node-1', { bridge: X_BR, l2: X_L2 }),
    vmWith('y', NS_B, 'node-2', { l2: Y_L2 }, { app: 'y' }),
    vmWith('z', NS_B, 'node-1', { bridge: Z_BR }),
  ]);
  await y.guest.execOk(`nohup socat TCP-LISTEN:${SVC_PORT},fork,reuseaddr SYSTEM:'echo svc-ok' >/dev/null 2>&1 &`);
  const svc: KObject = await sim.kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'y', namespace: NS_B }, spec: { selector: { app: 'y' }, ports: [{ port: SVC_PORT, targetPort: SVC_PORT }] } });
  svcIP = (svc.spec as { clusterIP: string }).clusterIP;
});

test.afterAll(async () => {
  await sim?.stop();
});

test('positive controls: cross-node pod ping, Service connect and bridge-NIC ping all answer', async () => {
  expect(x.node).not.toBe(y.node);
  await expect.poll(() => connects(x, svcIP, SVC_PORT), { timeout: 30_000 }).toBe(true);
  expect(await pings(x, y.podIPv4)).toBe(true);
  expect(await pings(x, Z_BR)).toBe(true);
  expect(await pings(x, Y_L2)).toBe(true);
  expect(await pings(y, z.podIPv4)).toBe(true);
});

test('pod-network-loss at 100% cuts every VM data path, and SSH still works', async () => {
  await kvnetOk(['set', 'pod-network-loss', '--percent', '100']);
  try {
    expect(await kvnetOk(['list'])).toMatch(/pod-network-loss\s+ACTIVE \{"percent":100\}/);
    expect(await pings(x, y.podIPv4), 'cross-node pod ping').toBe(false);
    expect(await connects(x, svcIP, SVC_PORT), 'Service connect').toBe(false);
    expect(await pings(x, Z_BR), 'bridge-NIC ping').toBe(false);
    expect(await pings(x, Y_L2), 'OVN layer2 ping across nodes').toBe(false);
    expect(await pings(y, z.podIPv4), 'y → z pod ping').toBe(false);
    // The control path: SSH over the VMI port-forward still runs commands on every guest.
    for (const g of [x, y, z]) expect((await g.guest.execOk('echo ssh-ok')).trim()).toBe('ssh-ok');
  } finally {
    await kvnetOk(['clear', 'pod-network-loss']);
  }
  await expect.poll(() => pings(x, y.podIPv4, { tries: 1 }), { timeout: 15_000 }).toBe(true);
});

test('with a namespace selector, only that namespace\'s VMs lose traffic', async () => {
  await kvnetOk(['set', 'pod-network-loss', '--percent', '100', '--namespace', NS_A]);
  try {
    // Control first, on paths whose ends are both outside the selector.
    expect(await pings(y, z.podIPv4), 'loss-b y → loss-b z').toBe(true);
    expect(await pings(z, y.podIPv4), 'loss-b z → loss-b y').toBe(true);
    expect(await pings(x, y.podIPv4), 'loss-a x → y').toBe(false);
    expect(await pings(x, Z_BR), 'loss-a x → z bridge').toBe(false);
    expect(await pings(z, X_BR), 'z → loss-a x bridge (x cannot answer)').toBe(false);
  } finally {
    await kvnetOk(['clear', 'pod-network-loss']);
  }
});

test('overlay-mtu-low: a full-MTU DF ping across nodes is dropped, a 1200-byte one and a same-node one pass', async () => {
  const full = 1400 - 28;
  expect(await pings(x, y.podIPv4, { size: full }), 'control: full MTU across nodes').toBe(true);
  expect(await pings(x, Y_L2, { size: full }), 'control: full MTU across nodes on layer2').toBe(true);
  await kvnetOk(['set', 'overlay-mtu-low']);
  try {
    expect(await pings(x, y.podIPv4, { size: 1200 }), 'control: 1200 bytes across nodes').toBe(true);
    expect(await pings(x, Y_L2, { size: 1200 }), 'control: 1200 bytes across nodes on layer2').toBe(true);
    expect(await pings(x, z.podIPv4, { size: full }), 'control: full MTU on the same node').toBe(true);
    expect(await pings(x, y.podIPv4, { size: full }), 'full MTU across nodes').toBe(false);
    expect(await pings(x, Y_L2, { size: full }), 'full MTU across nodes on layer2').toBe(false);
  } finally {
    await kvnetOk(['clear', 'overlay-mtu-low']);
  }
  expect(await pings(x, y.podIPv4, { size: full })).toBe(true);
});

test('kvnet sim fault: bad input gets one sentence and a non-zero exit, no stack', async () => {
  const cases: [string[], number, RegExp][] = [
    [['set', 'no-such-fault'], 2, /unknown fault "no-such-fault"/],
    [['set', 'pod-network-loss', '--percent', 'lots'], 2, /--percent must be a whole number from 1 to 100/],
    [['set', 'pod-network-loss', '--colour', 'red'], 2, /unknown flag --colour/],
    [['set', 'overlay-mtu-low', '--vm', 'x'], 1, /overlay-mtu-low cannot be scoped by vm \(it honours: node\)/],
    [['frobnicate'], 2, /unknown verb "frobnicate"/],
  ];
  for (const [args, code, msg] of cases) {
    const r = await kvnet(args);
    expect(r.code, args.join(' ')).toBe(code);
    expect(r.err).toMatch(msg);
    expect(r.err).not.toMatch(/\n\s+at /);
  }
  const gone = await new Promise<{ code: number | null; err: string }>((res) => {
    const c = spawn(process.execPath, ['bin/kvnet.js', 'sim', 'fault', 'list', '--kubeconfig', '/nonexistent/kubeconfig'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('close', (code) => res({ code, err }));
  });
  expect(gone.code).not.toBe(0);
  expect(gone.err).toMatch(/no kubeconfig at \/nonexistent\/kubeconfig/);
});

test('MetalLB serves IPAddressPools and assigns only from them; metallb-stuck leaves Services pending', async () => {
  const pools = await sim.kube.list('metallb.io/v1beta1', 'IPAddressPool', 'metallb-system');
  expect(pools.map((p) => p.metadata?.name)).toEqual(['default']);
  if (hasKubectl) {
    const got = await sim.kubectl(['get', 'ipaddresspools,l2advertisements', '-n', 'metallb-system']);
    expect(got.code, got.out).toBe(0);
    expect(got.out).toMatch(/ipaddresspool\.metallb\.io\/default\s+true/);
  }
  const lb = (name: string, annotations?: Record<string, string>) => sim.kube.create({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS_B, ...(annotations ? { annotations } : {}) },
    spec: { type: 'LoadBalancer', selector: { app: 'y' }, ports: [{ port: SVC_PORT, targetPort: SVC_PORT }] },
  });
  const ingress = async (name: string) => ((await sim.kube.get('v1', 'Service', NS_B, name))?.status as { loadBalancer?: { ingress?: { ip: string }[] } } | undefined)?.loadBalancer?.ingress?.[0]?.ip;
  const [lo, hi] = ((pools[0].spec as { addresses: string[] }).addresses[0]).split('-');
  const t0 = Date.now();
  await lb('lb-ok');
  await expect.poll(() => ingress('lb-ok'), { timeout: 15_000 }).toBeTruthy();
  const took = Date.now() - t0;
  const ip = (await ingress('lb-ok')) as string;
  const last = (a: string) => Number(a.split('.')[3]);
  expect(last(ip)).toBeGreaterThanOrEqual(last(lo));
  expect(last(ip)).toBeLessThanOrEqual(last(hi));
  expect((await sim.kube.get('v1', 'Service', NS_B, 'lb-ok'))?.metadata?.annotations?.['metallb.io/ip-allocated-from-pool']).toBe('default');
  // The speaker announces only advertised pools: the address answers from the host while an
  // L2Advertisement covers the pool, and stops answering without one.
  const answers = () => new Promise<boolean>((res) => {
    const c = net.connect({ host: ip, port: SVC_PORT, timeout: 3000 });
    let got = '';
    c.on('data', (d: Buffer) => (got += d));
    c.on('end', () => res(got.includes('svc-ok')));
    c.on('error', () => res(false));
    c.on('timeout', () => { c.destroy(); res(false); });
  });
  await expect.poll(answers, { timeout: 15_000 }).toBe(true);
  const ad = await sim.kube.get('metallb.io/v1beta1', 'L2Advertisement', 'metallb-system', 'default') as KObject;
  await sim.kube.delete(ad);
  try {
    await expect.poll(answers, { timeout: 15_000 }).toBe(false);
  } finally {
    await sim.kube.create({ apiVersion: ad.apiVersion, kind: ad.kind, metadata: { name: 'default', namespace: 'metallb-system' }, spec: ad.spec });
  }
  await expect.poll(answers, { timeout: 15_000 }).toBe(true);
  // A pool that does not exist: no address, and the controller says why in an event.
  await lb('lb-nopool', { 'metallb.io/address-pool': 'nope' });
  await expect.poll(async () => (await sim.kube.list('v1', 'Event', NS_B)).some((e) => (e as { reason?: string; involvedObject?: { name?: string } }).reason === 'AllocationFailed' && (e as { involvedObject?: { name?: string } }).involvedObject?.name === 'lb-nopool'), { timeout: 15_000 }).toBe(true);
  expect(await ingress('lb-nopool')).toBeUndefined();
  // Stuck: a new Service stays pending until the fault is cleared.
  await admin.inject('metallb-stuck');
  try {
    await lb('lb-stuck');
    // Bounded: three times what the healthy controller took above (at least 2 s), checked as it goes.
    for (const until = Date.now() + Math.max(2000, 3 * took); Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      expect(await ingress('lb-stuck')).toBeUndefined();
    }
  } finally {
    await admin.clear('metallb-stuck');
  }
  await expect.poll(() => ingress('lb-stuck'), { timeout: 15_000 }).toBeTruthy();
});
