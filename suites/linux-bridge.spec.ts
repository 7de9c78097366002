// §8.5 Connecting a virtual machine to a Linux bridge network: NNCP → NAD → VM interface.
import { test, expect } from '../src/fixtures/test.ts';
import type { LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability } from '../src/fixtures/annotate.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';
import { RUN_LABEL } from '../src/fixtures/lab.ts';
import {
  addSecondaryNics, bridgeNad, conditionsOf, linuxBridgeNncp, NAD_API, NNCP_API, removeNncp, waitNncp, type Condition,
} from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { tcpConnect } from '../src/probes/index.ts';

const BRIDGE = 'kvbr-lb';
const IPERF_PORT = 5201;

let scope: Scope;
let a: LabVm; // node A: eth1 lb-net, eth2 lb-v100, eth3 lb-spoof
let b: LabVm; // node B: the same three networks
let c: LabVm; // node B: eth1 on VLAN 200, in the VLAN 100 subnet
let nodes: string[];
let skipWhy: string | undefined;
let nncp: string;
let nncpConditions: Condition[] = [];

test.beforeAll(async ({ lab }) => {
  const facts = await lab.facts();
  nodes = facts.schedulableNodes;
  const port = lab.profile.secondary.bridgePort;
  if (!facts.groups.includes('nmstate.io')) skipWhy = 'the target serves no nmstate.io API (Kubernetes NMState Operator not installed)';
  else if (!facts.groups.includes('k8s.cni.cncf.io')) skipWhy = 'the target serves no k8s.cni.cncf.io API (no Multus NetworkAttachmentDefinitions)';
  else if (!port) skipWhy = 'the profile names no spare node NIC for the bridge (secondary.bridgePort)';
  else if (nodes.length < 2) skipWhy = `needs 2 schedulable nodes, the target has ${nodes.length}`;
  if (skipWhy) return;
  scope = await lab.scope('linux-bridge');
  nncp = `kvnet-lb-${scope.namespace.slice(-5)}`;
  await lab.kube.create(linuxBridgeNncp(nncp, BRIDGE, port, { [RUN_LABEL]: lab.runId }));
  nncpConditions = await waitNncp(lab.kube, nncp);
  if (!nncpConditions.some((x) => x.type === 'Available' && x.status === 'True')) return;
  const ns = scope.namespace;
  await Promise.all([
    lab.kube.create(bridgeNad(ns, 'lb-net', BRIDGE)),
    lab.kube.create(bridgeNad(ns, 'lb-v100', BRIDGE, { vlan: 100 })),
    lab.kube.create(bridgeNad(ns, 'lb-v200', BRIDGE, { vlan: 200 })),
    lab.kube.create(bridgeNad(ns, 'lb-spoof', BRIDGE, { macspoofchk: true })),
  ]);
  const three = (i: number) => (vm: KObject) => addSecondaryNics(vm, [
    { name: 'net', nad: 'lb-net', addresses: [`10.201.0.${i}/24`] },
    { name: 'v100', nad: 'lb-v100', addresses: [`10.201.1.${i}/24`] },
    { name: 'spoof', nad: 'lb-spoof', addresses: [`10.201.2.${i}/24`] },
  ]);
  [a, b, c] = await Promise.all([
    scope.vm({ name: 'a', node: nodes[0], customize: three(1) }),
    scope.vm({ name: 'b', node: nodes[1], customize: three(2) }),
    scope.vm({ name: 'c', node: nodes[1], customize: (vm) => addSecondaryNics(vm, [{ name: 'v200', nad: 'lb-v200', addresses: ['10.201.1.3/24'] }]) }),
  ]);
});

test.afterAll(async ({ lab }) => {
  await scope?.dispose();
  if (nncp) await removeNncp(lab.kube, nncp);
});

test.beforeEach(({}, info) => {
  test.skip(!!skipWhy, skipWhy);
  if (!info.title.includes('NNCP')) expect(a && b && c, `the VMs did not start: NNCP ${nncp} is not Available (${JSON.stringify(nncpConditions)})`).toBeTruthy();
});

/** Pings until one reply or `tries` attempts (a fresh L2 path may need one ARP round). */
async function reaches(from: LabVm, ip: string, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const r = await from.guest.exec(`ping -n -c 1 -W 1 ${ip}`, { timeoutMs: 10_000 });
    if (r.code === 0) return true;
  }
  return false;
}

/** `sudo -n` where the guest user is not root (cloud images), nothing where it is. */
const AS_ROOT = '$(command -v sudo >/dev/null 2>&1 && echo sudo -n)';

/** Changes the guest NIC's MAC (as a guest user may) and flushes neighbours so the next packets carry it. */
async function withMac<T>(vm: LabVm, dev: string, mac: string, fn: () => Promise<T>): Promise<T> {
  const orig = (await vm.guest.execOk(`cat /sys/class/net/${dev}/address`)).trim();
  await vm.guest.execOk(`${AS_ROOT} ip link set dev ${dev} address ${mac} && ${AS_ROOT} ip neigh flush dev ${dev}`);
  try {
    return await fn();
  } finally {
    await vm.guest.exec(`${AS_ROOT} ip link set dev ${dev} address ${orig} && ${AS_ROOT} ip neigh flush dev ${dev}`, { timeoutMs: 10_000 });
  }
}

test.describe('8.5.1 Creating a Linux bridge NNCP', () => {
  test('the NNCP with a linux-bridge on a node NIC becomes Available on every node', async ({ lab }) => {
    await capability('Secondary networks', 'Linux bridge', '8.5.1');
    const avail = nncpConditions.find((x) => x.type === 'Available');
    expect(avail?.status, `NNCP ${nncp} conditions: ${JSON.stringify(nncpConditions)}`).toBe('True');
    const enactments = await lab.kube.list<KObject>('nmstate.io/v1beta1', 'NodeNetworkConfigurationEnactment', undefined, `nmstate.io/policy=${nncp}`);
    expect(enactments.length, 'one enactment per selected node').toBeGreaterThanOrEqual(2);
    for (const e of enactments) expect(conditionsOf(e).find((x) => x.type === 'Available')?.status, `${e.metadata?.name}`).toBe('True');
    const nns = await lab.kube.get<KObject>('nmstate.io/v1beta1', 'NodeNetworkState', undefined, nodes[0]);
    const ifaces = ((nns?.status as { currentState?: { interfaces?: { name: string; type: string; bridge?: { port?: { name: string }[] } }[] } })?.currentState?.interfaces ?? []);
    const br = ifaces.find((i) => i.name === BRIDGE);
    expect(br?.type, `NodeNetworkState ${nodes[0]} lists ${BRIDGE}`).toBe('linux-bridge');
    expect(br?.bridge?.port?.map((p) => p.name)).toContain(lab.profile.secondary.bridgePort);
    expect((await lab.kube.get<KObject>(NNCP_API, 'NodeNetworkConfigurationPolicy', undefined, nncp))?.metadata?.name).toBe(nncp);
  });
});

test.describe('8.5.2 Creating a Linux bridge NAD', () => {
  test('the network attachment definition exists in the VM namespace', async ({ lab }) => {
    await capability('Secondary networks', 'Linux bridge', '8.5.2');
    const nad = await lab.kube.get<KObject>(NAD_API, 'NetworkAttachmentDefinition', scope.namespace, 'lb-net');
    expect(nad, 'oc get network-attachment-definition lb-net').toBeTruthy();
    expect(JSON.parse((nad?.spec as { config: string }).config).type).toBe('bridge');
  });

  test('VMs on different nodes talk over the bridge network with static IPs from cloud-init', async () => {
    await capability('Secondary networks', 'Linux bridge', '8.5.3', { placement: 'cross-node' });
    expect(a.node).not.toBe(b.node);
    expect(await a.guest.execOk('ip -4 -o addr show eth1')).toContain('10.201.0.1/24');
    expect(await reaches(a, '10.201.0.2'), 'ping 10.201.0.2 (VM b, other node) over the bridge').toBe(true);
    const tcp = await tcpConnect(b.guest, '10.201.0.1', 22, { timeoutMs: 3000 });
    expect(tcp.reachable, `TCP 10.201.0.1:22 from b: ${tcp.error ?? ''}`).toBe(true);
  });

  test('VMs on the same VLAN talk across nodes; a different VLAN is isolated', async () => {
    await capability('Secondary networks', 'Linux bridge VLAN', '8.5.2', { placement: 'cross-node' });
    expect(await reaches(a, '10.201.1.2'), 'VLAN 100 → VLAN 100 (VM b)').toBe(true);
    expect(await reaches(a, '10.201.1.3', 2), 'VLAN 100 → VLAN 200 (VM c) must not pass').toBe(false);
    expect(await reaches(c, '10.201.1.2', 2), 'VLAN 200 → VLAN 100 (VM b) must not pass').toBe(false);
  });

  test('with macspoofchk a guest that changes its MAC loses connectivity', async () => {
    await capability('Secondary networks', 'Linux bridge MAC spoof check', '8.5.2');
    expect(await reaches(a, '10.201.2.2'), 'baseline with the assigned MAC').toBe(true);
    const spoofed = await withMac(a, 'eth3', '02:00:00:de:ad:01', () => reaches(a, '10.201.2.2', 2));
    expect(spoofed, 'frames with a foreign source MAC must be dropped').toBe(false);
    expect(await reaches(a, '10.201.2.2'), 'connectivity returns with the assigned MAC').toBe(true);
  });

  test('without macspoofchk a guest that changes its MAC keeps connectivity', async () => {
    await capability('Secondary networks', 'Linux bridge MAC spoof check', '8.5.2');
    const ok = await withMac(a, 'eth1', '02:00:00:de:ad:02', () => reaches(a, '10.201.0.2'));
    expect(ok, 'macspoofchk: false lets any source MAC out').toBe(true);
  });
});

test.describe('Measured on the Linux bridge network', () => {
  test('ICMP latency guest to guest over the bridge, cross-node', async ({ lab }) => {
    await capability('Secondary networks', 'Linux bridge', '8.5.3', { placement: 'cross-node', family: 'IPv4' });
    await measureLatency(lab.profile, a.guest, '10.201.0.2', { key: 'linux-bridge', label: 'linux-bridge' }, lab.profile.thresholds.secondary);
  });

  test('TCP throughput guest to guest over the bridge, cross-node', async ({ lab }) => {
    await capability('Secondary networks', 'Linux bridge', '8.5.3', { placement: 'cross-node', family: 'IPv4' });
    await measureThroughput(lab.profile, a.guest, b.guest, '10.201.0.2', IPERF_PORT, { key: 'linux-bridge', label: 'linux-bridge' }, lab.profile.thresholds.secondary);
  });
});
