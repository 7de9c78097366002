// §8.5 Connecting a virtual machine to a Linux bridge network: NNCP → NAD → VM interface.
import { test as base, expect } from '../src/fixtures/test.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { RUN_LABEL, type LabVm } from '../src/fixtures/lab.ts';
import { expectBlocked, expectReachable, icmpPath, tcpPath } from '../src/fixtures/paths.ts';
import { bridgeNad, conditionsOf, linuxBridgeNncp, NAD_API, NNCP_API } from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { bridgeNet, vm } from '../src/kube/vm-spec.ts';
import { fromForeignMac } from './foreign-mac.ts';
import { measuredLink, type MeasuredLink } from './measured-link.ts';
import { onNncp, releaseNncp, type NncpGated } from './nncp-gate.ts';

const BRIDGE = 'kvbr-lb';
const EPIC = 'Secondary networks';
const NEEDS = [
  requires.api('nmstate.io', 'Kubernetes NMState Operator'),
  requires.api('k8s.cni.cncf.io', 'Multus NetworkAttachmentDefinitions'),
  requires.profile('secondary.bridgePort', 'a spare node NIC for the bridge'),
  requires.nodes(2),
];

interface Vms {
  a: LabVm; // eth1 lb-net 10.201.0.1, eth2 lb-v100 10.201.1.1, eth3 lb-spoof 10.201.2.1
  b: LabVm; // away from a: the same three networks, .2
  c: LabVm; // with b: eth1 on VLAN 200, 10.201.1.3 — inside VLAN 100's subnet, so only the tag separates them
  d: LabVm; // with b: eth1 on VLAN 200, 10.201.1.4 — c's peer, the control that c's NIC is attached
}

interface LinuxBridge {
  namespace: string;
  /** The bridge's NNCP and the VMs built on it. */
  bridge: NncpGated<Vms>;
}

const test = base.extend<{ link: MeasuredLink }, { lb: LinuxBridge }>({
  link: async ({ lb }, use) => use({ client: lb.bridge.get().a, server: lb.bridge.get().b, serverAddr: '10.201.0.2' }),
  lb: [async ({ lab }, use) => {
    const scope = await lab.scope('linux-bridge');
    const ns = scope.namespace;
    await Promise.all([
      scope.apply(bridgeNad(ns, 'lb-net', BRIDGE)),
      scope.apply(bridgeNad(ns, 'lb-v100', BRIDGE, { vlan: 100 })),
      scope.apply(bridgeNad(ns, 'lb-v200', BRIDGE, { vlan: 200 })),
      scope.apply(bridgeNad(ns, 'lb-spoof', BRIDGE, { macspoofchk: true })),
    ]);
    const policy = linuxBridgeNncp(`kvnet-lb-${ns.slice(-5)}`, BRIDGE, lab.profile.secondary.bridgePort, { [RUN_LABEL]: lab.runId });
    const bridge = await onNncp(lab, policy, async (): Promise<Vms> => {
      const three = (name: string, i: number) => vm(name)
        .nic('net', bridgeNet('lb-net'), { addresses: [`10.201.0.${i}/24`] })
        .nic('v100', bridgeNet('lb-v100'), { addresses: [`10.201.1.${i}/24`] })
        .nic('spoof', bridgeNet('lb-spoof'), { addresses: [`10.201.2.${i}/24`] });
      const v200 = (name: string, i: number) => vm(name).placement({ awayFrom: ['a'] }).nic('v200', bridgeNet('lb-v200'), { addresses: [`10.201.1.${i}/24`] });
      // a first: the others' anti-affinity needs a's pod to be placed.
      const a = await scope.create(three('a', 1));
      const [b, c, d] = await scope.createAll([three('b', 2).placement({ awayFrom: ['a'] }), v200('c', 3), v200('d', 4)]);
      return { a, b, c, d };
    });
    await use({ namespace: ns, bridge });
    await releaseNncp(lab, bridge.nncp, scope);
  }, { scope: 'worker', timeout: 1_500_000 }],
});

capability('8.5.1 Creating a Linux bridge NNCP', { epic: EPIC, feature: 'Linux bridge', section: '8.5.1', requires: NEEDS }, () => {
  test('the NNCP with a linux-bridge on a node NIC becomes Available on every node', async ({ lab, lb }) => {
    const { nncp, conditions } = lb.bridge;
    expect(conditions.find((x) => x.type === 'Available')?.status, `NNCP ${nncp} conditions: ${JSON.stringify(conditions)}`).toBe('True');
    const nodes = (await lab.facts()).schedulableNodes;
    const enactments = await lab.kube.list<KObject>('nmstate.io/v1beta1', 'NodeNetworkConfigurationEnactment', undefined, `nmstate.io/policy=${nncp}`);
    expect(enactments.length, 'one enactment per node').toBeGreaterThanOrEqual(nodes.length);
    for (const e of enactments) expect(conditionsOf(e).find((x) => x.type === 'Available')?.status, `${e.metadata?.name}`).toBe('True');
    const nns = await lab.kube.get<KObject>('nmstate.io/v1beta1', 'NodeNetworkState', undefined, nodes[0]);
    const ifaces = ((nns?.status as { currentState?: { interfaces?: { name: string; type: string; bridge?: { port?: { name: string }[] } }[] } })?.currentState?.interfaces ?? []);
    const br = ifaces.find((i) => i.name === BRIDGE);
    expect(br?.type, `NodeNetworkState ${nodes[0]} lists ${BRIDGE}`).toBe('linux-bridge');
    expect(br?.bridge?.port?.map((p) => p.name)).toContain(lab.profile.secondary.bridgePort);
    expect((await lab.kube.get<KObject>(NNCP_API, 'NodeNetworkConfigurationPolicy', undefined, nncp))?.metadata?.name).toBe(nncp);
  });
});

capability('8.5.2 Creating a Linux bridge NAD', { epic: EPIC, feature: 'Linux bridge', section: '8.5.2', requires: NEEDS }, () => {
  test('the network attachment definition exists in the VM namespace', async ({ lab, lb }) => {
    const nad = await lab.kube.get<KObject>(NAD_API, 'NetworkAttachmentDefinition', lb.namespace, 'lb-net');
    expect(nad, 'oc get network-attachment-definition lb-net').toBeTruthy();
    expect(JSON.parse((nad?.spec as { config: string }).config).type).toBe('bridge');
  });
});

capability('8.5.3 Configuring a VM network interface', { epic: EPIC, feature: 'Linux bridge', section: '8.5.3', requires: NEEDS }, () => {
  test('VMs on different nodes talk over the bridge network with static IPs from cloud-init', details({ params: { placement: 'cross-node' } }), async ({ lb }) => {
    const { a, b } = lb.bridge.get();
    expect(a.node, 'a and b run on different nodes').not.toBe(b.node);
    expect(await a.os.addresses('eth1', 4), 'a eth1 has its cloud-init address').toContain('10.201.0.1/24');
    await expectReachable(icmpPath(a, { name: 'b', host: '10.201.0.2' }));
    await expectReachable(tcpPath(b, { name: 'a', host: '10.201.0.1' }, 22));
  });
});

capability('8.5.2 VLAN tag on a Linux bridge NAD', { epic: EPIC, feature: 'Linux bridge VLAN', section: '8.5.2', requires: NEEDS }, () => {
  test('VMs on the same VLAN talk across nodes; a different VLAN is isolated', details({ params: { placement: 'cross-node' } }), async ({ lb }) => {
    const { a, c } = lb.bridge.get();
    const bOn100 = { name: 'b (VLAN 100)', host: '10.201.1.2' };
    // The same source NIC and destination node each time; only the VLAN differs.
    await expectBlocked(icmpPath(a, { name: 'c (VLAN 200)', host: '10.201.1.3' }, { tries: 2 }), { control: icmpPath(a, bOn100) });
    await expectBlocked(icmpPath(c, bOn100, { tries: 2 }), { control: icmpPath(c, { name: 'd (VLAN 200)', host: '10.201.1.4' }) });
  });
});

capability('8.5.2 MAC spoof check on a Linux bridge NAD', { epic: EPIC, feature: 'Linux bridge MAC spoof check', section: '8.5.2', requires: NEEDS }, () => {
  test('with macspoofchk a guest that changes its MAC loses connectivity', async ({ lb }) => {
    const { a } = lb.bridge.get();
    const b = { name: 'b (macspoofchk)', host: '10.201.2.2' };
    await expectBlocked(fromForeignMac(a, 'eth3', '02:00:00:de:ad:01', icmpPath(a, b, { tries: 2 })), { control: icmpPath(a, b) });
    await expectReachable(icmpPath(a, b)); // connectivity returns with the assigned MAC
  });

  test('without macspoofchk a guest that changes its MAC keeps connectivity', async ({ lb }) => {
    const { a } = lb.bridge.get();
    await expectReachable(fromForeignMac(a, 'eth1', '02:00:00:de:ad:02', icmpPath(a, { name: 'b', host: '10.201.0.2' })));
  });
});

measuredLink(test, {
  title: 'Measured on the Linux bridge network', feature: 'Linux bridge', section: '8.5.3', requires: NEEDS,
  over: 'over the bridge', key: 'linux-bridge',
});
