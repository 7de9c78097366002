// The sim's data plane: VM create → SSH-ready time over 20 VMs, and guest→guest ping RTT on the
// masquerade path beside ping over a bare veth pair (the reference) in the same run. The target
// holds the masquerade path itself (two guests on one node: tap, NAT, pod network, NAT, tap);
// cross-node adds the VXLAN overlay, so it is reported against a bare veth and a bare VXLAN.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Guest } from '../src/guest/guest.ts';
import { generateKeyPair } from '../src/guest/keys.ts';
import { Kube, type KObject } from '../src/kube/client.ts';
import { masqueradeVm, sshKeySecret } from '../src/kube/vm.ts';
import { icmpLatency, parsePing, type Exec } from '../src/probes/index.ts';
import { shq } from '../src/probes/target.ts';
import { summarize } from '../src/probes/stats.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VMS = Number(process.env.KVNET_BENCH_VMS ?? 20);
const PINGS = 500;
// 2 ms apart, the fastest iputils allows an unprivileged user: at 10 ms the CPU idles between pings
// and every hop starts cold, which measures the machine's idle state more than the path.
const INTERVAL_S = Number(process.env.KVNET_BENCH_PING_INTERVAL ?? 0.002);
const ROUNDS = 5;
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
  await kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', 'default', name, (o) => (o?.status as { phase?: string } | undefined)?.phase === 'Running', { what: `${name} Running` });
  let guest: Guest | undefined;
  while (!guest) guest = await Guest.connect({ kc: kube.kc, namespace: 'default', vmi: name, user: 'fedora', privateKey: keys.privateKey, timeoutMs: 30_000 }).catch(() => undefined);
  await guest.execOk('true');
  ready.push(performance.now() - t0);
  guests.push(guest);
}
const boot = summarize(ready);

// Masquerade path guest → guest: boot-0 (node-1) → boot-2 (node-1) and → boot-1 (node-2); their
// empty ports lists let ICMP through to the guests.
// Every ping here runs pinned to one CPU. A round trip this short is mostly scheduling: unpinned,
// where ping and the softirq land varies one path's median 4× between identical runs; pinned, the
// sender's CPU carries the whole path and the medians repeat. Rounds alternate subject and
// reference, and the verdict takes the median of the per-round ratios.
const CPU = os.cpus().length - 1;
// (icmpLatency holds ping's output in the guest until it exits, so SSH stays quiet meanwhile.)
const pinned = (g: Guest): Exec => ({ exec: (cmd, o) => g.exec(`taskset -c ${CPU} sh -c ${shq(cmd)}`, o) });
const podIp = async (name: string) => ((await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', 'default', name))?.status as { interfaces: { ipAddress: string }[] }).interfaces[0].ipAddress;
const [sameIp, crossIp] = [await podIp('boot-2'), await podIp('boot-1')];

// References, in a throwaway sandbox: one bare veth pair; and the overlay a cross-node path rides,
// without masquerade: two netns cabled to a bridge (the machine switch) with VXLAN between them.
const script = `set -e; mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip netns add peer && ip netns add na && ip netns add nb
ip link add veth-a type veth peer name veth-b netns peer && ip addr add 10.99.0.1/24 dev veth-a && ip link set veth-a up
ip -n peer addr add 10.99.0.2/24 dev veth-b && ip -n peer link set veth-b up && ip -n peer link set lo up
ip link add sw type bridge && ip link set sw up
for n in a b; do ip link add m-$n type veth peer name eth0 netns n$n && ip link set m-$n master sw up && ip -n n$n link set eth0 up && ip -n n$n link set lo up; done
ip -n na addr add 192.168.99.1/24 dev eth0 && ip -n nb addr add 192.168.99.2/24 dev eth0
ip -n na link add vx0 type vxlan id 42 local 192.168.99.1 remote 192.168.99.2 dstport 4789 && ip -n na addr add 10.98.0.1/24 dev vx0 && ip -n na link set vx0 up
ip -n nb link add vx0 type vxlan id 42 local 192.168.99.2 remote 192.168.99.1 dstport 4789 && ip -n nb addr add 10.98.0.2/24 dev vx0 && ip -n nb link set vx0 up
taskset -c ${CPU} ping -n -c ${PINGS} -i ${INTERVAL_S} 10.99.0.2; echo =====; taskset -c ${CPU} nsenter --net=/run/netns/na ping -n -c ${PINGS} -i ${INTERVAL_S} 10.98.0.2`;
const rounds: { bare: number; overlay: number; same: number; cross: number }[] = [];
const rounds90: typeof rounds = [];
let same!: Awaited<ReturnType<typeof icmpLatency>>;
let masq!: Awaited<ReturnType<typeof icmpLatency>>;
let bare!: ReturnType<typeof parsePing>;
let overlay!: ReturnType<typeof parsePing>;
for (let r = 0; r < ROUNDS; r++) {
  const [vethOut, vxlanOut] = execFileSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', script], { encoding: 'utf8' }).split('=====');
  bare = parsePing(vethOut);
  overlay = parsePing(vxlanOut);
  same = await icmpLatency(pinned(guests[0]), sameIp, { count: PINGS, intervalS: INTERVAL_S });
  masq = await icmpLatency(pinned(guests[0]), crossIp, { count: PINGS, intervalS: INTERVAL_S });
  rounds.push({ bare: bare.stats.p50, overlay: overlay.stats.p50, same: same.stats.p50, cross: masq.stats.p50 });
  rounds90.push({ bare: bare.stats.p90, overlay: overlay.stats.p90, same: same.stats.p90, cross: masq.stats.p90 });
}

for (const g of guests) g.close();
await sim.stop();

const med = (k: keyof (typeof rounds)[number], of = rounds) => summarize(of.map((x) => x[k])).p50;
// Ratios per round (subject and reference measured back to back, in the same machine state),
// then the median over rounds.
const perRound = (a: keyof (typeof rounds)[number], b: keyof (typeof rounds)[number]) => summarize(rounds.map((x) => x[a] / x[b])).p50;
const sameRatio = perRound('same', 'bare');
const ratio = perRound('cross', 'bare');
const overlayRatio = perRound('cross', 'overlay');
const rows = [
  { metric: `VM create → SSH-ready (n=${VMS})`, p50: boot.p50, p90: boot.p90, target: `p50 ≤ ${TARGETS.sshReadyP50Ms} ms`, verdict: boot.p50 <= TARGETS.sshReadyP50Ms ? 'PASS' : 'MISS' },
  { metric: 'ping RTT bare veth pair (ms)', p50: med('bare'), p90: med('bare', rounds90), target: '', verdict: '' },
  { metric: 'ping RTT bare VXLAN between two netns on a bridge (ms)', p50: med('overlay'), p90: med('overlay', rounds90), target: '', verdict: '' },
  { metric: 'ping RTT masquerade guest→guest, same node (ms)', p50: med('same'), p90: med('same', rounds90), target: '', verdict: '' },
  { metric: 'ping RTT masquerade guest→guest, cross-node (ms)', p50: med('cross'), p90: med('cross', rounds90), target: '', verdict: '' },
  { metric: 'masquerade path (same node) / bare veth', p50: sameRatio, p90: NaN, target: `≤ ${TARGETS.rttRatio}×`, verdict: sameRatio <= TARGETS.rttRatio ? 'PASS' : 'MISS' },
  { metric: 'cross-node (masquerade + overlay) / bare veth', p50: ratio, p90: NaN, target: 'reported', verdict: '' },
  { metric: 'cross-node / bare VXLAN (the masquerade path over the overlay)', p50: overlayRatio, p90: NaN, target: 'reported', verdict: '' },
];
console.table(rows.map((r) => ({ ...r, p50: r.p50.toFixed(3), p90: Number.isNaN(r.p90) ? '' : r.p90.toFixed(3) })));
mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
writeFileSync(join(root, 'reports', 'bench', 'vm-boot.json'), JSON.stringify({
  bootMs: { samples: ready, stats: boot }, pinnedCpu: CPU, rttRoundsP50Ms: rounds, rttRoundsP90Ms: rounds90,
  ratio: { sameNode: sameRatio, crossNode: ratio, crossNodeOverOverlay: overlayRatio }, loadAverage: os.loadavg(), targets: TARGETS,
}, null, 2));
