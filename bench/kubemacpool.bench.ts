// KubeMacPool's cost: VM create latency (API create → object returned) with the pool on beside the
// same create in a namespace opted out with §8.14.1's label (same process, same path, alternating
// rounds, medians), the webhook's allocations per second over the API, and the pool's own rate.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kube, type KObject } from '../src/kube/client.ts';
import { KMP_OPT_OUT_LABEL, templateMacs } from '../src/fixtures/kubemacpool.ts';
import { summarize } from '../src/probes/stats.ts';
import { MacPool } from '../src/sim/kubemacpool/pool.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = 5;
const PER_ROUND = Number(process.env.KVNET_BENCH_KMP_CREATES ?? 50);
const NICS = 4;
const TARGETS = { webhookCostP50Ms: 2 };

// Halted VMs: nothing boots, so the number is admission and storage alone.
const sim = await startSim({ dataPlane: false, kubeconfig: join(root, 'test-results', 'bench-kmp', 'kubeconfig') });
const kube = Kube.fromFile(sim.kubeconfig);
await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kmp-on' } });
await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kmp-off', labels: { [KMP_OPT_OUT_LABEL]: 'ignore' } } });

function vm(name: string, namespace: string): KObject {
  const nics = Array.from({ length: NICS }, (_, i) => (i === 0 ? 'default' : `net${i}`));
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace },
    spec: {
      runStrategy: 'Halted',
      template: { spec: {
        domain: { devices: { interfaces: nics.map((n) => (n === 'default' ? { name: n, masquerade: {} } : { name: n, bridge: {} })) }, resources: { requests: { memory: '1Gi' } } },
        networks: nics.map((n) => (n === 'default' ? { name: n, pod: {} } : { name: n, multus: { networkName: n } })),
      } },
    },
  };
}

const ms: Record<'on' | 'off', number[]> = { on: [], off: [] };
let allocated = 0;
let n = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const side of round % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
    for (let i = 0; i < PER_ROUND; i++) {
      const t0 = performance.now();
      const o = await kube.create(vm(`vm-${n++}`, `kmp-${side}`));
      ms[side].push(performance.now() - t0);
      const got = [...templateMacs(o).values()].filter(Boolean).length;
      if (side === 'on' && got !== NICS) throw new Error(`a VM in kmp-on got ${got} of ${NICS} MACs`);
      if (side === 'off' && got !== 0) throw new Error(`a VM in the opted-out namespace got ${got} MACs`);
      allocated += got;
    }
  }
}
const on = summarize(ms.on);
const off = summarize(ms.off);
const apiAllocPerSec = allocated / (ms.on.reduce((a, b) => a + b, 0) / 1000);

// The allocator alone, in this process: a /16 range filled from a random cursor.
const pool = new MacPool();
pool.setRange({ start: 0x02aa00000000, end: 0x02aa0000ffff });
const POOL_N = 50_000;
const t0 = performance.now();
for (let i = 0; i < POOL_N; i++) pool.hold(pool.next(), `vm/b/vm-${i}`, 'default', false);
const poolAllocPerSec = POOL_N / ((performance.now() - t0) / 1000);

const cost = on.p50 - off.p50;
const f = (x: number) => x.toFixed(3);
console.table([
  { side: 'KubeMacPool on', creates: on.count, 'p50 ms': f(on.p50), 'p90 ms': f(on.p90), 'p99 ms': f(on.p99) },
  { side: 'opted out (§8.14.1 label)', creates: off.count, 'p50 ms': f(off.p50), 'p90 ms': f(off.p90), 'p99 ms': f(off.p99) },
]);
const verdict = cost <= TARGETS.webhookCostP50Ms ? 'PASS' : 'MISS';
console.log(`${verdict}  webhook cost at p50: ${f(cost)} ms per create of a ${NICS}-NIC VM (target ≤ ${TARGETS.webhookCostP50Ms} ms)`);
console.log(`allocations per second: ${Math.round(apiAllocPerSec)} through the API (creates one at a time), ${Math.round(poolAllocPerSec)} in the pool alone`);
const load = os.loadavg()[0];
console.log(`load average ${load.toFixed(2)} on ${os.cpus().length} CPUs${load > os.cpus().length / 2 ? ' (busy machine: percentiles are noisy)' : ''}`);

const out = join(root, 'reports', 'bench', 'kubemacpool.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({
  when: new Date().toISOString(), node: process.version, rounds: ROUNDS, perRound: PER_ROUND, nicsPerVm: NICS,
  createMs: { on, off }, webhookCostP50Ms: cost, target: { ...TARGETS, verdict }, allocationsPerSecond: { api: apiAllocPerSec, pool: poolAllocPerSec },
  loadAverage: os.loadavg(), cpus: os.cpus().length,
}, null, 2)}\n`);
console.log(`wrote ${out}`);
await sim.stop();
