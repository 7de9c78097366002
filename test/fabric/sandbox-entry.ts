// Runs INSIDE the sandbox: builds a 2-node fabric with masquerade guests, checks the data plane,
// prints `RESULT <json>`. Args: --mtu N, --marker M (tags long-lived processes), --hold (stay up).
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Fabric, Netns, exposeToHost, STATE_DIR_ENV, netnsName, run, sandboxMain, signalReady, type PodInfo } from '../../src/sim/fabric/index.ts';
import type { KObject } from '../../src/sim/api/types.ts';
import type { VmiInterface, VmiNetwork } from '../../src/sim/controllers/kubevirt-types.ts';
import { MasqueradeBinding } from '../../src/sim/virt/bindings/masquerade.ts';
import { WarmLaunchers, type WarmLauncher } from '../../src/sim/virt/warm-launcher.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const mtu = Number(arg('--mtu') ?? 1400);
const marker = arg('--marker') ?? 'kvnet-fabric-test';
const hold = process.argv.includes('--hold');

async function ok(cmd: string[], netns: string): Promise<boolean> {
  return (await run(cmd, { netns, allowFail: true, timeoutMs: 8000 })).code === 0;
}
const ping = (ns: string, dst: string, size?: number) =>
  ok(['ping', '-n', '-q', '-c', '1', '-W', '1', ...(size !== undefined ? ['-M', 'do', '-s', String(size)] : []), dst], ns);

async function pingRetry(ns: string, dst: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await ping(ns, dst)) return true;
  return false;
}

/** TCP request from a netns; returns the reply line, or null if refused / timed out. */
async function tcp(ns: string, host: string, port: number): Promise<string | null> {
  const addr = host.includes(':') ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`;
  const r = await run(['socat', '-T', '2', '-', `${addr},connect-timeout=1`], { netns: ns, allowFail: true, timeoutMs: 5000 });
  return r.code === 0 ? r.stdout.trim() : null;
}

function listen(ns: Netns, port: number): void {
  // Each listener replies with the peer address it saw: that is what the source-NAT check reads.
  for (const l of [`TCP4-LISTEN:${port},fork,reuseaddr`, `TCP6-LISTEN:${port},ipv6only=1,fork,reuseaddr`]) {
    ns.spawn(['socat', l, `SYSTEM:echo $SOCAT_PEERADDR # ${marker}`], { stdio: 'ignore' });
  }
}

async function waitListening(ns: string, ports: number[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = (await run(['ss', '-Hltn'], { netns: ns })).stdout;
    // Both listeners, v4 and v6: a check right after this must not find one family still starting.
    if (ports.every((p) => out.includes(`0.0.0.0:${p} `) && out.includes(`[::]:${p} `))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`listeners not up in ${ns}`);
}

const guestNetnsName = (vm: string) => netnsName('vm-', vm);

interface BindOptions { ports?: number[]; mac: string; vmCidr4?: string; vmCidr6?: string }

/** virt-handler's steps for a VM's pod network NIC: the masquerade binding prepares it on the launcher, then connects the guest. */
async function bindMasquerade(masq: MasqueradeBinding, pod: PodInfo, guestNetns: string, o: BindOptions, warm?: WarmLauncher): Promise<{ ipv4: string; gw4: string; ipv6: string; gw6: string }> {
  const iface: VmiInterface = { name: 'default', masquerade: {}, ...(o.ports ? { ports: o.ports.map((port) => ({ port })) } : {}) };
  const network: VmiNetwork = { name: 'default', pod: { vmNetworkCIDR: o.vmCidr4, vmIPv6NetworkCIDR: o.vmCidr6 } };
  const vmi: KObject = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { namespace: 'test', name: pod.name }, spec: { domain: { devices: { interfaces: [iface] } }, networks: [network] } };
  const launcher = { namespace: 'test', podName: pod.name, podUid: `uid-${pod.name}`, node: pod.node, pod, warm };
  const p = await masq.prepare(launcher, { iface, network, ifName: 'eth0', mac: o.mac, index: 0 }, vmi);
  await masq.connect(p, guestNetns);
  return p.plan!.guest;
}

async function setupGuest(f: Fabric, masq: MasqueradeBinding, pod: PodInfo, vm: string, ports?: number[]): Promise<Netns> {
  const g = new Netns(guestNetnsName(vm));
  await Netns.addMany([g.name]);
  const m = await bindMasquerade(masq, pod, g.name, { mac: `02:00:00:00:00:${(pod.ipv4.split('.').map(Number)[3]).toString(16).padStart(2, '0')}`, ports });
  // What cloud-init would do with the masquerade defaults.
  await g.ip([
    'link set eth0 up',
    `addr add ${m.ipv4} dev eth0`,
    `route add default via ${m.gw4}`,
    `addr add ${m.ipv6} dev eth0 nodad`,
    `route add ::/0 via ${m.gw6}`,
  ]);
  return g;
}

/** A guest behind a launcher prepared ahead of its pod (as the sim's warm pool does), then bound as `opts` says. */
async function setupPreparedGuest(f: Fabric, masq: MasqueradeBinding, warmLaunchers: WarmLaunchers, node: string, podName: string, vm: string, opts: { ports?: number[]; mac?: string; vmCidr4?: string; vmCidr6?: string } = {}): Promise<{ pod: PodInfo; guest: Netns; mac: string }> {
  const g = new Netns(guestNetnsName(vm));
  await Netns.addMany([g.name]);
  const warm = await warmLaunchers.prepare(g.name);
  const pod = await f.addPod(node, podName, { netns: warm.netns });
  const mac = opts.mac ?? warm.plan.mac;
  const m = await bindMasquerade(masq, pod, g.name, { ...opts, mac }, warm);
  await g.ip(['link set eth0 up', `addr add ${m.ipv4} dev eth0`, `route add default via ${m.gw4}`, `addr add ${m.ipv6} dev eth0 nodad`, `route add ::/0 via ${m.gw6}`]);
  return { pod, guest: g, mac };
}

/** One stream through the fabric's kept port-forward listener: what the far end said. */
function dialOnce(f: Fabric, netns: string, host: string, port: number): Promise<string> {
  return new Promise((res) => {
    const s = f.dial(netns, host, port);
    let out = '';
    s.on('data', (x: Buffer) => (out += x.toString()));
    s.on('end', () => res(out.trim()));
    s.on('error', (e) => res(`error: ${e.message}`));
    s.end();
  });
}

/** socat processes whose command line has `pattern`, once the per-connection children have exited. */
async function listeners(pattern: string): Promise<number> {
  let n = 0;
  for (let i = 0; i < 40; i++) {
    n = Number((await run(['pgrep', '-fc', pattern], { allowFail: true })).stdout.trim() || 0);
    if (n <= 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

sandboxMain(async () => {
  const t0 = performance.now();
  const f = await Fabric.create({ nodes: 2, mtu });
  const createMs = performance.now() - t0;
  const masq = new MasqueradeBinding(f);
  const warm = new WarmLaunchers(f);

  const a = await f.addPod('node-1', 'virt-launcher-a');
  const b = await f.addPod('node-2', 'virt-launcher-b');
  const c = await f.addPod('node-2', 'virt-launcher-c');
  const d = await f.addPod('node-1', 'virt-launcher-d');
  const ga = await setupGuest(f, masq, a, 'a');
  const gb = await setupGuest(f, masq, b, 'b');
  const gc = await setupGuest(f, masq, c, 'c', [8080]);
  const gd = await setupGuest(f, masq, d, 'd');
  for (const g of [gb, gc, gd]) for (const p of [8080, 9090, 49152]) listen(g, p);
  await Promise.all([gb, gc, gd].map((g) => waitListening(g.name, [8080, 9090, 49152])));
  // A server on the sandbox's own loopback, reachable from the host through a unix socket.
  const http = createServer((_q, res) => res.end('hello from the sandbox'));
  await new Promise<void>((res) => http.listen(0, '127.0.0.1', res));
  const addr = http.address();
  const sock = join(process.env[STATE_DIR_ENV]!, 'probe.sock');
  await exposeToHost(sock, typeof addr === 'object' && addr ? addr.port : 0);
  signalReady({ createMs, mtu, sock });

  const A = ga.name;
  const r: Record<string, unknown> = { mtu, createMs, pods: { a, b, c, d } };
  r.ping4Cross = await pingRetry(A, b.ipv4);
  r.ping6Cross = await pingRetry(A, b.ipv6!);
  r.ping4Same = await pingRetry(A, d.ipv4);
  r.ping6Same = await pingRetry(A, d.ipv6!);
  r.tcpListed = await tcp(A, c.ipv4, 8080);
  r.tcpListed6 = await tcp(A, c.ipv6!, 8080);
  r.tcpUnlisted = await tcp(A, c.ipv4, 9090);
  r.tcpMigrationListed = await tcp(A, c.ipv4, 49152);
  r.tcpAllPorts = await tcp(A, b.ipv4, 9090);
  r.tcpAllPorts6 = await tcp(A, b.ipv6!, 9090);
  r.tcpAllPortsSame = await tcp(A, d.ipv4, 9090);
  r.tcpMigration = await tcp(A, b.ipv4, 49152);
  r.tcpMigration6 = await tcp(A, b.ipv6!, 49152);
  r.sourceSeen4 = await tcp(A, b.ipv4, 8080);
  r.sourceSeen6 = await tcp(A, b.ipv6!, 8080);
  // Path MTU: payload + 8 (ICMP) + 20 (IPv4) = MTU; IPv6 header is 40.
  r.df4Max = await ping(A, b.ipv4, mtu - 28);
  r.df4Over = await ping(A, b.ipv4, mtu - 27);
  r.df6Max = await ping(A, b.ipv6!, mtu - 48);
  r.df6Over = await ping(A, b.ipv6!, mtu - 47);

  // connectFrom: the port-forward path, from the launcher netns to the guest.
  r.connectFrom = await new Promise<string>((res, rej) => {
    const s = f.connectFrom(b.netns, '10.0.2.2', 8080);
    let out = '';
    s.on('data', (x: Buffer) => (out += x.toString()));
    s.on('end', () => res(out.trim()));
    s.on('error', rej);
    s.end();
  });
  r.connectFromRefused = await new Promise<string>((res) => {
    const s = f.connectFrom(b.netns, '10.0.2.2', 1);
    s.on('error', (e) => res(e.message));
    s.on('end', () => res('no error'));
    s.resume();
  });

  // Prepared launchers: the defaults need no fixup; a VM's own MAC, CIDR and ports are applied at boot.
  const pe = await setupPreparedGuest(f, masq, warm, 'node-2', 'virt-launcher-e', 'e', { ports: [8080], mac: '02:00:00:00:00:ee', vmCidr4: '10.0.3.0/24', vmCidr6: 'fd10:0:3::/120' });
  const pf = await setupPreparedGuest(f, masq, warm, 'node-1', 'virt-launcher-f', 'f');
  for (const g of [pe.guest, pf.guest]) for (const p of [8080, 9090]) listen(g, p);
  await Promise.all([pe.guest, pf.guest].map((g) => waitListening(g.name, [8080, 9090])));
  r.preparedListed = await tcp(A, pe.pod.ipv4, 8080);
  r.preparedUnlisted = await tcp(A, pe.pod.ipv4, 9090);
  r.preparedGuestAddr = (await run(['ip', '-4', '-br', 'addr', 'show', 'eth0'], { netns: pe.guest.name })).stdout;
  r.preparedMac = (await run(['ip', '-br', 'link', 'show', 'eth0'], { netns: pe.guest.name })).stdout.trim().split(/\s+/)[2];
  r.preparedDefaultAllPorts = await tcp(A, pf.pod.ipv4, 9090);
  r.preparedDefaultMac = (await run(['ip', '-br', 'link', 'show', 'eth0'], { netns: pf.guest.name })).stdout.includes(pf.mac);

  // Port-forward's kept listeners: one per (launcher, port), reused, gone with the pod.
  r.dialFirst = await dialOnce(f, pe.pod.netns, '10.0.3.2', 8080);
  r.dialSecond = await dialOnce(f, pe.pod.netns, '10.0.3.2', 8080);
  r.dialListeners = await listeners('fork TCP4:10.0.3.2:8080');
  r.dialRefused = await dialOnce(f, pe.pod.netns, '10.0.3.2', 1);
  await f.removePod('virt-launcher-e');
  r.dialListenersAfterRemove = await listeners('fork TCP4:10.0.3.2:8080');

  // Faults: each must break its path, and undoing it must heal it.
  await f.setGuestLoss(A, 100);
  r.loss100Cross = await ping(A, b.ipv4);
  r.loss100Same = await ping(A, d.ipv4);
  await f.setGuestLoss(A, 0);
  r.loss0Cross = await pingRetry(A, b.ipv4);
  await f.setGuestLoss(A, 50);
  let got = 0;
  const n = 40;
  const res = await run(['ping', '-n', '-q', '-c', String(n), '-i', '0.01', '-W', '1', b.ipv4], { netns: A, allowFail: true });
  const m = /(\d+) received/.exec(res.stdout);
  got = m ? Number(m[1]) : 0;
  r.loss50Received = got;
  r.loss50Sent = n;
  await f.setGuestLoss(A, 0);
  await masq.setSnat(a, false);
  r.brokenMasq = await ping(A, b.ipv4);
  await masq.setSnat(a, true);
  r.restoredMasq = await pingRetry(A, b.ipv4);
  await f.dropOverlay('node-1', 'node-2');
  r.overlayDroppedCross = await ping(A, b.ipv4);
  r.overlayDroppedSame = await pingRetry(A, d.ipv4);
  await f.restoreOverlay('node-1', 'node-2');
  r.overlayRestored = await pingRetry(A, b.ipv4);

  // Plumb timing: pod + masquerade guest, median of several.
  const plumb: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    const [p] = await Promise.all([f.addPod('node-1', `bench-${i}`), Netns.addMany([guestNetnsName(`bench-${i}`)])]);
    await bindMasquerade(masq, p, guestNetnsName(`bench-${i}`), { mac: '02:00:00:00:01:01', ports: [22] });
    plumb.push(performance.now() - t);
  }
  r.plumbMs = plumb;
  r.plumbMedianMs = median(plumb);
  const tr = performance.now();
  // The pod goes, then the guest (its domain owns the guest netns).
  for (let i = 0; i < 9; i++) await Promise.all([f.removePod(`bench-${i}`), new Netns(guestNetnsName(`bench-${i}`)).delete()]);
  r.removeMs = (performance.now() - tr) / 9;
  r.netnsAfterRemove = (await run(['ip', 'netns', 'list'])).stdout.split('\n').filter((l) => l.includes('bench-')).length;

  console.log(`RESULT ${JSON.stringify(r)}`);
  if (!hold) await f.destroy();
}, { keepAlive: hold });
