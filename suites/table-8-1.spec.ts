// §8.1.3.1 Table 8.1 "Linux bridge CNI compared to an OVN-Kubernetes localnet topology": each row
// observed on the target for both, checked against the documented value, and the observed table
// attached next to the documented one.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../src/fixtures/test.ts';
import type { LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability } from '../src/fixtures/annotate.ts';
import { RUN_LABEL } from '../src/fixtures/lab.ts';
import {
  addSecondaryNics, bridgeNad, MNP_API, NNCP_API, offsetIPv4, ovnNad, removeNncp, waitNncp,
} from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';

type Column = 'bridge' | 'localnet';
interface Row { feature: string; documented: Record<Column, string>; expect: Record<Column, boolean> }

/** Table 8.1 as the seed prints it; `expect` is what each cell means for an observation. */
const TABLE: Row[] = [
  { feature: 'Layer 2 access to the underlay native network', documented: { bridge: 'Only on secondary network interface controllers (NICs)', localnet: 'Yes' }, expect: { bridge: true, localnet: true } },
  { feature: 'Layer 2 access to underlay VLANs', documented: { bridge: 'Yes', localnet: 'Yes' }, expect: { bridge: true, localnet: true } },
  { feature: 'Network policies', documented: { bridge: 'No', localnet: 'Yes' }, expect: { bridge: false, localnet: true } },
  { feature: 'Managed IP pools', documented: { bridge: 'No', localnet: 'No' }, expect: { bridge: false, localnet: false } },
  { feature: 'MAC spoof filtering', documented: { bridge: 'Yes', localnet: 'Yes' }, expect: { bridge: true, localnet: true } },
];

const BRIDGE = 'kvbr-t81';
const POOL_VLAN = 981;
let scope: Scope;
let vb: LabVm; // Linux bridge: eth1 native, eth2 VLAN, eth3 dhcp4 only
let vl: LabVm; // OVN localnet: the same three
let skipWhy: string | undefined;
let nncp: string | undefined;
let obsFile: string;
const addr = { vb: '', vl: '', vbVlan: '', vlVlan: '' };

test.beforeAll(async ({ lab }) => {
  const facts = await lab.facts();
  const sec = lab.profile.secondary;
  if (!facts.groups.includes('nmstate.io') || !facts.groups.includes('k8s.cni.cncf.io')) skipWhy = 'the target lacks nmstate.io or k8s.cni.cncf.io (NMState Operator, Multus)';
  else if (facts.networkType && facts.networkType !== 'OVNKubernetes') skipWhy = `the cluster network is ${facts.networkType}: no OVN-Kubernetes localnet`;
  else if (!sec.altBridgePort || !sec.underlayHostIPv4 || !sec.underlayVmIPv4Base || !sec.underlayVlan || !sec.underlayVlanHostIPv4 || !sec.underlayVlanVmIPv4Base) {
    skipWhy = 'the profile does not describe the underlay (secondary.altBridgePort, underlayHostIPv4, underlayVmIPv4Base, underlayVlan, underlayVlanHostIPv4, underlayVlanVmIPv4Base)';
  }
  obsFile = join(test.info().project.outputDir, `table-8-1-${lab.runId}.json`);
  if (skipWhy) return;
  scope = await lab.scope('table-8-1');
  const tag = scope.namespace.slice(-5);
  const localnet = `kvnet-t81-${tag}`;
  nncp = `kvnet-t81-${tag}`;
  // One policy: the Linux bridge on the spare NIC, and the localnet mapped onto the OVS bridge.
  await lab.kube.create({
    apiVersion: NNCP_API, kind: 'NodeNetworkConfigurationPolicy', metadata: { name: nncp, labels: { [RUN_LABEL]: lab.runId } },
    spec: {
      desiredState: {
        interfaces: [{ name: BRIDGE, type: 'linux-bridge', state: 'up', ipv4: { enabled: false }, bridge: { options: { stp: { enabled: false } }, port: [{ name: sec.altBridgePort }] } }],
        ovn: { 'bridge-mappings': [{ localnet, bridge: sec.localnetBridge, state: 'present' }] },
      },
    },
  });
  const c = await waitNncp(lab.kube, nncp);
  if (!c.some((x) => x.type === 'Available' && x.status === 'True')) throw new Error(`NNCP ${nncp} is not Available: ${JSON.stringify(c)}`);
  const ns = scope.namespace;
  await Promise.all([
    lab.kube.create(bridgeNad(ns, 'br', BRIDGE, { macspoofchk: true })),
    lab.kube.create(bridgeNad(ns, 'br-vlan', BRIDGE, { macspoofchk: true, vlan: sec.underlayVlan })),
    lab.kube.create(ovnNad(ns, 'ln', { network: localnet, topology: 'localnet' })),
    lab.kube.create(ovnNad(ns, 'ln-vlan', { network: localnet, topology: 'localnet', vlanID: sec.underlayVlan })),
    // The pool check's NICs sit on a VLAN of their own: two NICs of one guest on one L2 would answer each other's ARP.
    lab.kube.create(bridgeNad(ns, 'br-pool', BRIDGE, { macspoofchk: true, vlan: POOL_VLAN })),
    lab.kube.create(ovnNad(ns, 'ln-pool', { network: localnet, topology: 'localnet', vlanID: POOL_VLAN })),
  ]);
  addr.vb = offsetIPv4(sec.underlayVmIPv4Base, 10);
  addr.vl = offsetIPv4(sec.underlayVmIPv4Base, 11);
  addr.vbVlan = offsetIPv4(sec.underlayVlanVmIPv4Base, 10);
  addr.vlVlan = offsetIPv4(sec.underlayVlanVmIPv4Base, 11);
  const p = sec.underlayPrefix;
  const nics = (prefix: string, native: string, vlan: string) => (vm: KObject) => addSecondaryNics(vm, [
    { name: 'native', nad: prefix, addresses: [`${native}/${p}`] },
    { name: 'vlan', nad: `${prefix}-vlan`, addresses: [`${vlan}/24`] },
    { name: 'pool', nad: `${prefix}-pool`, dhcp4: true },
  ]);
  const nodes = facts.schedulableNodes;
  [vb, vl] = await Promise.all([
    scope.vm({ name: 'vb', node: nodes[0], customize: nics('br', addr.vb, addr.vbVlan) }),
    scope.vm({ name: 'vl', node: nodes[1] ?? nodes[0], customize: nics('ln', addr.vl, addr.vlVlan) }),
  ]);
});

test.afterAll(async ({ lab }) => {
  await scope?.dispose();
  if (nncp) await removeNncp(lab.kube, nncp);
});

test.beforeEach(() => test.skip(!!skipWhy, skipWhy));

function observations(): Record<string, Partial<Record<Column, boolean>>> {
  try {
    return JSON.parse(readFileSync(obsFile, 'utf8')) as Record<string, Partial<Record<Column, boolean>>>;
  } catch {
    return {};
  }
}

/** Records the row's observations (in a file: a failed test restarts the worker) and checks them. */
function check(feature: string, seen: Record<Column, boolean>, detail: Record<Column, string>): void {
  const all = observations();
  all[feature] = seen;
  mkdirSync(test.info().project.outputDir, { recursive: true });
  writeFileSync(obsFile, JSON.stringify(all));
  const row = TABLE.find((r) => r.feature === feature) as Row;
  for (const col of ['bridge', 'localnet'] as const) {
    expect.soft(seen[col], `${feature}, ${col === 'bridge' ? 'Linux bridge CNI' : 'OVN-Kubernetes localnet'}: documented "${row.documented[col]}", observed: ${detail[col]}`).toBe(row.expect[col]);
  }
}

async function reaches(from: LabVm, ip: string, dev: string, tries = 3): Promise<boolean> {
  for (let i = 0; i < tries; i++) if ((await from.guest.exec(`ping -n -c 1 -W 1 -I ${dev} ${ip}`, { timeoutMs: 10_000 })).code === 0) return true;
  return false;
}

const AS_ROOT = '$(command -v sudo >/dev/null 2>&1 && echo sudo -n)';

test.describe('8.1.3.1 Table 8.1: Linux bridge CNI compared to an OVN-Kubernetes localnet topology', () => {
  test('Layer 2 access to the underlay native network', async ({ lab }) => {
    await capability('Secondary networks', 'Table 8.1', '8.1.3.1', { row: 'underlay native' });
    const host = lab.profile.secondary.underlayHostIPv4;
    const l2 = async (vm: LabVm): Promise<[boolean, string]> => {
      const ok = await reaches(vm, host, 'eth1');
      // Same L2: the host's MAC was learned by ARP on the secondary NIC itself.
      const neigh = (await vm.guest.exec(`ip neigh show ${host} dev eth1`)).stdout.trim();
      return [ok && /lladdr/.test(neigh), `ping ${host} via eth1 ${ok ? 'ok' : 'failed'}; neighbour: ${neigh || 'none'}`];
    };
    const [[b, bd], [l, ld]] = await Promise.all([l2(vb), l2(vl)]);
    check(TABLE[0].feature, { bridge: b, localnet: l }, { bridge: bd, localnet: ld });
  });

  test('Layer 2 access to underlay VLANs', async ({ lab }) => {
    await capability('Secondary networks', 'Table 8.1', '8.1.3.1', { row: 'underlay VLANs' });
    const host = lab.profile.secondary.underlayVlanHostIPv4;
    const [b, l] = await Promise.all([reaches(vb, host, 'eth2'), reaches(vl, host, 'eth2')]);
    const d = (ok: boolean) => `ping ${host} on VLAN ${lab.profile.secondary.underlayVlan} via eth2 ${ok ? 'ok' : 'failed'}`;
    check(TABLE[1].feature, { bridge: b, localnet: l }, { bridge: d(b), localnet: d(l) });
  });

  test('Network policies', async ({ lab }) => {
    await capability('Secondary networks', 'Table 8.1', '8.1.3.1', { row: 'network policies' });
    expect(await reaches(vl, addr.vb, 'eth1') && await reaches(vb, addr.vl, 'eth1'), 'the two VMs reach each other on the underlay before the policy').toBe(true);
    const policy = {
      apiVersion: MNP_API, kind: 'MultiNetworkPolicy',
      metadata: { name: 'deny-all-ingress', namespace: scope.namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'br,ln' } },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [] },
    };
    await lab.kube.create(policy);
    try {
      let lEnforced = false;
      for (let i = 0; i < 10 && !lEnforced; i++) {
        lEnforced = !(await reaches(vb, addr.vl, 'eth1', 1));
        if (!lEnforced) await new Promise((r) => setTimeout(r, 500));
      }
      const bEnforced = !(await reaches(vl, addr.vb, 'eth1', 2));
      const d = (on: boolean) => `a deny-all-ingress MultiNetworkPolicy ${on ? 'blocked' : 'did not block'} ping to the NIC`;
      check(TABLE[2].feature, { bridge: bEnforced, localnet: lEnforced }, { bridge: d(bEnforced), localnet: d(lEnforced) });
    } finally {
      await lab.kube.delete(policy);
    }
  });

  test('Managed IP pools', async () => {
    await capability('Secondary networks', 'Table 8.1', '8.1.3.1', { row: 'managed IP pools' });
    const pooled = async (vm: LabVm) => (await vm.guest.execOk('ip -4 -o addr show eth3')).trim();
    const [b, l] = await Promise.all([pooled(vb), pooled(vl)]);
    const d = (s: string) => (s ? `a dhcp4 NIC got ${s}` : 'a dhcp4 NIC on a NAD without IPAM got no address');
    check(TABLE[3].feature, { bridge: !!b, localnet: !!l }, { bridge: d(b), localnet: d(l) });
  });

  test('MAC spoof filtering', async ({ lab }) => {
    await capability('Secondary networks', 'Table 8.1', '8.1.3.1', { row: 'MAC spoof filtering' });
    const host = lab.profile.secondary.underlayHostIPv4;
    const filtered = async (vm: LabVm, mac: string): Promise<boolean> => {
      const orig = (await vm.guest.execOk('cat /sys/class/net/eth1/address')).trim();
      await vm.guest.execOk(`${AS_ROOT} ip link set dev eth1 address ${mac} && ${AS_ROOT} ip neigh flush dev eth1`);
      try {
        return !(await reaches(vm, host, 'eth1', 2));
      } finally {
        await vm.guest.exec(`${AS_ROOT} ip link set dev eth1 address ${orig} && ${AS_ROOT} ip neigh flush dev eth1`);
      }
    };
    const [b, l] = await Promise.all([filtered(vb, '02:00:00:81:00:01'), filtered(vl, '02:00:00:81:00:02')]);
    const d = (on: boolean) => `a guest that changed its MAC ${on ? 'lost' : 'kept'} connectivity`;
    check(TABLE[4].feature, { bridge: b, localnet: l }, { bridge: d(b), localnet: d(l) });
  });

  test('the observed table matches Table 8.1', async () => {
    await capability('Secondary networks', 'Table 8.1', '8.1.3.1');
    const obs = observations();
    const cell = (r: Row, c: Column): string => {
      const v = obs[r.feature]?.[c];
      return v === undefined ? 'not observed' : `${v ? 'Yes' : 'No'} ${v === r.expect[c] ? '✓' : '✗'}`;
    };
    const md = [
      '| Feature | Linux bridge CNI (documented) | Linux bridge CNI (observed) | OVN-Kubernetes localnet (documented) | OVN-Kubernetes localnet (observed) |',
      '|---|---|---|---|---|',
      ...TABLE.map((r) => `| ${r.feature} | ${r.documented.bridge} | ${cell(r, 'bridge')} | ${r.documented.localnet} | ${cell(r, 'localnet')} |`),
    ].join('\n');
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    const html = `<!doctype html><meta charset="utf-8"><title>Table 8.1 observed</title><style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px 8px}table{border-collapse:collapse}.ok{color:#070}.bad{color:#b00}</style>
<h3>Table 8.1. Linux bridge CNI compared to an OVN-Kubernetes localnet topology — documented vs observed</h3><table><tr><th>Feature</th><th>Linux bridge (documented)</th><th>Linux bridge (observed)</th><th>localnet (documented)</th><th>localnet (observed)</th></tr>
${TABLE.map((r) => `<tr><td>${esc(r.feature)}</td><td>${esc(r.documented.bridge)}</td><td class="${obs[r.feature]?.bridge === r.expect.bridge ? 'ok' : 'bad'}">${cell(r, 'bridge')}</td><td>${esc(r.documented.localnet)}</td><td class="${obs[r.feature]?.localnet === r.expect.localnet ? 'ok' : 'bad'}">${cell(r, 'localnet')}</td></tr>`).join('\n')}
</table>`;
    await test.info().attach('Table 8.1 documented vs observed.md', { body: md, contentType: 'text/markdown' });
    await test.info().attach('Table 8.1 documented vs observed', { body: html, contentType: 'text/html' });
    const off = TABLE.flatMap((r) => (['bridge', 'localnet'] as const).filter((c) => obs[r.feature]?.[c] !== r.expect[c]).map((c) => `${r.feature} / ${c}: ${cell(r, c)}`));
    expect(off, 'rows that differ from Table 8.1 (or were not observed)').toEqual([]);
  });
});

