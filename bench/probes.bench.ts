// Probe accuracy, on the same path in the same run: the probes (over SSH, parsing per-packet
// output) beside the same tool run directly in the guest's netns (nsenter into the guest
// agent's namespaces), and the masquerade path's throughput beside a bare veth pair.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Guest } from '../src/guest/guest.ts';
import { generateKeyPair } from '../src/guest/keys.ts';
import { Kube, type KObject } from '../src/kube/client.ts';
import { masqueradeVm, sshKeySecret } from '../src/kube/vm.ts';
import { icmpLatency, parseIperf3, parsePing, tcpThroughput } from '../src/probes/index.ts';
import { startSim } from '../src/sim/up.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PINGS = 100;
const SECONDS = 3;

const sim = await startSim({ kubeconfig: join(root, 'test-results', 'bench-probes', 'kubeconfig') });
const kube = Kube.fromFile(sim.kubeconfig);
const keys = generateKeyPair();
await kube.create(sshKeySecret('k', 'default', keys.publicKey));
const vm = async (name: string, node: string) => {
  await kube.create(masqueradeVm({ name, namespace: 'default', sshKeySecret: 'k', node }));
  const vmi = await kube.waitFor(async () => {
    const v = await kube.get<KObject>('kubevirt.io/v1', 'VirtualMachineInstance', 'default', name);
    return (v?.status as { phase?: string } | undefined)?.phase === 'Running' ? v : undefined;
  });
  const guest = await Guest.connect({ kc: kube.kc, namespace: 'default', vmi: name, user: 'fedora', privateKey: keys.privateKey });
  return { guest, ip: (vmi.status as { interfaces: { ipAddress: string }[] }).interfaces[0].ipAddress };
};
const [a, b] = await Promise.all([vm('pa', 'node-1'), vm('pb', 'node-2')]);

/**
 * The host pid of a VM's guest agent. Guests have roots of their own (src/sim/guest/root.ts), so it
 * is found by what the guest shows: an agent process whose root has the VM's /etc/hostname.
 */
function agentPid(name: string): string {
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('guest-agent.cjs')) continue;
      if (readFileSync(`/proc/${p}/root/etc/hostname`, 'utf8').trim() === name) return p;
    } catch { /* the process went away */ }
  }
  throw new Error(`no guest agent process for ${name}`);
}
const direct = (name: string, cmd: string[]) => execFileSync('nsenter', ['-t', agentPid(name), '-U', '-n', '--preserve-credentials', ...cmd], { encoding: 'utf8' });

// ICMP: the probe and ping itself in the same netns, in alternating rounds so both see the same
// machine load; the rounds' p50s are compared by their median.
const ROUNDS = 5;
const probeP50s: number[] = [];
const directP50s: number[] = [];
let probePing!: Awaited<ReturnType<typeof icmpLatency>>;
let directPing!: ReturnType<typeof parsePing>;
for (let i = 0; i < ROUNDS; i++) {
  probePing = await icmpLatency(a.guest, b.ip, { count: PINGS, intervalS: 0.02 });
  directPing = parsePing(direct('pa', ['ping', '-n', '-c', String(PINGS), '-i', '0.02', b.ip]));
  probeP50s.push(probePing.stats.p50);
  directP50s.push(directPing.stats.p50);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

// TCP: the probe (iperf3 over SSH on both ends), then iperf3 run directly in both netns.
const probeTcp = await tcpThroughput(a.guest, b.guest, b.ip, { seconds: SECONDS, port: 5201 });
const server = execFileSync('sh', ['-c', `nsenter -t ${agentPid('pb')} -U -n --preserve-credentials iperf3 -s -1 -p 5202 >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' }).trim();
await new Promise((r) => setTimeout(r, 300));
const directTcp = parseIperf3(direct('pa', ['iperf3', '-c', b.ip, '-p', '5202', '-J', '-t', String(SECONDS)]));
void server;

// Reference path: one bare veth pair between two namespaces, same tool, same duration.
const bareScript = `mount -t tmpfs tmpfs /run && mkdir -p /run/netns && ip netns add peer && ip link add veth-a type veth peer name veth-b netns peer &&
ip addr add 10.99.0.1/24 dev veth-a && ip link set veth-a up && ip -n peer addr add 10.99.0.2/24 dev veth-b && ip -n peer link set veth-b up && ip -n peer link set lo up &&
(ip netns exec peer iperf3 -s -1 -p 5203 >/dev/null 2>&1 &) && sleep 0.3 && iperf3 -c 10.99.0.2 -p 5203 -J -t ${SECONDS}`;
const bareTcp = parseIperf3(execFileSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', bareScript], { encoding: 'utf8' }));

a.guest.close();
b.guest.close();
await sim.stop();

const pingDev = (median(probeP50s) - median(directP50s)) / median(directP50s);
const tcpRatio = probeTcp.bitsPerSecond / directTcp.bitsPerSecond;
const pathRatio = probeTcp.bitsPerSecond / bareTcp.bitsPerSecond;
const gbps = (x: number) => (x / 1e9).toFixed(2);
console.table([
  { measure: 'icmpLatency p50 (probe) vs ping in the same netns', probe: `${median(probeP50s).toFixed(3)} ms`, reference: `${median(directP50s).toFixed(3)} ms`, result: `${(pingDev * 100).toFixed(1)}%`, target: '±10%', verdict: Math.abs(pingDev) <= 0.1 ? 'PASS' : 'MISS' },
  { measure: 'throughput (probe) vs iperf3 in the same netns', probe: `${gbps(probeTcp.bitsPerSecond)} Gbit/s`, reference: `${gbps(directTcp.bitsPerSecond)} Gbit/s`, result: `${(tcpRatio * 100).toFixed(1)}%`, target: '≥ 90%', verdict: tcpRatio >= 0.9 ? 'PASS' : 'MISS' },
  { measure: 'masquerade cross-node vs bare veth pair', probe: `${gbps(probeTcp.bitsPerSecond)} Gbit/s`, reference: `${gbps(bareTcp.bitsPerSecond)} Gbit/s`, result: `${(pathRatio * 100).toFixed(1)}%`, target: '(reported)', verdict: '' },
]);
mkdirSync(join(root, 'reports', 'bench'), { recursive: true });
writeFileSync(join(root, 'reports', 'bench', 'probes.json'), JSON.stringify({ rounds: { probeP50s, directP50s }, probePing, directPing, probeTcp, directTcp, bareTcp, pingDeviation: pingDev, tcpRatio, pathRatio }, null, 2));
