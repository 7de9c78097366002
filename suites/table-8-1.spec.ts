// §8.1.3.1 Table 8.1 "Linux bridge CNI compared to an OVN-Kubernetes localnet topology": each row
// observed on the target for both columns, checked against the documented value, and attached as
// documented vs observed. Each row is one test and stands alone.
import { test as base, expect } from '../src/fixtures/test.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { RUN_LABEL, type LabVm } from '../src/fixtures/lab.ts';
import { expectReachable, icmpPath } from '../src/fixtures/paths.ts';
import { bridgeNad, MNP_API, NNCP_API, offsetIPv4, ovnNad } from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { bridgeNet, vm } from '../src/kube/vm-spec.ts';
import { untilBlocked } from './eventually-blocked.ts';
import { fromForeignMac } from './foreign-mac.ts';
import { onNncp, releaseNncp, type NncpGated } from './nncp-gate.ts';

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
const COLUMN_TITLE: Record<Column, string> = { bridge: 'Linux bridge CNI', localnet: 'OVN-Kubernetes localnet' };

interface Comparison {
  namespace: string;
  /** One VM per column, each with eth1 on the native underlay, eth2 on the underlay VLAN, eth3 dhcp4 only. */
  vms: Record<Column, LabVm>;
  /** Their eth1 addresses. */
  native: Record<Column, string>;
}

const test = base.extend<{ t81: Comparison }, { comparison: NncpGated<Comparison> }>({
  t81: async ({ comparison }, use) => use(comparison.get()),
  comparison: [async ({ lab }, use) => {
    const sec = lab.profile.secondary;
    const scope = await lab.scope('table-8-1');
    const ns = scope.namespace;
    const localnet = `kvnet-t81-${ns.slice(-5)}`;
    // One policy: the Linux bridge on the spare NIC, and the localnet mapped onto the OVS bridge.
    const policy = {
      apiVersion: NNCP_API, kind: 'NodeNetworkConfigurationPolicy', metadata: { name: localnet, labels: { [RUN_LABEL]: lab.runId } },
      spec: {
        desiredState: {
          interfaces: [{ name: BRIDGE, type: 'linux-bridge', state: 'up', ipv4: { enabled: false }, bridge: { options: { stp: { enabled: false } }, port: [{ name: sec.altBridgePort }] } }],
          ovn: { 'bridge-mappings': [{ localnet, bridge: sec.localnetBridge, state: 'present' }] },
        },
      },
    };
    const comparison = await onNncp(lab, policy, async (): Promise<Comparison> => {
      await Promise.all([
        scope.apply(bridgeNad(ns, 'br', BRIDGE, { macspoofchk: true })),
        scope.apply(bridgeNad(ns, 'br-vlan', BRIDGE, { macspoofchk: true, vlan: sec.underlayVlan })),
        scope.apply(ovnNad(ns, 'ln', { network: localnet, topology: 'localnet' })),
        scope.apply(ovnNad(ns, 'ln-vlan', { network: localnet, topology: 'localnet', vlanID: sec.underlayVlan })),
        // The pool NICs sit on a VLAN of their own: two NICs of one guest on one L2 would answer each other's ARP.
        scope.apply(bridgeNad(ns, 'br-pool', BRIDGE, { macspoofchk: true, vlan: POOL_VLAN })),
        scope.apply(ovnNad(ns, 'ln-pool', { network: localnet, topology: 'localnet', vlanID: POOL_VLAN })),
      ]);
      const native = { bridge: offsetIPv4(sec.underlayVmIPv4Base, 10), localnet: offsetIPv4(sec.underlayVmIPv4Base, 11) };
      const vlan = { bridge: offsetIPv4(sec.underlayVlanVmIPv4Base, 10), localnet: offsetIPv4(sec.underlayVlanVmIPv4Base, 11) };
      const spec = (name: string, nad: string, col: Column) => vm(name)
        .nic('native', bridgeNet(nad), { addresses: [`${native[col]}/${sec.underlayPrefix}`] })
        .nic('vlan', bridgeNet(`${nad}-vlan`), { addresses: [`${vlan[col]}/24`] })
        .nic('pool', bridgeNet(`${nad}-pool`), { dhcp4: true });
      const [vb, vl] = await scope.createAll([spec('vb', 'br', 'bridge'), spec('vl', 'ln', 'localnet')]);
      return { namespace: ns, vms: { bridge: vb, localnet: vl }, native };
    });
    await use(comparison);
    await releaseNncp(lab, localnet, scope);
  }, { scope: 'worker', timeout: 1_500_000 }],
});

/** Both columns at once: each VM observes its cell. */
async function observe<T>(t: Comparison, fn: (v: LabVm, col: Column) => Promise<T>): Promise<Record<Column, T>> {
  const [bridge, localnet] = await Promise.all([fn(t.vms.bridge, 'bridge'), fn(t.vms.localnet, 'localnet')]);
  return { bridge, localnet };
}

/** Attaches the row documented vs observed, then holds each observed cell to the documented one. */
async function check(feature: string, seen: Record<Column, boolean>, detail: Record<Column, string>): Promise<void> {
  const row = TABLE.find((r) => r.feature === feature);
  if (!row) throw new Error(`no row "${feature}" in Table 8.1`);
  const cell = (c: Column) => `${seen[c] ? 'Yes' : 'No'} ${seen[c] === row.expect[c] ? '✓' : '✗'} (${detail[c]})`;
  const md = [
    `| Feature | ${COLUMN_TITLE.bridge} (documented) | (observed) | ${COLUMN_TITLE.localnet} (documented) | (observed) |`,
    '|---|---|---|---|---|',
    `| ${row.feature} | ${row.documented.bridge} | ${cell('bridge')} | ${row.documented.localnet} | ${cell('localnet')} |`,
  ].join('\n');
  await test.info().attach(`Table 8.1: ${feature}, documented vs observed.md`, { body: md, contentType: 'text/markdown' });
  for (const c of ['bridge', 'localnet'] as const) {
    expect.soft(seen[c], `${feature}, ${COLUMN_TITLE[c]}: documented "${row.documented[c]}", observed: ${detail[c]}`).toBe(row.expect[c]);
  }
}

const NEEDS = [
  requires.api('nmstate.io', 'Kubernetes NMState Operator'),
  requires.api('k8s.cni.cncf.io', 'Multus NetworkAttachmentDefinitions'),
  requires.networkType('OVNKubernetes'),
  requires.profile('secondary.altBridgePort', 'a second spare node NIC for the bridge'),
  requires.profile('secondary.underlayHostIPv4', 'a host on the underlay native network'),
  requires.profile('secondary.underlayVmIPv4Base', 'free underlay addresses for VMs'),
  requires.profile('secondary.underlayVlan', 'an underlay VLAN'),
  requires.profile('secondary.underlayVlanHostIPv4', 'a host on the underlay VLAN'),
  requires.profile('secondary.underlayVlanVmIPv4Base', 'free underlay VLAN addresses for VMs'),
];

capability('8.1.3.1 Table 8.1: Linux bridge CNI compared to an OVN-Kubernetes localnet topology', { epic: 'Secondary networks', feature: 'Table 8.1', section: '8.1.3.1', requires: NEEDS }, () => {
  test(TABLE[0].feature, details({ params: { row: 'underlay native' } }), async ({ lab, t81 }) => {
    const host = lab.profile.secondary.underlayHostIPv4;
    const seen = await observe(t81, async (v): Promise<[boolean, string]> => {
      const r = await icmpPath(v, { name: 'the underlay host', host }, { dev: 'eth1' }).run();
      // Same L2: the host's MAC was learned by ARP on the secondary NIC itself.
      const neigh = (await v.os.run(['ip', 'neigh', 'show', host, 'dev', 'eth1'])).stdout.trim();
      return [r.ok && /lladdr/.test(neigh), `ping ${host} via eth1 ${r.ok ? 'ok' : `failed (${r.detail ?? ''})`}; neighbour: ${neigh || 'none'}`];
    });
    await check(TABLE[0].feature, { bridge: seen.bridge[0], localnet: seen.localnet[0] }, { bridge: seen.bridge[1], localnet: seen.localnet[1] });
  });

  test(TABLE[1].feature, details({ params: { row: 'underlay VLANs' } }), async ({ lab, t81 }) => {
    const sec = lab.profile.secondary;
    const seen = await observe(t81, async (v) => (await icmpPath(v, { name: 'the underlay VLAN host', host: sec.underlayVlanHostIPv4 }, { dev: 'eth2' }).run()).ok);
    const d = (ok: boolean) => `ping ${sec.underlayVlanHostIPv4} on VLAN ${sec.underlayVlan} via eth2 ${ok ? 'ok' : 'failed'}`;
    await check(TABLE[1].feature, seen, { bridge: d(seen.bridge), localnet: d(seen.localnet) });
  });

  test(TABLE[2].feature, details({ params: { row: 'network policies' } }), async ({ lab, t81 }) => {
    const { bridge: vb, localnet: vl } = t81.vms;
    const toVl = icmpPath(vb, { name: 'vl (localnet)', host: t81.native.localnet }, { dev: 'eth1', tries: 1 });
    const toVb = icmpPath(vl, { name: 'vb (Linux bridge)', host: t81.native.bridge }, { dev: 'eth1', tries: 2 });
    // Control: both NICs answer on the underlay before the policy.
    await expectReachable(icmpPath(vb, { name: 'vl (localnet)', host: t81.native.localnet }, { dev: 'eth1' }));
    await expectReachable(icmpPath(vl, { name: 'vb (Linux bridge)', host: t81.native.bridge }, { dev: 'eth1' }));
    const policy: KObject = {
      apiVersion: MNP_API, kind: 'MultiNetworkPolicy',
      metadata: { name: 'deny-all-ingress', namespace: t81.namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'br,ln' } },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [] },
    };
    await lab.kube.apply(policy);
    try {
      // Enforced asynchronously: the localnet side blocking shows the policy is in force.
      const localnet = await untilBlocked(toVl);
      const bridge = !(await toVb.run()).ok;
      const d = (on: boolean) => `a deny-all-ingress MultiNetworkPolicy ${on ? 'blocked' : 'did not block'} ping to the NIC`;
      await check(TABLE[2].feature, { bridge, localnet }, { bridge: d(bridge), localnet: d(localnet) });
    } finally {
      await lab.kube.delete(policy);
    }
  });

  test(TABLE[3].feature, details({ params: { row: 'managed IP pools' } }), async ({ t81 }) => {
    const seen = await observe(t81, async (v) => {
      // Control: the dhcp4 NIC is attached and up, so "no address" is about the pool, not a missing NIC.
      expect((await v.os.link('eth3')).up, `${v.name} eth3 (the dhcp4 NIC) is up`).toBe(true);
      return v.os.addresses('eth3', 4);
    });
    const d = (a: string[]) => (a.length ? `a dhcp4 NIC got ${a.join(', ')}` : 'a dhcp4 NIC on a NAD without IPAM got no address');
    await check(TABLE[3].feature, { bridge: seen.bridge.length > 0, localnet: seen.localnet.length > 0 }, { bridge: d(seen.bridge), localnet: d(seen.localnet) });
  });

  test(TABLE[4].feature, details({ params: { row: 'MAC spoof filtering' } }), async ({ lab, t81 }) => {
    const host = { name: 'the underlay host', host: lab.profile.secondary.underlayHostIPv4 };
    const mac: Record<Column, string> = { bridge: '02:00:00:81:00:01', localnet: '02:00:00:81:00:02' };
    const seen = await observe(t81, async (v, col) => {
      await expectReachable(icmpPath(v, host, { dev: 'eth1' })); // control: the assigned MAC gets through
      return !(await fromForeignMac(v, 'eth1', mac[col], icmpPath(v, host, { dev: 'eth1', tries: 2 })).run()).ok;
    });
    const d = (on: boolean) => `a guest that changed its MAC ${on ? 'lost' : 'kept'} connectivity`;
    await check(TABLE[4].feature, seen, { bridge: d(seen.bridge), localnet: d(seen.localnet) });
  });
});

