// The sim's data plane: VM create → SSH-ready time over 20 VMs, and guest→guest ping RTT on the
// masquerade path beside ping over a bare veth pair (the reference) in the same run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Guest } from '../src/guest/guest.ts';
import { generateKeyPair } from '../src/guest/keys.ts';
import { Kube, type KObject } from '../src/kube/client.ts';
import { masqueradeVm, sshKeySecret } from '../src/kube/vm.ts';
import { icmpLatency, parsePing } from '../src/probes/index.ts';
import { summarize } from '../src/probes/stats.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VMS = Number(process.env.KVNET_BENCH_VMS ?? 20);
const PINGS = 200;
const TARGETS = { sshReadyP50Ms: 500, rttRatio: 3 };

const sim = await startSim({ kubeconfig: join(root, 'test-results', 'bench-vm', 'kubeconfig') });
const kube = Kube.fromFile(sim.kubeconfig);
const keys = generateKeyPair();
await kube.create(sshKeySecret('k', 'default', keys.publicKey));

// One VM at a time, so each number is a boot and not a queue.
const ready: number[] = [];
const guests: Guest[] = [];
for (let i = 0; i < VMS; i++) {
  const name = `boot-${i}`;
  const t0 = performance.now();
  await kube.create(masqueradeVm({ name, namespace: 'default', sshKeySecret: 'k', node: `node-${(i % 2) + 1}` }));
  await kube.waitFor(async () => ((await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', 'default', name))?.status as { phase?: string } | undefined)?.phase === 'Running', { intervalMs: 5, what: `${name} Running` });
  let guest: Guest | undefined;
  while (!guest) guest = await Guest.connect({ kc: kube.kc, namespace: 'default', vmi: name, user: 'fedora', privateKey: keys.privateKey, timeoutMs: 30_000 }).catch(() => undefined);
  await guest.execOk('true');
  ready.push(performance.now() - t0);
  guests.push(guest);
}
const boot = summarize(ready);

// Masquerade path guest → guest: boot-0 (node-1) → boot-2 (node-1) and → boot-1 (node-2); their
// empty ports lists let ICMP through to the guests.
const podIp = async (name: string) => ((await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', 'default', name))?.status as { interfaces: { ipAddress: string }[] }).interfaces[0].ipAddress;
const same = await icmpLatency(guests[0], await podIp('boot-2'), { count: PINGS, intervalS: 0.01 });
const masq = await icmpLatency(guests[0], await podIp('boot-1'), { count: PINGS, intervalS: 0.01 });

// Reference: the same ping over one bare veth pair between two namespaces, made in a throwaway sandbox.
const script = `mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip netns add peer && ip link add veth-a type veth peer name veth-b netns peer &&
ip addr add 10.99.0.1/24 dev veth-a && ip link set veth-a up && ip -n peer addr add 10.99.0.2/24 dev veth-b && ip -n peer link set veth-b up && ip -n peer link set lo up &&
ping -n -c ${PINGS} -i 0.01 10.99.0.2`;
const bareOut = execFileSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', script], { encoding: 'utf8' });
const bare = parsePing(bareOut);

for (const g of guests) g.close();
await sim.stop();

const ratio = masq.stats.p50 / bare.stats.p50;
const sameRatio = same.stats.p50 / bare.stats.p50;
const rows = [
  { metric: `VM create → SSH-ready (n=${VMS})`, p50: boot.p50, p90: boot.p90, target: `p50 ≤ ${TARGETS.sshReadyP50Ms} ms`, verdict: boot.p50 <= TARGETS.sshReadyP50Ms ? 'PASS' : 'MISS' },
  { metric: 'ping RTT masquerade, same node (ms)', p50: same.stats.p50, p90: same.stats.p90, target: '', verdict: '' },
  { metric: 'ping RTT masquerade, cross-node (ms)', p50: masq.stats.p50, p90: masq.stats.p90, target: '', verdict: '' },
  { metric: 'ping RTT bare veth pair (ms)', p50: bare.stats.p50, p90: bare.stats.p90, target: '', verdict: '' },
  { metric: 'RTT ratio same node / bare veth', p50: sameRatio, p90: same.stats.p90 / bare.stats.p90, target: `≤ ${TARGETS.rttRatio}×`, verdict: sameRatio <= TARGETS.rttRatio ? 'PASS' : 'MISS' },
  { metric: 'RTT ratio cross-node / bare veth', p50: ratio, p90: masq.stats.p90 / bare.stats.p90, target: `≤ ${TARGETS.rttRatio}×`, verdict: ratio <= TARGETS.rttRatio ? 'PASS' : 'MISS' },
];
console.table(rows.map((r) => ({ ...r, p50: r.p50.toFixed(3), p90: r.p90.toFixed(3) })));
mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
writeFileSync(join(root, 'reports', 'bench', 'vm-boot.json'), JSON.stringify({ bootMs: { samples: ready, stats: boot }, masqueradeSameNode: same, masqueradeCrossNode: masq, bareVeth: bare, ratio: { sameNode: sameRatio, crossNode: ratio }, targets: TARGETS }, null, 2));
