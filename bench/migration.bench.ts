// Live migration on the sim, medians over 10 migrations of a 1 GiB VM: how long one takes, the
// guest downtime a 10 ms ping sees on a bridge-binding NIC (peer → the kept address) and on the
// pod network (the guest's own egress), each beside the longest gap of the same ping with no
// migration (the reference, same path, same process). Then what a migration does to two other VMs
// (tenants on the source and the target node, in the direction the memory stream goes): the p99
// RTT of their 10 ms ping over the copy window, and their TCP rate inside it, each against the same
// with no migration, over the pod network and over the dedicated migration network of §8.11. Node
// NICs are shaped to 1 Gbit/s so the memory stream and the tenants share a line rate, as on a real node.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { followMigration, startMigration } from '../src/fixtures/migration.ts';
import { ovnNad } from '../src/fixtures/secondary.ts';
import { Guest } from '../src/guest/guest.ts';
import { generateKeyPair } from '../src/guest/keys.ts';
import { Kube, type KObject } from '../src/kube/client.ts';
import { sshKeySecret } from '../src/kube/vm.ts';
import { bridgeNet, vm, type VmSpec } from '../src/kube/vm-spec.ts';
import { startDetachedSampler, startDowntimeSampler, type DowntimeResult } from '../src/probes/downtime.ts';
import { summarize } from '../src/probes/stats.ts';
import { tcpThroughput } from '../src/probes/throughput.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.KVNET_BENCH_MIGRATIONS ?? 10);
const TENANT_RUNS = Number(process.env.KVNET_BENCH_TENANT_RUNS ?? 5);
/** Shorter than the copy (about 2 s), so the whole iperf3 run falls inside it. */
const TENANT_TCP_S = 1;
const NS = 'default';
/** A 1 GiB VM sends 1/4 of it (256 MiB): about 2 s at 1 Gbit/s, a copy window the tenants' measurements fit in. */
const MEMORY_SCALE = 1 / 4;
const TARGETS = { bridgeDowntimeMs: 200, dedicatedImpactShare: 0.5 };
/** The dedicated network (§8.11): a macvlan on each node's spare NIC, whereabouts addresses. */
const MIGRATION_NIC = process.env.KVNET_BENCH_MIGRATION_NIC ?? 'eth4';
const MIGRATION_NAD = 'migration-network';

const sim = await startSim({ settings: { nicRateGbps: 1, migrationMemoryScale: MEMORY_SCALE }, kubeconfig: join(root, 'test-results', 'bench-migration', 'kubeconfig') });
const kube = Kube.fromFile(sim.kubeconfig);
const keys = generateKeyPair();
await kube.create(sshKeySecret('k', NS, keys.publicKey));
await kube.create(ovnNad(NS, 'l2', { network: 'bench-l2', topology: 'layer2' }));

async function boot(spec: VmSpec): Promise<Guest> {
  await kube.create(spec.build({ namespace: NS, sshKeySecret: 'k', image: 'quay.io/containerdisks/fedora:41' }));
  await kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', NS, spec.name, (o) => (o?.status as { phase?: string } | undefined)?.phase === 'Running', { what: `${spec.name} Running` });
  return Guest.connect({ kc: kube.kc, namespace: NS, vmi: spec.name, user: 'fedora', privateKey: keys.privateKey, timeoutMs: 60_000 });
}
const podIp = async (name: string) => ((await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, name))?.status as { interfaces: { ipAddress: string }[] }).interfaces[0].ipAddress;

// The mover and its peer share a layer2 network; the tenants sit on different nodes, away from each other.
let mover = await boot(vm('mover').memory('1Gi').nic('l2', bridgeNet('l2'), { addresses: ['10.205.0.1/24'] }));
const peer = await boot(vm('peer').nic('l2', bridgeNet('l2'), { addresses: ['10.205.0.2/24'] }));
const t1 = await boot(vm('t1').placement({ node: 'node-1' }));
const t2 = await boot(vm('t2').placement({ node: 'node-2' }));

async function migrate(): Promise<number> {
  const t0 = performance.now();
  const name = await startMigration(kube, NS, 'mover');
  const run = await followMigration(kube, NS, name, 120_000, t0);
  if (run.phase !== 'Succeeded') throw new Error(`migration ${name} ended ${run.phase}: ${JSON.stringify((run.vmim.status as Record<string, unknown>)?.migrationState ?? {})}`);
  return run.wallMs;
}

async function reconnectMover(): Promise<void> {
  mover.close();
  mover = await Guest.connect({ kc: kube.kc, namespace: NS, vmi: 'mover', user: 'fedora', privateKey: keys.privateKey, timeoutMs: 60_000 });
}

/** Longest gap of the same 10 ms ping over `ms` with nothing happening: what the path gives without a migration. */
async function idleGaps(ms: number): Promise<{ bridge: number; pod: number }> {
  const bridge = await startDowntimeSampler(peer, '10.205.0.1');
  const pod = await startDetachedSampler(mover, await podIp('peer'));
  await new Promise((r) => setTimeout(r, ms));
  const [b, p] = await Promise.all([bridge.stop(), pod.stop(mover)]);
  return { bridge: b.downtime().interruptionMs, pod: p.downtime().interruptionMs };
}

const durations: number[] = [];
const bridgeGaps: number[] = [];
const podGaps: number[] = [];
const idle: { bridge: number; pod: number }[] = [];
for (let i = 0; i < RUNS; i++) {
  const bridge = await startDowntimeSampler(peer, '10.205.0.1');
  const pod = await startDetachedSampler(mover, await podIp('peer'));
  const wall = await migrate();
  await reconnectMover();
  const [b, p]: DowntimeResult[] = await Promise.all([bridge.stop(), pod.stop(mover)]);
  durations.push(wall);
  bridgeGaps.push(b.downtime().interruptionMs);
  podGaps.push(p.downtime().interruptionMs);
  idle.push(await idleGaps(wall));
}

/** The tenant on the mover's node (the memory stream leaves it) and the one on the other node. */
async function tenantsNow(): Promise<{ from: Guest; to: Guest; toIp: string }> {
  const node = ((await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', NS, 'mover'))?.status as { nodeName: string }).nodeName;
  const [from, to] = node === 'node-1' ? [t1, t2] : [t2, t1];
  return { from, to, toIp: await podIp(to === t1 ? 't1' : 't2') };
}

/** A migration whose copy window (Running → the end, as the watch saw it) is returned, with `during` run inside it. */
async function migrateWith<T>(during?: () => Promise<T>): Promise<{ window: [number, number]; out?: T }> {
  const name = await startMigration(kube, NS, 'mover');
  const follow = followMigration(kube, NS, name, 120_000);
  let out: T | undefined;
  if (during) {
    await kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstanceMigration', NS, name, (o) => ['Running', 'Succeeded', 'Failed'].includes((o?.status as { phase?: string } | undefined)?.phase ?? ''), { what: `${name} Running`, timeoutMs: 60_000, intervalMs: 20 });
    out = await during();
  }
  const run = await follow;
  if (run.phase !== 'Succeeded') throw new Error(`migration ${name} ended ${run.phase}`);
  await reconnectMover();
  return { window: [run.observedAt.Running ?? run.observedAt[run.phase], run.observedAt[run.phase]], out };
}

/** p99 RTT of the tenants' 10 ms ping (no other tenant load) over a copy window, and with nothing happening over the same length. */
async function tenantRtt(): Promise<{ idle: number; mig: number; windowMs: number; n: number }> {
  const t = await tenantsNow();
  const ping = await startDowntimeSampler(t.from, t.toIp);
  const { window } = await migrateWith();
  const during = (await ping.stop()).timeline.filter((x) => x.ok && x.atMs >= window[0] && x.atMs <= window[1]).map((x) => x.rttMs as number);
  const windowMs = window[1] - window[0];
  const ref = await startDowntimeSampler(t.from, t.toIp);
  await new Promise((r) => setTimeout(r, Math.max(windowMs, 500)));
  const idle = (await ref.stop()).samples;
  return { idle: summarize(idle).p99, mig: summarize(during).p99, windowMs, n: during.length };
}

/** Tenant TCP over the copy window (iperf3 started once the copy runs, shorter than it) against the same with no migration. */
async function tenantTcp(): Promise<{ idle: number; mig: number }> {
  const t = await tenantsNow();
  const idle = await tcpThroughput(t.from, t.to, t.toIp, { seconds: TENANT_TCP_S });
  const { out } = await migrateWith(() => tcpThroughput(t.from, t.to, t.toIp, { seconds: TENANT_TCP_S }));
  return { idle: idle.bitsPerSecond / 1e9, mig: (out as Awaited<ReturnType<typeof tcpThroughput>>).bitsPerSecond / 1e9 };
}

interface Impact { label: string; p99Ratio: number; tputRatio: number; idleP99: number; migP99: number; idleGbps: number; migGbps: number; samplesPerWindow: number }

async function impact(label: string): Promise<Impact> {
  const rtt: Awaited<ReturnType<typeof tenantRtt>>[] = [];
  const tcp: Awaited<ReturnType<typeof tenantTcp>>[] = [];
  for (let i = 0; i < TENANT_RUNS; i++) {
    rtt.push(await tenantRtt());
    tcp.push(await tenantTcp());
  }
  const med = (xs: number[]) => summarize(xs).p50;
  return {
    label,
    p99Ratio: med(rtt.map((r) => r.mig / r.idle)), tputRatio: med(tcp.map((r) => r.mig / r.idle)),
    idleP99: med(rtt.map((r) => r.idle)), migP99: med(rtt.map((r) => r.mig)),
    idleGbps: med(tcp.map((r) => r.idle)), migGbps: med(tcp.map((r) => r.mig)),
    samplesPerWindow: med(rtt.map((r) => r.n)),
  };
}

const overPod = await impact('migration over the pod network');

// §8.11: the NAD in openshift-cnv, then the HyperConverged edit; the virt-handlers restart with migration0.
let overDedicated: Awaited<ReturnType<typeof impact>> | undefined;
let dedicatedNote = '';
try {
  await kube.create({
    apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: MIGRATION_NAD, namespace: 'openshift-cnv' },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: 'migration-bridge', type: 'macvlan', master: MIGRATION_NIC, mode: 'bridge', ipam: { type: 'whereabouts', range: '10.200.5.0/24' } }) },
  });
  await kube.mergePatch({ apiVersion: 'hco.kubevirt.io/v1beta1', kind: 'HyperConverged', metadata: { name: 'kubevirt-hyperconverged', namespace: 'openshift-cnv' }, spec: { liveMigrationConfig: { network: MIGRATION_NAD } } });
  await kube.waitFor(async () => {
    const pods = await kube.list<KObject>('v1', 'Pod', 'openshift-cnv', 'kubevirt.io=virt-handler');
    const withNet = pods.filter((p) => (p.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'] ?? '').includes('migration0') && (p.status as { phase?: string })?.phase === 'Running');
    return withNet.length >= 2 && withNet.length === pods.length;
  }, { what: 'the virt-handler pods to restart with migration0', timeoutMs: 120_000 });
  overDedicated = await impact('migration over the dedicated network (§8.11)');
} catch (e) {
  dedicatedNote = `dedicated network not measured: ${(e as Error).message}`;
}

for (const g of [mover, peer, t1, t2]) g.close();
await sim.stop();

const s = (xs: number[]) => summarize(xs);
const bridgeIdle = s(idle.map((x) => x.bridge)).p50;
const podIdle = s(idle.map((x) => x.pod)).p50;
const rows: Record<string, string>[] = [
  { metric: `migration of a 1 GiB VM (${Math.round(1024 * MEMORY_SCALE)} MiB copied at 1 Gbit/s), n=${RUNS}`, median: `${s(durations).p50.toFixed(0)} ms`, reference: '', target: 'reported', verdict: '' },
  { metric: 'downtime, bridge network (longest gap or silence of a 10 ms ping)', median: `${s(bridgeGaps).p50.toFixed(0)} ms`, reference: `${bridgeIdle.toFixed(0)} ms idle`, target: `≤ ${TARGETS.bridgeDowntimeMs} ms`, verdict: s(bridgeGaps).p50 <= TARGETS.bridgeDowntimeMs ? 'PASS' : 'MISS' },
  { metric: 'downtime, pod network (the guest\'s egress)', median: `${s(podGaps).p50.toFixed(0)} ms`, reference: `${podIdle.toFixed(0)} ms idle`, target: 'reported', verdict: '' },
  { metric: `tenant p99 RTT during / without a migration, ${overPod.label}`, median: `${overPod.p99Ratio.toFixed(2)}×`, reference: `${overPod.idleP99.toFixed(2)} → ${overPod.migP99.toFixed(2)} ms (${overPod.samplesPerWindow} samples); TCP ${overPod.idleGbps.toFixed(2)} → ${overPod.migGbps.toFixed(2)} Gbit/s (${overPod.tputRatio.toFixed(2)}×)`, target: 'reported', verdict: '' },
];
if (overDedicated) {
  // Impact is what the migration adds: ratio − 1. The dedicated network must at least halve it.
  const share = (overDedicated.p99Ratio - 1) / Math.max(overPod.p99Ratio - 1, 1e-9);
  rows.push({ metric: `tenant p99 RTT during / without a migration, ${overDedicated.label}`, median: `${overDedicated.p99Ratio.toFixed(2)}×`, reference: `${overDedicated.idleP99.toFixed(2)} → ${overDedicated.migP99.toFixed(2)} ms (${overDedicated.samplesPerWindow} samples); TCP ${overDedicated.idleGbps.toFixed(2)} → ${overDedicated.migGbps.toFixed(2)} Gbit/s (${overDedicated.tputRatio.toFixed(2)}×)`, target: '', verdict: '' });
  const tcpShare = (1 - overDedicated.tputRatio) / Math.max(1 - overPod.tputRatio, 1e-9);
  rows.push({ metric: 'tenant TCP lost during a migration, dedicated / pod network (1 − ratio)', median: tcpShare.toFixed(2), reference: '', target: 'reported', verdict: '' });
  rows.push({ metric: 'tenant impact, dedicated / pod network (ratio − 1)', median: share.toFixed(2), reference: '', target: `≤ ${TARGETS.dedicatedImpactShare}`, verdict: share <= TARGETS.dedicatedImpactShare ? 'PASS' : 'MISS' });
}
console.table(rows);
if (dedicatedNote) console.log(dedicatedNote);
mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
writeFileSync(join(root, 'reports', 'bench', 'migration.json'), JSON.stringify({
  durationsMs: durations, bridgeGapsMs: bridgeGaps, podGapsMs: podGaps, idleGapsMs: idle, overPod, overDedicated, dedicatedNote,
  memoryScale: MEMORY_SCALE, nicRateGbps: 1, loadAverage: os.loadavg(), targets: TARGETS,
}, null, 2));
