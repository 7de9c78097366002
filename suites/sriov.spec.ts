// §8.6 Connecting a virtual machine to an SR-IOV network, in the seed's steps: a SriovNetworkNodePolicy
// makes VFs (8.6.1), a SriovNetwork makes the NAD (8.6.2), VMs take a VF with `sriov: {}` (8.6.3).
// On a real cluster the PF comes from SriovNetworkNodeState (or the profile's sriov.pfName), or the
// profile names an existing resource (sriov.resourceName) and the suite makes no policy.
// Only a missing operator skips: once it is installed, a policy that yields no VFs is a failure.
import { createHash } from 'node:crypto';
import { test as base, expect } from '../src/fixtures/test.ts';
import { RUN_LABEL, type Lab, type LabVm, type Scope } from '../src/fixtures/lab.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';
import { expectBlocked, expectReachable, icmpPath, type PathProbe } from '../src/fixtures/paths.ts';
import { NAD_API, RESOURCE_NAME_ANNOTATION } from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { sriovNet, vm, type VmSpec } from '../src/kube/vm-spec.ts';

const SRIOV = 'sriovnetwork.openshift.io/v1';
const OPERATOR_NS = 'openshift-sriov-network-operator';
const CAPABLE = 'feature.node.kubernetes.io/network-sriov.capable';
const IPERF_PORT = 5201;
/** The seed's §8.7.2 SR-IOV subnet; the VMs get static addresses in it through networkData. */
const SUBNET = '10.56.217';
const ADDR = { a: `${SUBNET}.10`, b: `${SUBNET}.11` };

interface PfStatus { name: string; totalvfs: number }
interface StateStatus { syncStatus?: string; lastSyncError?: string; interfaces?: PfStatus[] }

/** 8.6.1 and 8.6.2 done: a VF resource on some nodes and an SR-IOV network in the suite's namespace. */
interface SriovNetworkLab {
  scope: Scope;
  /** openshift.io/<resourceName> */
  resource: string;
  /** Set when the suite made the policy: then every node with the PF has exactly numVfs VFs. */
  policy?: KObject;
  /** Nodes that advertise the resource. */
  nodes: string[];
  /** The SriovNetwork, and the NAD of the same name in the scope's namespace. */
  network: KObject;
  /** Per scope, stable across workers: names and MACs derive from it. */
  tag: string;
}

/** 8.6.3 done: two VMs on VFs, on two nodes where two nodes have VFs. */
interface SriovVms {
  a: LabVm;
  b: LabVm;
  mac: { a: string; b: string };
}

const list = (lab: Lab, apiVersion: string, kind: string, ns?: string) => lab.kube.list<KObject>(apiVersion, kind, ns);
const allocatable = (n: KObject | undefined, res: string) => Number((n?.status as { allocatable?: Record<string, string> } | undefined)?.allocatable?.[res] ?? 0);
const nameOf = (o: KObject) => o.metadata?.name as string;

/** A PF on the capable nodes that no other policy names, present on as many nodes as possible. */
function pickPf(states: KObject[], policies: KObject[], numVfs: number): string | undefined {
  const taken = new Set(policies.flatMap((p) => ((p.spec as { nicSelector?: { pfNames?: string[] } })?.nicSelector?.pfNames ?? []).map((n) => n.split('#')[0])));
  const count = new Map<string, number>();
  for (const s of states) {
    for (const pf of (s.status as StateStatus | undefined)?.interfaces ?? []) {
      if (taken.has(pf.name) || pf.totalvfs < numVfs) continue;
      count.set(pf.name, (count.get(pf.name) ?? 0) + 1);
    }
  }
  return [...count].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0]?.[0];
}

/** Creates `obj` unless a previous worker of this run already did (the scope is adopted, so are these). */
async function ensure(lab: Lab, obj: KObject): Promise<KObject> {
  const have = await lab.kube.get<KObject>(obj.apiVersion as string, obj.kind as string, obj.metadata?.namespace, nameOf(obj));
  return have ?? lab.kube.create(obj);
}

function syncSummary(states: KObject[]): string {
  return states.map((s) => {
    const st = s.status as StateStatus | undefined;
    return `${nameOf(s)}: syncStatus ${st?.syncStatus ?? '-'}${st?.lastSyncError ? ` (${st.lastSyncError})` : ''}`;
  }).join('; ') || 'no SriovNetworkNodeStates';
}

/**
 * 8.6.1: the VF resource. The profile's existing resource, or a policy of the suite's own on a free
 * PF of the capable nodes; then wait until the operator applied it and the device plugin advertises it.
 */
async function vfResource(lab: Lab, tag: string): Promise<Pick<SriovNetworkLab, 'resource' | 'policy' | 'nodes'>> {
  const p = lab.profile.sriov;
  const facts = await lab.facts();
  const nodes = (await list(lab, 'v1', 'Node')).filter((n) => n.metadata?.labels?.[CAPABLE] === 'true' && facts.schedulableNodes.includes(nameOf(n))).map(nameOf);
  if (!nodes.length) throw new Error(`the SR-IOV Network Operator is installed, but no schedulable node is labelled ${CAPABLE}="true" (§8.6.1 step 2)`);
  let resource: string;
  let policy: KObject | undefined;
  let expectNodes = 1;
  if (p.resourceName) {
    resource = `openshift.io/${p.resourceName}`;
  } else {
    const name = `kvnet-sriov-${tag}`;
    const [states, policies] = await Promise.all([list(lab, SRIOV, 'SriovNetworkNodeState', OPERATOR_NS), list(lab, SRIOV, 'SriovNetworkNodePolicy', OPERATOR_NS)]);
    const onCapable = states.filter((s) => nodes.includes(nameOf(s)));
    const mine = policies.find((x) => nameOf(x) === name);
    const pf = ((mine?.spec as { nicSelector?: { pfNames?: string[] } } | undefined)?.nicSelector?.pfNames?.[0])
      ?? (p.pfName || pickPf(onCapable, policies, p.numVfs));
    if (!pf) throw new Error(`no SR-IOV PF on ${nodes.join(', ')} is free for a test policy (each is named by an existing SriovNetworkNodePolicy or has fewer than ${p.numVfs} VFs): set sriov.pfName or sriov.resourceName in the profile`);
    resource = `openshift.io/kvnet${tag}`;
    policy = await ensure(lab, {
      apiVersion: SRIOV, kind: 'SriovNetworkNodePolicy', metadata: { name, namespace: OPERATOR_NS, labels: { [RUN_LABEL]: lab.runId } },
      spec: { resourceName: `kvnet${tag}`, nodeSelector: { [CAPABLE]: 'true' }, priority: 99, numVfs: p.numVfs, nicSelector: { pfNames: [pf] }, deviceType: 'vfio-pci', isRdma: false },
    });
    expectNodes = Math.max(1, onCapable.filter((s) => ((s.status as StateStatus | undefined)?.interfaces ?? []).some((i) => i.name === pf)).length);
  }
  // §8.6.1 step 4: the operator applies the policy node by node; the device plugin then advertises the VFs.
  const advertising = async () => (await list(lab, 'v1', 'Node')).filter((n) => allocatable(n, resource) > 0).map(nameOf).sort();
  const syncFailed = async () => (await list(lab, SRIOV, 'SriovNetworkNodeState', OPERATOR_NS)).filter((st) => nodes.includes(nameOf(st)) && (st.status as StateStatus | undefined)?.syncStatus === 'Failed');
  const what = policy ? `SriovNetworkNodePolicy ${nameOf(policy)}` : `the profile's sriov.resourceName ${p.resourceName}`;
  const seen = await lab.kube.waitFor(async (): Promise<{ nodes: string[] } | { failed: KObject[] } | undefined> => {
    const ns = await advertising();
    if (ns.length >= expectNodes) return { nodes: ns };
    // The operator's own verdict ends the wait: a node that failed to sync will not advertise.
    const failed = await syncFailed();
    return failed.length ? { failed } : undefined;
  }, { what: `nodes with allocatable ${resource}`, timeoutMs: lab.profile.timeouts.vmRunningMs }).catch(async () => {
    const states = await list(lab, SRIOV, 'SriovNetworkNodeState', OPERATOR_NS).catch(() => []);
    throw new Error(`the SR-IOV Network Operator did not apply ${what}: ${(await advertising()).length} of ${expectNodes} node(s) advertise ${resource} after ${lab.profile.timeouts.vmRunningMs / 1000} s (${syncSummary(states)})`);
  });
  if ('failed' in seen) throw new Error(`the SR-IOV Network Operator failed to apply ${what} (${syncSummary(seen.failed)})`);
  const found = seen.nodes;
  return { resource, policy, nodes: found };
}

/** 8.6.2: the SriovNetwork, and the NAD the operator makes from it in the scope's namespace. */
async function sriovNetwork(lab: Lab, scope: Scope, tag: string, resource: string): Promise<KObject> {
  const network = await ensure(lab, {
    apiVersion: SRIOV, kind: 'SriovNetwork', metadata: { name: `kvnet-sriov-${tag}`, namespace: OPERATOR_NS, labels: { [RUN_LABEL]: lab.runId } },
    spec: { resourceName: resource.replace('openshift.io/', ''), networkNamespace: scope.namespace, vlan: lab.profile.sriov.vlan, spoofChk: 'on', trust: 'off' },
  });
  await lab.kube.waitFor(() => lab.kube.get(NAD_API, 'NetworkAttachmentDefinition', scope.namespace, nameOf(network)), {
    what: `the SR-IOV Network Operator to create NAD ${nameOf(network)} in ${scope.namespace}`, timeoutMs: 60_000,
  });
  return network;
}

/** After the scope went (its VMs returned their VFs): the network, then the policy. A kept scope keeps them, for the next worker. */
async function release(lab: Lab, net: SriovNetworkLab): Promise<void> {
  if (lab.keepScopes) return;
  const ns = net.scope.namespace;
  await lab.kube.waitForObject('v1', 'Namespace', undefined, ns, (x) => x === undefined || undefined, { what: `namespace ${ns} to be gone`, timeoutMs: 180_000 });
  await lab.kube.delete(net.network);
  if (net.policy) await lab.kube.delete(net.policy);
}

/** The guest NIC that carries `mac`: its name, state and carrier. */
async function nicByMac(v: LabVm, mac: string): Promise<{ dev: string; up: boolean; carrier: boolean } | undefined> {
  const out = await v.os.runOk(['ip', '-o', 'link', 'show']);
  const line = out.split('\n').find((l) => l.toLowerCase().includes(`link/ether ${mac.toLowerCase()}`));
  if (!line) return undefined;
  const dev = line.split(':')[1].trim().split('@')[0];
  const carrier = (await v.os.run(['cat', `/sys/class/net/${dev}/carrier`])).stdout.trim() === '1';
  return { dev, up: (await v.os.link(dev)).up, carrier };
}

const test = base.extend<{}, { net: SriovNetworkLab; vms: SriovVms }>({
  net: [async ({ lab }, use) => {
    const scope = await lab.scope('sriov');
    const tag = createHash('sha1').update(scope.namespace).digest('hex').slice(0, 6);
    const vf = await vfResource(lab, tag);
    const network = await sriovNetwork(lab, scope, tag, vf.resource);
    const net: SriovNetworkLab = { scope, ...vf, network, tag };
    await use(net);
    await scope.dispose();
    await release(lab, net);
  }, { scope: 'worker', timeout: 900_000 }],

  vms: [async ({ net }, use) => {
    const mac = { a: `02:6b:76:${net.tag.slice(0, 2)}:${net.tag.slice(2, 4)}:0a`, b: `02:6b:76:${net.tag.slice(0, 2)}:${net.tag.slice(2, 4)}:0b` };
    const nad = sriovNet(nameOf(net.network));
    // Both sides name the other: whichever is scheduled second goes to another node.
    const twoNodes = net.nodes.length >= 2;
    const a = vm('sriov-a').nic('sriov0', nad, { mac: mac.a, addresses: [`${ADDR.a}/24`] });
    const b = vm('sriov-b').nic('sriov0', nad, { mac: mac.b, addresses: [`${ADDR.b}/24`] });
    if (twoNodes) {
      a.placement({ awayFrom: ['sriov-b'] });
      b.placement({ awayFrom: ['sriov-a'] });
    }
    const [va, vb] = await net.scope.createAll([a, b]);
    await use({ a: va, b: vb, mac });
  }, { scope: 'worker', timeout: 900_000 }],
});

/** Cross-node checks need VFs on two nodes: a target whose PF is on one node only cannot have them. */
function crossNodeVfs(net: SriovNetworkLab): void {
  test.skip(net.nodes.length < 2, `only ${net.nodes.join(', ')} advertises ${net.resource}: cross-node needs VFs on 2 nodes`);
}

const toB = (v: SriovVms): PathProbe => icmpPath(v.a, { name: v.b.name, host: ADDR.b });
const SRIOV_CAP = { epic: 'Secondary networks', feature: 'SR-IOV', requires: [
  requires.api('sriovnetwork.openshift.io', 'the SR-IOV Network Operator'), requires.namespace(OPERATOR_NS, 'the SR-IOV Network Operator'),
] };
const crossNode = (extra: Record<string, string> = {}) => details({ requires: [requires.nodes(2)], params: { placement: 'cross-node', ...extra } });

capability('8.6.1 Configuring SR-IOV network devices', { ...SRIOV_CAP, section: '8.6.1' }, () => {
  test('the node policy is applied: SriovNetworkNodeState syncStatus is Succeeded and the VFs are allocatable', async ({ lab, net }) => {
    for (const node of net.nodes) {
      const st = (await lab.kube.get<KObject>(SRIOV, 'SriovNetworkNodeState', OPERATOR_NS, node))?.status as StateStatus | undefined;
      expect(st?.syncStatus, `oc get sriovnetworknodestates -n ${OPERATOR_NS} ${node} -o jsonpath='{.status.syncStatus}' (lastSyncError: ${st?.lastSyncError ?? ''})`).toBe('Succeeded');
    }
    const nodes = await list(lab, 'v1', 'Node');
    for (const node of net.nodes) {
      const n = allocatable(nodes.find((x) => nameOf(x) === node), net.resource);
      if (net.policy) expect(n, `${node}: allocatable ${net.resource} = the policy's numVfs`).toBe(lab.profile.sriov.numVfs);
      else expect(n, `${node}: allocatable ${net.resource}`).toBeGreaterThan(0);
    }
  });
});

capability('8.6.2 Configuring SR-IOV additional network', { ...SRIOV_CAP, section: '8.6.2' }, () => {
  test('the SriovNetwork creates a NetworkAttachmentDefinition of the same name in the target namespace', async ({ lab, net }) => {
    const nad = await lab.kube.get<KObject>(NAD_API, 'NetworkAttachmentDefinition', net.scope.namespace, nameOf(net.network));
    expect(nad, `oc get net-attach-def -n ${net.scope.namespace} ${nameOf(net.network)}`).toBeTruthy();
    expect(nad?.metadata?.annotations?.[RESOURCE_NAME_ANNOTATION]).toBe(net.resource);
    expect(JSON.parse((nad?.spec as { config: string }).config)).toMatchObject({ type: 'sriov', spoofchk: 'on', trust: 'off' });
  });

  test('spoofChk "on": frames the guest sends from a MAC it changed are dropped, from its own MAC they pass', async ({ vms }) => {
    const nic = await nicByMac(vms.a, vms.mac.a);
    expect(nic, `${vms.a.name}: a NIC with MAC ${vms.mac.a} (the VF)`).toBeTruthy();
    const spoofed = '02:6b:76:ff:ff:99';
    const control = toB(vms);
    const blocked: PathProbe = {
      path: `${vms.a.name} (from ${spoofed}) → ${vms.b.name} ${ADDR.b} icmp`,
      run: () => vms.a.os.withMac(nic?.dev as string, spoofed, () => control.run()),
    };
    await expectBlocked(blocked, { control });
    // withMac restored the assigned MAC: the VF passes again.
    await expectReachable(control);
  });
});

capability('8.6.3 Connecting a virtual machine to an SR-IOV network', { ...SRIOV_CAP, section: '8.6.3' }, () => {
  test('a VM with an sriov interface gets a VF: the NIC with the interface MAC address is up in the guest', async ({ vms }) => {
    for (const [v, mac] of [[vms.a, vms.mac.a], [vms.b, vms.mac.b]] as const) {
      const nic = await nicByMac(v, mac);
      expect(nic, `${v.name}: a NIC with MAC ${mac} (the VF)`).toBeTruthy();
      expect(nic?.up && nic.carrier, `${v.name}: ${nic?.dev} is up with carrier`).toBe(true);
    }
  });

  test('the VM reaches a VM on another node over the SR-IOV network', crossNode(), async ({ net, vms }) => {
    crossNodeVfs(net);
    expect(vms.a.node, 'the two VMs are on different nodes').not.toBe(vms.b.node);
    await expectReachable(toB(vms));
  });

  test('VF exhaustion: a VM asking for more VFs than any node has stays unschedulable with a FailedScheduling event', async ({ lab, net }) => {
    const most = Math.max(...(await list(lab, 'v1', 'Node')).map((n) => allocatable(n, net.resource)));
    const spec: VmSpec = vm('sriov-too-many');
    for (let i = 0; i <= most; i++) spec.nic(`sriov${i}`, sriovNet(nameOf(net.network)));
    const tooMany = await net.scope.create(spec, { wait: 'none' });
    try {
      await expect.poll(async () => ((await tooMany.vmObject()).status as { printableStatus?: string } | undefined)?.printableStatus, {
        message: `VM ${tooMany.name} with ${most + 1} SR-IOV interfaces: printableStatus`, timeout: 60_000,
      }).toBe('ErrorUnschedulable');
      const events = await list(lab, 'v1', 'Event', net.scope.namespace);
      const ev = events.find((e) => e.reason === 'FailedScheduling' && String(e.message).includes(`Insufficient ${net.resource}`));
      expect(ev, `a FailedScheduling event naming Insufficient ${net.resource} (seen: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')})`).toBeTruthy();
    } finally {
      await lab.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: tooMany.name, namespace: net.scope.namespace } });
    }
  });
});

capability('Measured on the SR-IOV network', { ...SRIOV_CAP, section: '8.6.3' }, () => {
  test('ICMP latency guest to guest over VFs, cross-node', crossNode({ family: 'IPv4' }), async ({ lab, net, vms }) => {
    crossNodeVfs(net);
    await measureLatency(lab.profile, vms.a.guest, ADDR.b, { key: 'sriov-cross-node', label: 'SR-IOV cross-node' }, lab.profile.thresholds.sriov);
  });

  test('TCP throughput guest to guest over VFs, cross-node', crossNode({ family: 'IPv4' }), async ({ lab, net, vms }) => {
    crossNodeVfs(net);
    await measureThroughput(lab.profile, vms.a.guest, vms.b.guest, ADDR.b, IPERF_PORT, { key: 'sriov-cross-node', label: 'SR-IOV cross-node' }, lab.profile.thresholds.sriov);
  });
});
