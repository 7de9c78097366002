// Runs INSIDE the sandbox: a 2-node fabric, the macvlan CNI with whereabouts plumbing pods as
// Multus does for virt-handler's `<nad>@migration0`, and the plugin's failures. Prints `RESULT <json>`.
import { parseNadConfig } from '../../src/sim/api/admission/index.ts';
import type { KObject } from '../../src/sim/api/types.ts';
import { MacvlanCni, type PodAttachContext } from '../../src/sim/cni/macvlan.ts';
import { Whereabouts } from '../../src/sim/cni/whereabouts.ts';
import { Fabric, run, sandboxMain, signalReady } from '../../src/sim/fabric/index.ts';

function nad(config: Record<string, unknown>): KObject {
  return { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'migration-net', namespace: 'openshift-cnv' }, spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: 'migration-net', ...config }) } };
}

const SEED = { type: 'macvlan', master: 'eth1', mode: 'bridge', ipam: { type: 'whereabouts', range: '10.200.5.0/24', exclude: ['10.200.5.0/30'] } };

async function txBytes(node: string, dev: string): Promise<number> {
  const j = JSON.parse((await run(['ip', '-j', '-s', 'link', 'show', 'dev', dev], { netns: node })).stdout) as { stats64: { tx: { bytes: number } } }[];
  return j[0].stats64.tx.bytes;
}

async function error(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
}

sandboxMain(async () => {
  const f = await Fabric.create({ nodes: 2 });
  signalReady();
  const cni = new MacvlanCni(f, [new Whereabouts()]);
  const n = nad(SEED);
  const config = parseNadConfig(n)!;
  const pods = await Promise.all([f.addPod('node-1', 'virt-handler-a'), f.addPod('node-2', 'virt-handler-b'), f.addPod('node-1', 'virt-handler-c')]);
  const ctx = (i: number, over: Partial<PodAttachContext> = {}): PodAttachContext => ({
    nad: n, config, node: pods[i].node, netns: pods[i].netns, ifName: 'migration0', podRef: `openshift-cnv/${pods[i].name}`, podUid: `uid-${i}`, ...over,
  });
  const r: Record<string, unknown> = {};
  const a = await cni.attachPod(ctx(0));
  const b = await cni.attachPod(ctx(1));
  r.a = a;
  r.b = b;
  r.linkA = JSON.parse((await run(['ip', '-j', '-d', 'addr', 'show', 'dev', 'migration0'], { netns: pods[0].netns })).stdout);
  const tx0 = await txBytes('node-1', 'eth1');
  r.ping = (await run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', b.ips[0]], { netns: pods[0].netns, allowFail: true })).code === 0;
  r.txDelta = (await txBytes('node-1', 'eth1')) - tx0;
  // The pod network is untouched: eth0 keeps the pod IP and the default route.
  r.defaultDev = JSON.parse((await run(['ip', '-j', 'route', 'show', 'default'], { netns: pods[0].netns })).stdout)[0]?.dev;
  // Release: b's address goes back and the next pod gets it.
  await cni.detachPod(ctx(1));
  r.bGone = (await run(['ip', 'link', 'show', 'dev', 'migration0'], { netns: pods[1].netns, allowFail: true })).code !== 0;
  r.c = await cni.attachPod(ctx(2));
  await cni.detachPod(ctx(2));
  // Failures, as the plugin words them.
  const bad = (cfg: Record<string, unknown>) => { const x = nad(cfg); return cni.attachPod(ctx(1, { nad: x, config: parseNadConfig(x)! })); };
  r.errMaster = await error(bad({ ...SEED, master: 'eth9' }));
  r.errMtu = await error(bad({ ...SEED, mtu: 9000 }));
  r.errMode = await error(bad({ ...SEED, mode: 'sideways' }));
  r.errIpam = await error(bad({ ...SEED, ipam: { type: 'host-local', subnet: '10.1.0.0/24' } }));
  r.errEmpty = await error(bad({ ...SEED, ipam: { type: 'whereabouts' } }));
  // A master that is a bridge port: the kernel refuses, and nothing is left behind (link, address).
  await run(['ip', 'link', 'add', 'br-test', 'type', 'bridge'], { netns: 'node-2' });
  await run(['ip', 'link', 'set', 'eth2', 'master', 'br-test'], { netns: 'node-2' });
  r.errBusy = await error(bad({ ...SEED, master: 'eth2' }));
  r.leftover = (await run(['ip', '-o', 'link', 'show', 'type', 'macvlan'], { netns: pods[1].netns })).stdout.trim();
  // L2 only, no IPAM: the interface is just up.
  const l2 = nad({ type: 'macvlan', master: 'eth1' });
  r.l2 = await cni.attachPod(ctx(1, { nad: l2, config: parseNadConfig(l2)!, ifName: 'net1' }));
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  await f.destroy();
});
