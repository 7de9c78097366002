// §8.8 Connecting a virtual machine to an OVN-Kubernetes secondary network (layer2, localnet,
// MultiNetworkPolicy).
import { test as base, expect } from '../src/fixtures/test.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { RUN_LABEL, type Lab, type LabVm } from '../src/fixtures/lab.ts';
import { expectReachable, icmpPath, tcpPath } from '../src/fixtures/paths.ts';
import { bridgeMappingNncp, MNP_API, offsetIPv4, ovnNad } from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { bridgeNet, vm } from '../src/kube/vm-spec.ts';
import { pathMtu, startTcpResponder } from '../src/probes/index.ts';
import { expectBlockedSoon } from './eventually-blocked.ts';
import { measuredLink, type MeasuredLink } from './measured-link.ts';
import { onNncp, releaseNncp, type NncpGated } from './nncp-gate.ts';

const MTU = 1300;
const POLICY_PORT = 8081;
const EPIC = 'Secondary networks';
const NEEDS = [requires.api('k8s.cni.cncf.io', 'Multus NetworkAttachmentDefinitions'), requires.networkType('OVNKubernetes'), requires.nodes(2)];
const LOCALNET_NEEDS = [
  ...NEEDS,
  requires.api('nmstate.io', 'Kubernetes NMState Operator, for the OVS bridge mapping'),
  requires.profile('secondary.underlayHostIPv4', 'a host on the physical underlay'),
  requires.profile('secondary.underlayVmIPv4Base', 'free underlay addresses for VMs'),
];

interface Layer2 {
  x: LabVm; // away from y: layer2 10.202.0.1
  y: LabVm; // layer2 10.202.0.2, label kvnet.io/role=server: what the MultiNetworkPolicies select
  z: LabVm; // the peer namespace, with y: layer2 10.202.0.3, the ingress policy's `except`
  namespace: string;
}

const test = base.extend<{ link: MeasuredLink }, { l2: Layer2; ln: NncpGated<LabVm> }>({
  link: async ({ l2 }, use) => use({ client: l2.x, server: l2.y, serverAddr: '10.202.0.2' }),
  l2: [async ({ lab }, use) => {
    const [scope, other] = await Promise.all([lab.scope('ovn-secondary'), lab.scope('ovn-secondary-peer')]);
    // The network name is cluster-wide: one per scope, shared by both namespaces' NADs.
    const network = `kvnet-l2-${scope.namespace.slice(-5)}`;
    await Promise.all([
      scope.apply(ovnNad(scope.namespace, 'l2', { network, topology: 'layer2', mtu: MTU })),
      other.apply(ovnNad(other.namespace, 'l2', { network, topology: 'layer2', mtu: MTU })),
    ]);
    const l2 = (name: string, ip: string) => vm(name).nic('l2', bridgeNet('l2'), { addresses: [`${ip}/24`] });
    // y first: x's anti-affinity and z's node follow from where y runs.
    const y = await scope.create(l2('y', '10.202.0.2').labels({ 'kvnet.io/role': 'server' }));
    const [x, z] = await Promise.all([
      scope.create(l2('x', '10.202.0.1').placement({ awayFrom: ['y'] })),
      other.create(l2('z', '10.202.0.3').placement({ node: y.node })),
    ]);
    await use({ x, y, z, namespace: scope.namespace });
    await Promise.all([scope.dispose(), other.dispose()]);
  }, { scope: 'worker', timeout: 1_500_000 }],

  ln: [async ({ lab }, use) => {
    const sec = lab.profile.secondary;
    const scope = await lab.scope('ovn-localnet');
    const localnet = `kvnet-ln-${scope.namespace.slice(-5)}`;
    const nncp = await onNncp(lab, bridgeMappingNncp(localnet, localnet, sec.localnetBridge, { [RUN_LABEL]: lab.runId }), async () => {
      await scope.apply(ovnNad(scope.namespace, 'localnet', { network: localnet, topology: 'localnet' }));
      return scope.create(vm('ln').nic('ln', bridgeNet('localnet'), { addresses: [`${offsetIPv4(sec.underlayVmIPv4Base, 0)}/${sec.underlayPrefix}`] }));
    });
    await use(nncp);
    await releaseNncp(lab, localnet, scope);
  }, { scope: 'worker', timeout: 900_000 }],
});

const y = { name: 'y', host: '10.202.0.2' };

capability('8.8.1.1 Layer 2 topology', { epic: EPIC, feature: 'OVN-Kubernetes layer2', section: '8.8.1.1', requires: NEEDS }, () => {
  test('a layer2 network connects VMs on different nodes with no node configuration', details({ params: { placement: 'cross-node' } }), async ({ l2 }) => {
    expect(l2.x.node, 'x and y run on different nodes').not.toBe(l2.y.node);
    await expectReachable(icmpPath(l2.x, y));
  });

  test('NADs in two namespaces with the same network name share one layer-2 segment', details({ params: { placement: 'cross-namespace' } }), async ({ l2 }) => {
    expect(l2.z.namespace).not.toBe(l2.x.namespace);
    await expectReachable(icmpPath(l2.x, { name: `z (${l2.z.namespace})`, host: '10.202.0.3' }));
  });
});

capability('8.8.1.1 Layer 2 topology: mtu', { epic: EPIC, feature: 'OVN-Kubernetes layer2 MTU', section: '8.8.1.1', requires: NEEDS }, () => {
  test('the NAD mtu is the guest NIC MTU', async ({ l2 }) => {
    for (const v of [l2.x, l2.y]) expect((await v.os.link('eth1')).mtu, `${v.name} eth1 MTU`).toBe(MTU);
  });

  test('DF frames of the NAD mtu cross nodes on the layer2 network', details({ params: { placement: 'cross-node' } }), async ({ l2 }) => {
    // The largest DF echo that gets a reply from the guest on the other node; above MTU − 28 the
    // sender itself refuses, so that is the top of the search.
    const r = await pathMtu(l2.x.guest, y.host, { lo: 548, hi: MTU - 28 });
    expect(r.maxPayload, `largest DF ping payload x → y ${y.host} across nodes (probes: ${JSON.stringify(r.probes)})`).toBe(MTU - 28);
  });
});

capability('8.8.1.2 Localnet topology', { epic: EPIC, feature: 'OVN-Kubernetes localnet', section: '8.8.1.2', requires: LOCALNET_NEEDS }, () => {
  test('a localnet network reaches a host on the physical underlay through the OVS bridge mapping', async ({ lab, ln }) => {
    const sec = lab.profile.secondary;
    const host = { name: 'the underlay host', host: sec.underlayHostIPv4 };
    await expectReachable(icmpPath(ln.get(), host));
    await expectReachable(tcpPath(ln.get(), host, sec.underlayHostPort));
  });
});

/** Creates the policy for the body's length; gone again (and its deny with it) afterwards. */
async function withPolicy(lab: Lab, policy: KObject, body: () => Promise<void>): Promise<void> {
  await lab.kube.apply(policy);
  try {
    await body();
  } finally {
    await lab.kube.delete(policy);
  }
}

/** y answers `y-policy` on POLICY_PORT for the body's length. */
async function withResponder(on: LabVm, body: () => Promise<void>): Promise<void> {
  const stop = await startTcpResponder(on.guest, POLICY_PORT, 'y-policy', { family: 4 });
  try {
    await body();
  } finally {
    await stop();
  }
}

capability('8.8 MultiNetworkPolicy on an OVN-Kubernetes secondary network', { epic: EPIC, feature: 'MultiNetworkPolicy', section: '8.8', requires: NEEDS }, () => {
  test('an ipBlock ingress rule allows the listed CIDR and denies its except block', async ({ lab, l2 }) => {
    const { x, z } = l2;
    const yPort = (from: LabVm) => tcpPath(from, { name: 'y (selected)', host: y.host }, POLICY_PORT, { timeoutMs: 1500, expectText: 'y-policy' });
    await withResponder(l2.y, async () => {
      await expectReachable(yPort(z)); // before the policy, the except block reaches y
      await withPolicy(lab, {
        apiVersion: MNP_API, kind: 'MultiNetworkPolicy',
        metadata: { name: 'allow-l2-except-z', namespace: l2.namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': `${l2.namespace}/l2` } },
        spec: {
          podSelector: { matchLabels: { 'kvnet.io/role': 'server' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ ipBlock: { cidr: '10.202.0.0/24', except: ['10.202.0.3/32'] } }] }],
        },
      }, async () => {
        await expectBlockedSoon(yPort(z), { control: yPort(x) });
        // A VM the podSelector does not pick is not isolated.
        await expectReachable(tcpPath(z, { name: 'x (not selected)', host: '10.202.0.1' }, 22));
      });
    });
  });

  test('an egress ipBlock rule lets out only the listed CIDR', async ({ lab, l2 }) => {
    const fromY = (to: LabVm, host: string) => tcpPath(l2.y, { name: to.name, host }, 22, { timeoutMs: 1500 });
    await expectReachable(fromY(l2.z, '10.202.0.3')); // before the policy, y reaches z
    await withPolicy(lab, {
      apiVersion: MNP_API, kind: 'MultiNetworkPolicy',
      metadata: { name: 'egress-to-x', namespace: l2.namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'l2' } },
      spec: { podSelector: { matchLabels: { 'kvnet.io/role': 'server' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.202.0.1/32' } }] }] },
    }, () => expectBlockedSoon(fromY(l2.z, '10.202.0.3'), { control: fromY(l2.x, '10.202.0.1') }));
  });
});

measuredLink(test, {
  title: 'Measured on the OVN-Kubernetes layer2 network', feature: 'OVN-Kubernetes layer2', section: '8.8.1.1', requires: NEEDS,
  over: 'over layer2', key: 'ovn-layer2',
});
