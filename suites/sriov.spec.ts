// §8.6 Connecting a virtual machine to an SR-IOV network: policy → VFs, SriovNetwork → NAD,
// a VM with `sriov: {}` on a VF reaching a VM on another node, VF exhaustion, and measurements.
// On a real cluster the PF comes from SriovNetworkNodeState (or the profile's sriov.pfName), or
// the profile names an existing resource (sriov.resourceName) and no policy is created.
import { createHash } from 'node:crypto';
import { test, expect } from '../src/fixtures/test.ts';
import type { Lab, LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability } from '../src/fixtures/annotate.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';
import type { KObject } from '../src/kube/client.ts';
import { masqueradeVm, templateSpec } from '../src/kube/vm.ts';
import { icmpLatency } from '../src/probes/index.ts';

const SRIOV = 'sriovnetwork.openshift.io/v1';
const OPERATOR_NS = 'openshift-sriov-network-operator';
const CAPABLE = 'feature.node.kubernetes.io/network-sriov.capable';
const RESOURCE_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';
const IPERF_PORT = 5201;
/** The seed's §8.7.2 SR-IOV subnet; the VMs get static addresses in it through networkData. */
const SUBNET = '10.56.217';

interface PfStatus { name: string; vendor: string; deviceID: string; totalvfs: number; pciAddress: string }
interface StateStatus { syncStatus?: string; lastSyncError?: string; interfaces?: PfStatus[] }

let skipReason: string | undefined;
let scope: Scope | undefined;
let resource: string; //      openshift.io/<resourceName>
let policy: KObject | undefined; // created by this suite (removed in afterAll)
let network: KObject | undefined;
let sriovNodes: string[] = []; // nodes advertising the resource
let a: LabVm;
let b: LabVm;
const addr = { a: `${SUBNET}.10`, b: `${SUBNET}.11` };
let macs: { a: string; b: string };

const list = (lab: Lab, apiVersion: string, kind: string, ns?: string) => lab.kube.list<KObject>(apiVersion, kind, ns);
const allocatable = (n: KObject, res: string) => Number((n.status as { allocatable?: Record<string, string> })?.allocatable?.[res] ?? 0);

/** A PF on the capable nodes that no existing policy names, present on as many nodes as possible. */
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

/** `customize`: `count` SR-IOV interfaces on `nad`; the first has `mac` and a static `cidr` from networkData. */
function withSriov(nad: string, o: { mac?: string; cidr?: string; count?: number }): (vm: KObject) => void {
  return (vm) => {
    const t = templateSpec(vm);
    for (let i = 0; i < (o.count ?? 1); i++) {
      t.domain.devices.interfaces.push({ name: `sriov${i}`, sriov: {}, ...(i === 0 && o.mac ? { macAddress: o.mac } : {}) });
      t.networks.push({ name: `sriov${i}`, multus: { networkName: nad } });
    }
    if (o.mac && o.cidr) {
      const ci = t.volumes.find((v) => v.name === 'cloudinitdisk')?.cloudInitNoCloud as Record<string, unknown>;
      ci.networkData = `version: 2\nethernets:\n  eth0:\n    dhcp4: true\n  sriov:\n    match:\n      macaddress: "${o.mac}"\n    addresses: [ ${o.cidr} ]\n`;
    }
  };
}

/** The guest's NIC with `mac`: its name, state and carrier ("" when there is none). */
async function nicByMac(vm: LabVm, mac: string): Promise<{ name: string; up: boolean; carrier: boolean } | undefined> {
  const out = await vm.guest.execOk('ip -o link show');
  const line = out.split('\n').find((l) => l.toLowerCase().includes(`link/ether ${mac.toLowerCase()}`));
  if (!line) return undefined;
  const name = line.split(':')[1].trim().split('@')[0];
  const carrier = (await vm.guest.exec(`cat /sys/class/net/${name}/carrier`)).stdout.trim() === '1';
  return { name, up: /[<,]UP[,>]/.test(line), carrier };
}

test.beforeAll(async ({ lab }) => {
  const facts = await lab.facts();
  if (!facts.groups.includes('sriovnetwork.openshift.io')) {
    skipReason = 'the target does not serve sriovnetwork.openshift.io: the SR-IOV Network Operator is not installed';
    return;
  }
  const p = lab.profile.sriov;
  const hash = createHash('sha1').update(`${lab.runId}/${process.pid}`).digest('hex').slice(0, 6);
  macs = { a: `02:6b:76:${hash.slice(0, 2)}:${hash.slice(2, 4)}:0a`, b: `02:6b:76:${hash.slice(0, 2)}:${hash.slice(2, 4)}:0b` };
  const nodes = (await list(lab, 'v1', 'Node')).filter((n) => n.metadata?.labels?.[CAPABLE] === 'true' && facts.schedulableNodes.includes(n.metadata?.name as string));
  if (!nodes.length) {
    skipReason = `no schedulable node is labelled ${CAPABLE}="true"`;
    return;
  }
  // Nodes the resource should appear on: every capable node whose state lists the chosen PF.
  let expectNodes = 1;
  if (p.resourceName) {
    resource = `openshift.io/${p.resourceName}`;
  } else {
    const [states, policies] = await Promise.all([list(lab, SRIOV, 'SriovNetworkNodeState', OPERATOR_NS), list(lab, SRIOV, 'SriovNetworkNodePolicy', OPERATOR_NS)]);
    const pf = p.pfName || pickPf(states.filter((s) => nodes.some((n) => n.metadata?.name === s.metadata?.name)), policies, p.numVfs);
    if (!pf) {
      skipReason = `no SR-IOV PF is free for a test policy (each is named by an existing SriovNetworkNodePolicy or has fewer than ${p.numVfs} VFs); set sriov.pfName or sriov.resourceName in the profile`;
      return;
    }
    const name = `kvnet${hash}`;
    resource = `openshift.io/${name}`;
    policy = {
      apiVersion: SRIOV, kind: 'SriovNetworkNodePolicy', metadata: { name: `kvnet-sriov-${hash}`, namespace: OPERATOR_NS },
      spec: { resourceName: name, nodeSelector: { [CAPABLE]: 'true' }, priority: 99, numVfs: p.numVfs, nicSelector: { pfNames: [pf] }, deviceType: 'vfio-pci', isRdma: false },
    };
    expectNodes = Math.max(1, states.filter((st) => nodes.some((n) => n.metadata?.name === st.metadata?.name)
      && ((st.status as StateStatus | undefined)?.interfaces ?? []).some((i) => i.name === pf)).length);
    await lab.kube.create(policy);
  }
  // The operator applies the policy node by node; the device plugin then advertises the VFs.
  sriovNodes = await lab.kube.waitFor(async () => {
    const ns = (await list(lab, 'v1', 'Node')).filter((n) => allocatable(n, resource) > 0).map((n) => n.metadata?.name as string).sort();
    return ns.length >= expectNodes ? ns : undefined;
  }, { what: `nodes with allocatable ${resource}`, timeoutMs: lab.profile.timeouts.vmRunningMs }).catch(() => []);
  if (!sriovNodes.length) {
    skipReason = `no node advertises ${resource}`;
    return;
  }
  scope = await lab.scope('sriov');
  network = {
    apiVersion: SRIOV, kind: 'SriovNetwork', metadata: { name: `kvnet-sriov-${hash}`, namespace: OPERATOR_NS },
    spec: { resourceName: resource.replace('openshift.io/', ''), networkNamespace: scope.namespace, vlan: p.vlan, spoofChk: 'on', trust: 'off' },
  };
  await lab.kube.create(network);
  const nad = network.metadata?.name as string;
  await lab.kube.waitFor(() => lab.kube.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', scope?.namespace, nad), { what: `NAD ${nad} in ${scope.namespace}`, timeoutMs: 60_000 });
  const [na, nb] = [sriovNodes[0], sriovNodes[1] ?? sriovNodes[0]];
  [a, b] = await Promise.all([
    scope.vm({ name: 'sriov-a', node: na, customize: withSriov(nad, { mac: macs.a, cidr: `${addr.a}/24` }) }),
    scope.vm({ name: 'sriov-b', node: nb, customize: withSriov(nad, { mac: macs.b, cidr: `${addr.b}/24` }) }),
  ]);
});

test.beforeEach(() => test.skip(!!skipReason, skipReason));

test.afterAll(async ({ lab }) => {
  const ns = scope?.namespace;
  await scope?.dispose();
  // VFs go back to the node once the VMs are gone; only then are the network and policy removed.
  if (ns) await lab.kube.waitFor(async () => (await list(lab, 'kubevirt.io/v1', 'VirtualMachineInstance', ns)).length === 0, { timeoutMs: 60_000 }).catch(() => undefined);
  if (network) await lab.kube.delete(network);
  if (policy) await lab.kube.delete(policy);
});

const crossNode = () => test.skip(sriovNodes.length < 2, `needs VFs on 2 nodes; only ${sriovNodes.join(', ')} advertises ${resource}`);

test.describe('8.6.1 Configuring SR-IOV network devices', () => {
  test('the node policy is applied: SriovNetworkNodeState syncStatus is Succeeded and the VFs are allocatable', async ({ lab }) => {
    await capability('Secondary networks', 'SR-IOV', '8.6.1');
    for (const node of sriovNodes) {
      const st = (await lab.kube.get<KObject>(SRIOV, 'SriovNetworkNodeState', OPERATOR_NS, node))?.status as StateStatus | undefined;
      expect(st?.syncStatus, `sriovnetworknodestates ${node} .status.syncStatus (lastSyncError: ${st?.lastSyncError ?? ''})`).toBe('Succeeded');
    }
    const nodes = await list(lab, 'v1', 'Node');
    const total = nodes.reduce((n, x) => n + allocatable(x, resource), 0);
    expect(total, `allocatable ${resource} over all nodes`).toBeGreaterThan(0);
    if (policy) for (const node of sriovNodes) expect(allocatable(nodes.find((n) => n.metadata?.name === node) as KObject, resource)).toBe(lab.profile.sriov.numVfs);
  });
});

test.describe('8.6.2 Configuring SR-IOV additional network', () => {
  test('the SriovNetwork creates a NetworkAttachmentDefinition of the same name in the target namespace', async ({ lab }) => {
    await capability('Secondary networks', 'SR-IOV', '8.6.2');
    const nad = await lab.kube.get<KObject>('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', scope?.namespace, network?.metadata?.name as string);
    expect(nad, 'oc get net-attach-def -n <namespace>').toBeTruthy();
    expect(nad?.metadata?.annotations?.[RESOURCE_ANNOTATION]).toBe(resource);
    expect(JSON.parse((nad?.spec as { config: string }).config)).toMatchObject({ type: 'sriov', spoofchk: 'on', trust: 'off' });
  });
});

test.describe('8.6.3 Connecting a virtual machine to an SR-IOV network', () => {
  test('a VM with an sriov interface gets a VF: the NIC with the interface MAC address is up in the guest', async () => {
    await capability('Secondary networks', 'SR-IOV', '8.6.3');
    for (const [vm, mac] of [[a, macs.a], [b, macs.b]] as const) {
      const nic = await nicByMac(vm, mac);
      expect(nic, `${vm.name}: a NIC with MAC ${mac} (the VF)`).toBeTruthy();
      expect(nic?.up && nic.carrier, `${vm.name}: ${nic?.name} is up with carrier`).toBe(true);
    }
  });

  test('the VM reaches a VM on another node over the SR-IOV network', async () => {
    await capability('Secondary networks', 'SR-IOV', '8.6.3', { placement: 'cross-node' });
    crossNode();
    const r = await icmpLatency(a.guest, addr.b, { count: 3, intervalS: 0.2, family: 4 });
    expect(r.stats.count, `ping ${addr.b} from ${a.name} (${a.node}) to ${b.name} (${b.node}) over the VFs`).toBeGreaterThan(0);
  });

  test('VF exhaustion: a VM asking for more VFs than any node has stays unschedulable with a FailedScheduling event', async ({ lab }) => {
    await capability('Secondary networks', 'SR-IOV', '8.6.3');
    const s = scope as Scope;
    const most = Math.max(...(await list(lab, 'v1', 'Node')).map((n) => allocatable(n, resource)));
    const nad = network?.metadata?.name as string;
    const name = 'sriov-too-many';
    // Created directly: Scope.vm would wait for a VM that is not meant to run.
    await lab.kube.create(masqueradeVm({ name, namespace: s.namespace, sshKeySecret: 'kvnet-ssh-key', image: lab.profile.guest.image, customize: withSriov(nad, { count: most + 1 }) }));
    const status = await lab.kube.waitFor(async () => {
      const v = await lab.kube.get<KObject>('kubevirt.io/v1', 'VirtualMachine', s.namespace, name);
      const ps = (v?.status as { printableStatus?: string } | undefined)?.printableStatus;
      return ps === 'ErrorUnschedulable' ? ps : undefined;
    }, { what: `VM ${name} printableStatus ErrorUnschedulable`, timeoutMs: 60_000 });
    expect(status).toBe('ErrorUnschedulable');
    const events = await list(lab, 'v1', 'Event', s.namespace);
    const ev = events.find((e) => e.reason === 'FailedScheduling' && String(e.message).includes(`Insufficient ${resource}`));
    expect(ev, `a FailedScheduling event naming Insufficient ${resource} (seen: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')})`).toBeTruthy();
    await lab.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: s.namespace } });
  });
});

test.describe('Measured on the SR-IOV network', () => {
  test('ICMP latency guest to guest over VFs, cross-node', async ({ lab }) => {
    await capability('Secondary networks', 'SR-IOV', '8.6.3', { placement: 'cross-node', family: 'IPv4' });
    crossNode();
    await measureLatency(lab.profile, a.guest, addr.b, { key: 'sriov-cross-node', label: 'SR-IOV cross-node' }, lab.profile.thresholds.sriov);
  });

  test('TCP throughput guest to guest over VFs, cross-node', async ({ lab }) => {
    await capability('Secondary networks', 'SR-IOV', '8.6.3', { placement: 'cross-node', family: 'IPv4' });
    crossNode();
    await measureThroughput(lab.profile, a.guest, b.guest, addr.b, IPERF_PORT, { key: 'sriov-cross-node', label: 'SR-IOV cross-node' }, lab.profile.thresholds.sriov);
  });
});
