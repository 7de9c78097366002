// §8.8 Connecting a virtual machine to an OVN-Kubernetes secondary network (layer2, localnet,
// MultiNetworkPolicy).
import { test, expect } from '../src/fixtures/test.ts';
import type { LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability } from '../src/fixtures/annotate.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';
import { RUN_LABEL } from '../src/fixtures/lab.ts';
import {
  addSecondaryNics, bridgeMappingNncp, MNP_API, offsetIPv4, ovnNad, removeNncp, waitNncp,
} from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { dfPing, startTcpResponder, tcpConnect } from '../src/probes/index.ts';

const MTU = 1300;
const IPERF_PORT = 5201;
const POLICY_PORT = 8081;

let scope: Scope;
let other: Scope; // a second namespace on the same network name
let x: LabVm; // node A, layer2 10.202.0.1
let y: LabVm; // node B, layer2 10.202.0.2 — selected by the MultiNetworkPolicy
let z: LabVm; // node B, other namespace, layer2 10.202.0.3 — the policy's `except`
let ln: LabVm | undefined; // localnet, on the underlay
let nodes: string[];
let skipWhy: string | undefined;
let localnetSkip: string | undefined;
let mappingNncp: string | undefined;

test.beforeAll(async ({ lab }) => {
  const facts = await lab.facts();
  nodes = facts.schedulableNodes;
  if (!facts.groups.includes('k8s.cni.cncf.io')) skipWhy = 'the target serves no k8s.cni.cncf.io API (no Multus NetworkAttachmentDefinitions)';
  else if (facts.networkType && facts.networkType !== 'OVNKubernetes') skipWhy = `the cluster network is ${facts.networkType}, not OVN-Kubernetes`;
  else if (nodes.length < 2) skipWhy = `needs 2 schedulable nodes, the target has ${nodes.length}`;
  if (skipWhy) return;
  const sec = lab.profile.secondary;
  if (!facts.groups.includes('nmstate.io')) localnetSkip = 'the target serves no nmstate.io API: no OVS bridge-mapping can be made';
  else if (!sec.underlayHostIPv4 || !sec.underlayVmIPv4Base) localnetSkip = 'the profile names no host on the underlay (secondary.underlayHostIPv4, underlayVmIPv4Base)';

  [scope, other] = await Promise.all([lab.scope('ovn-secondary'), lab.scope('ovn-secondary-peer')]);
  // The network name is cluster-wide: unique per run, shared by both namespaces' NADs.
  const network = `kvnet-l2-${scope.namespace.slice(-5)}`;
  const localnet = `kvnet-ln-${scope.namespace.slice(-5)}`;
  await Promise.all([
    lab.kube.create(ovnNad(scope.namespace, 'l2', { network, topology: 'layer2', mtu: MTU })),
    lab.kube.create(ovnNad(other.namespace, 'l2', { network, topology: 'layer2', mtu: MTU })),
  ]);
  if (!localnetSkip) {
    mappingNncp = localnet;
    await lab.kube.create(bridgeMappingNncp(localnet, localnet, sec.localnetBridge, { [RUN_LABEL]: lab.runId }));
    const c = await waitNncp(lab.kube, localnet);
    if (!c.some((k) => k.type === 'Available' && k.status === 'True')) localnetSkip = `the bridge-mapping NNCP did not become Available: ${JSON.stringify(c)}`;
    else await lab.kube.create(ovnNad(scope.namespace, 'localnet', { network: localnet, topology: 'localnet' }));
  }
  const l2 = (ip: string) => (vm: KObject) => addSecondaryNics(vm, [{ name: 'l2', nad: 'l2', addresses: [`${ip}/24`] }]);
  const lnAddr = sec.underlayVmIPv4Base ? offsetIPv4(sec.underlayVmIPv4Base, 0) : '';
  [x, y, z, ln] = await Promise.all([
    scope.vm({ name: 'x', node: nodes[0], customize: l2('10.202.0.1') }),
    scope.vm({ name: 'y', node: nodes[1], labels: { 'kvnet.io/role': 'server' }, customize: l2('10.202.0.2') }),
    other.vm({ name: 'z', node: nodes[1], customize: l2('10.202.0.3') }),
    localnetSkip ? Promise.resolve(undefined)
      : scope.vm({ name: 'ln', node: nodes[0], customize: (vm) => addSecondaryNics(vm, [{ name: 'ln', nad: 'localnet', addresses: [`${lnAddr}/${sec.underlayPrefix}`] }]) }),
  ]);
  scope.defer(await startTcpResponder(y.guest, POLICY_PORT, 'y-policy', { family: 4 }));
});

test.afterAll(async ({ lab }) => {
  await Promise.all([scope?.dispose(), other?.dispose()]);
  if (mappingNncp) await removeNncp(lab.kube, mappingNncp);
});

test.beforeEach(() => test.skip(!!skipWhy, skipWhy));

async function reaches(from: LabVm, ip: string, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) if ((await from.guest.exec(`ping -n -c 1 -W 1 ${ip}`, { timeoutMs: 10_000 })).code === 0) return true;
  return false;
}

test.describe('8.8.1.1 Layer 2 topology', () => {
  test('a layer2 network connects VMs on different nodes with no node configuration', async () => {
    await capability('Secondary networks', 'OVN-Kubernetes layer2', '8.8.1.1', { placement: 'cross-node' });
    expect(x.node).not.toBe(y.node);
    expect(await reaches(x, '10.202.0.2'), 'ping 10.202.0.2 (VM y, other node) over the layer2 overlay').toBe(true);
  });

  test('NADs in two namespaces with the same network name share one layer-2 segment', async () => {
    await capability('Secondary networks', 'OVN-Kubernetes layer2', '8.8.1.1', { placement: 'cross-namespace' });
    expect(z.namespace).not.toBe(x.namespace);
    expect(await reaches(x, '10.202.0.3'), `ping 10.202.0.3 (VM z in ${z.namespace})`).toBe(true);
  });

  test('the NAD mtu is the guest NIC MTU, and DF frames of that size pass, one byte more does not', async () => {
    await capability('Secondary networks', 'OVN-Kubernetes layer2 MTU', '8.8.1.1', { placement: 'cross-node' });
    expect(Number(await x.guest.execOk('cat /sys/class/net/eth1/mtu')), 'guest eth1 MTU').toBe(MTU);
    expect(await dfPing(x.guest, '10.202.0.2', MTU - 28), `DF ping of ${MTU - 28} bytes`).toBe(true);
    expect(await dfPing(x.guest, '10.202.0.2', MTU - 27), `DF ping of ${MTU - 27} bytes must not pass`).toBe(false);
  });
});

test.describe('8.8.1.2 Localnet topology', () => {
  test.beforeEach(() => test.skip(!!localnetSkip, localnetSkip));

  test('a localnet network reaches a host on the physical underlay through the OVS bridge mapping', async ({ lab }) => {
    await capability('Secondary networks', 'OVN-Kubernetes localnet', '8.8.1.2');
    const sec = lab.profile.secondary;
    expect(await reaches(ln as LabVm, sec.underlayHostIPv4), `ping the underlay host ${sec.underlayHostIPv4}`).toBe(true);
    const r = await tcpConnect((ln as LabVm).guest, sec.underlayHostIPv4, sec.underlayHostPort, { timeoutMs: 3000, readReply: true });
    expect(r.reachable, `TCP ${sec.underlayHostIPv4}:${sec.underlayHostPort}: ${r.error ?? ''}`).toBe(true);
  });
});

test.describe('8.8 MultiNetworkPolicy on an OVN-Kubernetes secondary network', () => {
  test('an ipBlock ingress rule allows the listed CIDR and denies its except block', async ({ lab }) => {
    await capability('Secondary networks', 'MultiNetworkPolicy', '8.8');
    await lab.kube.create({
      apiVersion: MNP_API, kind: 'MultiNetworkPolicy',
      metadata: { name: 'allow-l2-except-z', namespace: scope.namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': `${scope.namespace}/l2` } },
      spec: {
        podSelector: { matchLabels: { 'kvnet.io/role': 'server' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ ipBlock: { cidr: '10.202.0.0/24', except: ['10.202.0.3/32'] } }] }],
      },
    });
    try {
      // The policy is enforced asynchronously; give it a few seconds to deny.
      let denied = false;
      for (let i = 0; i < 10 && !denied; i++) {
        denied = !(await tcpConnect(z.guest, '10.202.0.2', POLICY_PORT, { timeoutMs: 1000 })).reachable;
        if (!denied) await new Promise((r) => setTimeout(r, 500));
      }
      expect(denied, 'TCP from 10.202.0.3 (in except) to the selected VM must be denied').toBe(true);
      const allowed = await tcpConnect(x.guest, '10.202.0.2', POLICY_PORT, { timeoutMs: 3000, readReply: true });
      expect(allowed.reachable, `TCP from 10.202.0.1 (in cidr) must be allowed: ${allowed.error ?? ''}`).toBe(true);
      const unselected = await tcpConnect(z.guest, '10.202.0.1', 22, { timeoutMs: 3000 });
      expect(unselected.reachable, 'a VM the podSelector does not pick is not isolated').toBe(true);
    } finally {
      await lab.kube.delete({ apiVersion: MNP_API, kind: 'MultiNetworkPolicy', metadata: { name: 'allow-l2-except-z', namespace: scope.namespace } });
    }
  });

  test('an egress ipBlock rule lets out only the listed CIDR', async ({ lab }) => {
    await capability('Secondary networks', 'MultiNetworkPolicy', '8.8');
    await lab.kube.create({
      apiVersion: MNP_API, kind: 'MultiNetworkPolicy',
      metadata: { name: 'egress-to-x', namespace: scope.namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'l2' } },
      spec: { podSelector: { matchLabels: { 'kvnet.io/role': 'server' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.202.0.1/32' } }] }] },
    });
    try {
      let denied = false;
      for (let i = 0; i < 10 && !denied; i++) {
        denied = !(await tcpConnect(y.guest, '10.202.0.3', 22, { timeoutMs: 1000 })).reachable;
        if (!denied) await new Promise((r) => setTimeout(r, 500));
      }
      expect(denied, 'TCP from the selected VM to 10.202.0.3 (not listed) must be denied').toBe(true);
      const ok = await tcpConnect(y.guest, '10.202.0.1', 22, { timeoutMs: 3000 });
      expect(ok.reachable, `TCP to 10.202.0.1 (listed) must be allowed: ${ok.error ?? ''}`).toBe(true);
    } finally {
      await lab.kube.delete({ apiVersion: MNP_API, kind: 'MultiNetworkPolicy', metadata: { name: 'egress-to-x', namespace: scope.namespace } });
    }
  });
});

test.describe('Measured on the OVN-Kubernetes layer2 network', () => {
  test('ICMP latency guest to guest over layer2, cross-node', async ({ lab }) => {
    await capability('Secondary networks', 'OVN-Kubernetes layer2', '8.8.1.1', { placement: 'cross-node', family: 'IPv4' });
    await measureLatency(lab.profile, x.guest, '10.202.0.2', { key: 'ovn-layer2', label: 'ovn-layer2' }, lab.profile.thresholds.secondary);
  });

  test('TCP throughput guest to guest over layer2, cross-node', async ({ lab }) => {
    await capability('Secondary networks', 'OVN-Kubernetes layer2', '8.8.1.1', { placement: 'cross-node', family: 'IPv4' });
    await measureThroughput(lab.profile, x.guest, y.guest, '10.202.0.2', IPERF_PORT, { key: 'ovn-layer2', label: 'ovn-layer2' }, lab.profile.thresholds.secondary);
  });
});

