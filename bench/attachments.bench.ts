// Per attachment type, cross-node guest→guest ping RTT and TCP throughput (iperf3), each as a
// ratio of the same measurement over one bare veth pair made in the same run: Linux bridge,
// OVN-Kubernetes layer2 overlay, masquerade (pod network), and SR-IOV when the sim can give VFs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Guest } from '../src/guest/guest.ts';
import { generateKeyPair } from '../src/guest/keys.ts';
import { Kube, type KObject } from '../src/kube/client.ts';
import { masqueradeVm, sshKeySecret, templateSpec } from '../src/kube/vm.ts';
import { addSecondaryNics, bridgeNad, linuxBridgeNncp, ovnNad, waitNncp } from '../src/fixtures/secondary.ts';
import { icmpLatency, parsePing, tcpThroughput, type Stats } from '../src/probes/index.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PINGS = 200;
const SECONDS = 3;
const NS = 'default';

const sim = await startSim({ kubeconfig: join(root, 'test-results', 'bench-attachments', 'kubeconfig') });
const kube = Kube.fromFile(sim.kubeconfig);
const keys = generateKeyPair();
await kube.create(sshKeySecret('k', NS, keys.publicKey));
await kube.create(linuxBridgeNncp('bench-br', 'benchbr', 'eth1'));
await waitNncp(kube, 'bench-br');
await kube.create(bridgeNad(NS, 'br', 'benchbr'));
await kube.create(ovnNad(NS, 'l2', { network: 'bench-l2', topology: 'layer2' }));

async function boot(name: string, node: string, customize?: (vm: KObject) => void, timeoutMs = 60_000): Promise<{ guest: Guest; podIP: string }> {
  await kube.create(masqueradeVm({ name, namespace: NS, sshKeySecret: 'k', node, customize }));
  const vmi = await kube.waitFor(async () => {
    const v = await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, name);
    const phase = (v?.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Failed') throw new Error(`${name} failed: ${JSON.stringify((v?.status as { conditions?: unknown }).conditions)}`);
    return phase === 'Running' ? v : undefined;
  }, { what: `${name} Running`, timeoutMs });
  const guest = await Guest.connect({ kc: kube.kc, namespace: NS, vmi: name, user: 'fedora', privateKey: keys.privateKey, timeoutMs: 30_000 });
  return { guest, podIP: (vmi.status as { interfaces: { ipAddress: string }[] }).interfaces[0].ipAddress };
}

const nics = (i: number) => (vm: KObject) => addSecondaryNics(vm, [
  { name: 'br', nad: 'br', addresses: [`10.50.0.${i}/24`] },
  { name: 'l2', nad: 'l2', addresses: [`10.51.0.${i}/24`] },
]);
const [m1, m2] = await Promise.all([boot('m1', 'node-1', nics(1)), boot('m2', 'node-2', nics(2))]);

interface Row { attachment: string; rtt: Stats; gbps: number; skipped?: string }
const rows: Row[] = [];

async function measure(attachment: string, a: Guest, b: Guest, ip: string): Promise<void> {
  const p = await icmpLatency(a, ip, { count: PINGS, intervalS: 0.01 });
  const t = await tcpThroughput(a, b, ip, { seconds: SECONDS, port: 5201 });
  rows.push({ attachment, rtt: p.stats, gbps: t.bitsPerSecond / 1e9 });
}

await measure('Linux bridge (cross-node)', m1.guest, m2.guest, '10.50.0.2');
await measure('OVN layer2 overlay (cross-node)', m1.guest, m2.guest, '10.51.0.2');
await measure('masquerade, pod network (cross-node)', m1.guest, m2.guest, m2.podIP);

// SR-IOV: a VF per VM from a policy on ens1f0, when the sim's SR-IOV operator is there.
const sriovSkip = await (async (): Promise<string | undefined> => {
  const states = await kube.list<KObject>('sriovnetwork.openshift.io/v1', 'SriovNetworkNodeState', 'openshift-sriov-network-operator').catch(() => []);
  if (!states.length) return 'no SR-IOV operator on this sim (no SriovNetworkNodeStates)';
  try {
    for (const n of ['node-1', 'node-2']) {
      const node = await kube.get<KObject>('v1', 'Node', undefined, n);
      if (node?.metadata?.labels?.['feature.node.kubernetes.io/network-sriov.capable'] !== 'true') return `${n} is not SR-IOV capable`;
    }
    await kube.create({ apiVersion: 'sriovnetwork.openshift.io/v1', kind: 'SriovNetworkNodePolicy', metadata: { name: 'bench', namespace: 'openshift-sriov-network-operator' },
      spec: { resourceName: 'benchvf', nodeSelector: { 'feature.node.kubernetes.io/network-sriov.capable': 'true' }, priority: 99, numVfs: 2, nicSelector: { pfNames: ['ens1f0'] }, deviceType: 'vfio-pci' } });
    await kube.create({ apiVersion: 'sriovnetwork.openshift.io/v1', kind: 'SriovNetwork', metadata: { name: 'benchvf', namespace: 'openshift-sriov-network-operator' },
      spec: { resourceName: 'benchvf', networkNamespace: NS, spoofChk: 'on', trust: 'off' } });
    await kube.waitFor(() => kube.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', NS, 'benchvf'), { what: 'SR-IOV NAD', timeoutMs: 60_000 });
    const vf = (i: number) => (vm: KObject) => {
      const t = templateSpec(vm);
      const mac = `02:be:00:00:00:0${i}`;
      t.domain.devices.interfaces.push({ name: 'vf', sriov: {}, macAddress: mac });
      t.networks.push({ name: 'vf', multus: { networkName: 'benchvf' } });
      const ci = t.volumes.find((v) => v.cloudInitNoCloud) as { cloudInitNoCloud: Record<string, string> };
      ci.cloudInitNoCloud.networkData = `version: 2\nethernets:\n  eth0:\n    dhcp4: true\n  vf:\n    match:\n      macaddress: "${mac}"\n    addresses: [ 10.52.0.${i}/24 ]\n`;
    };
    const [s1, s2] = await Promise.all([boot('s1', 'node-1', vf(1), 90_000), boot('s2', 'node-2', vf(2), 90_000)]);
    await measure('SR-IOV VF, macvlan (cross-node)', s1.guest, s2.guest, '10.52.0.2');
    s1.guest.close();
    s2.guest.close();
    return undefined;
  } catch (e) {
    return `SR-IOV not measured: ${(e as Error).message.split('\n')[0]}`;
  }
})();
if (sriovSkip) rows.push({ attachment: 'SR-IOV VF, macvlan', rtt: { p50: NaN, p90: NaN } as Stats, gbps: NaN, skipped: sriovSkip });

m1.guest.close();
m2.guest.close();
await sim.stop();

// Reference: the same ping and iperf3 over one bare veth pair, in a throwaway sandbox.
const script = `mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip netns add peer && ip link add veth-a type veth peer name veth-b netns peer &&
ip addr add 10.99.0.1/24 dev veth-a && ip link set veth-a up && ip link set lo up && ip -n peer addr add 10.99.0.2/24 dev veth-b && ip -n peer link set veth-b up && ip -n peer link set lo up &&
ping -n -c ${PINGS} -i 0.01 10.99.0.2 && (ip netns exec peer iperf3 -s -1 -p 5201 >/dev/null 2>&1 &) && sleep 0.3 && iperf3 -c 10.99.0.2 -p 5201 -t ${SECONDS} -J | tr -d '\\n' && echo`;
const out = execFileSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', script], { encoding: 'utf8' });
const bare = parsePing(out);
const iperfJson = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as { end: { sum_received: { bits_per_second: number } } };
const bareGbps = iperfJson.end.sum_received.bits_per_second / 1e9;

const table = [
  { attachment: 'bare veth pair (reference)', 'RTT p50 ms': bare.stats.p50.toFixed(3), 'RTT p90 ms': bare.stats.p90.toFixed(3), 'RTT ratio': '1.00', 'TCP Gbit/s': bareGbps.toFixed(2), 'TCP ratio': '1.00', note: '' },
  ...rows.map((r) => ({
    attachment: r.attachment,
    'RTT p50 ms': r.skipped ? '-' : r.rtt.p50.toFixed(3), 'RTT p90 ms': r.skipped ? '-' : r.rtt.p90.toFixed(3),
    'RTT ratio': r.skipped ? '-' : (r.rtt.p50 / bare.stats.p50).toFixed(2),
    'TCP Gbit/s': r.skipped ? '-' : r.gbps.toFixed(2), 'TCP ratio': r.skipped ? '-' : (r.gbps / bareGbps).toFixed(2),
    note: r.skipped ?? '',
  })),
];
console.table(table);
mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
writeFileSync(join(root, 'reports', 'bench', 'attachments.json'), JSON.stringify({ pings: PINGS, seconds: SECONDS, bareVeth: { rtt: bare.stats, gbps: bareGbps }, rows }, null, 2));
