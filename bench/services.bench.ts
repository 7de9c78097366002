// Service data path on the sim: iperf3 through a ClusterIP (kube-proxy DNAT) as a ratio of the same
// pod-to-pod transfer in the same run, and cluster DNS queries per second and p99 from one guest.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceManifest, viewService } from '../src/kube/service.ts';
import type { KObject } from '../src/kube/client.ts';
import { summarize } from '../src/probes/stats.ts';
import { tcpThroughput } from '../src/probes/index.ts';
import { DataPlaneSim } from '../test/sim/helpers.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.KVNET_BENCH_IPERF_S ?? 5);
const QUERIES = 2000;
const TARGETS = { dnatRatio: 0.8, dnsP99Ms: 5 };

const sim = await DataPlaneSim.start('bench-services');
try {
  const [client, server] = await Promise.all([sim.vm({ name: 'client', node: 'node-1' }), sim.vm({ name: 'server', node: 'node-2' })]);
  await sim.kube.create(serviceManifest({ name: 'iperf', namespace: 'selftest', selector: { 'kubevirt.io/vm': 'server' }, ports: [{ port: 5201, targetPort: 5201 }] }));
  const clusterIP = viewService(await sim.kube.get<KObject>('v1', 'Service', 'selftest', 'iperf') as KObject).clusterIPs[0];
  await sim.kube.waitFor(async () => (await client.guest.exec(`socat -u /dev/null TCP:${clusterIP}:5201,connect-timeout=1`)).code === 0 || undefined, { what: 'ClusterIP rules', timeoutMs: 15_000 }).catch(() => undefined);

  // Alternate so drift on a busy machine hits both paths alike.
  const direct: number[] = [];
  const viaSvc: number[] = [];
  for (let i = 0; i < 2; i++) {
    direct.push((await tcpThroughput(client.guest, server.guest, server.podIPv4, { seconds: SECONDS })).bitsPerSecond);
    viaSvc.push((await tcpThroughput(client.guest, server.guest, clusterIP, { seconds: SECONDS })).bitsPerSecond);
  }
  const d = summarize(direct).mean;
  const s = summarize(viaSvc).mean;

  // DNS: dig in batch mode from the guest, one process for all queries; each answer's own query time.
  const name = 'iperf.selftest.svc.cluster.local';
  const t0 = Date.now();
  const out = await client.guest.execOk(`yes ${name} | head -n ${QUERIES} > /tmp/kvnet-dig-batch && dig +tries=1 +time=2 @172.30.0.10 -f /tmp/kvnet-dig-batch | grep -E '^;; Query time:'`, { timeoutMs: 120_000 });
  const wallS = (Date.now() - t0) / 1000;
  const times = out.split('\n').map((l) => /Query time: (\d+) msec/.exec(l)?.[1]).filter((x): x is string => !!x).map(Number);
  const dns = summarize(times);
  const qps = times.length / wallS;

  const ratio = s / d;
  const rows = [
    { metric: 'TCP pod→pod direct, cross-node (Gbit/s)', value: (d / 1e9).toFixed(2), target: '', verdict: '' },
    { metric: 'TCP pod→ClusterIP→pod, cross-node (Gbit/s)', value: (s / 1e9).toFixed(2), target: '', verdict: '' },
    { metric: 'ClusterIP / direct throughput', value: ratio.toFixed(3), target: `≥ ${TARGETS.dnatRatio}`, verdict: ratio >= TARGETS.dnatRatio ? 'PASS' : 'MISS' },
    { metric: `DNS queries per second (one guest, dig -f, n=${times.length})`, value: qps.toFixed(0), target: '', verdict: '' },
    { metric: 'DNS query time p50 (ms, dig)', value: dns.p50.toFixed(2), target: '', verdict: '' },
    { metric: 'DNS query time p99 (ms, dig)', value: dns.p99.toFixed(2), target: `≤ ${TARGETS.dnsP99Ms} ms`, verdict: dns.p99 <= TARGETS.dnsP99Ms ? 'PASS' : 'MISS' },
  ];
  console.table(rows);
  mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
  writeFileSync(join(root, 'reports', 'bench', 'services.json'), JSON.stringify({ direct, viaService: viaSvc, ratio, dns: { samples: times, stats: dns, qps }, targets: TARGETS }, null, 2));
} finally {
  await sim.stop();
}
