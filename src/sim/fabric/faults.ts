// Fault injection: small, real nft changes on the fabric.
import { NftTable } from './nft-table.ts';
import { VXLAN_PORT, type Node } from './node.ts';
import { OVERLAY_PORT, VXLAN_OVERHEAD } from './segment.ts';
import { nftString } from './line.ts';

const FAULT_TABLE = 'kvnet-faults';
const LOSS_TABLE = 'kvnet-loss';
const MTU_TABLE = 'kvnet-underlay-mtu';

/**
 * Loss at a VM's edge: in its guest netns, a share of every packet the guest sends on any NIC (pod
 * network, bridge, OVN, SR-IOV VF) is dropped, so each packet between VMs is dropped once. TCP with
 * the launcher's gateway is spared: that is the port-forward (SSH) path, not the pod network.
 */
export async function setGuestLoss(guestNetns: string, percent: number, launcherGateway?: string): Promise<void> {
  const p = Math.round(Math.max(0, Math.min(100, percent)));
  const table = new NftTable(guestNetns, 'inet', LOSS_TABLE);
  if (p === 0) {
    await table.delete();
    return;
  }
  const drop = p >= 100 ? 'counter drop' : `numgen random mod 100 < ${p} counter drop`;
  await table.replace([
    '  chain output {',
    '    type filter hook output priority -10; policy accept;',
    '    oifname "lo" accept',
    ...(launcherGateway ? [`    ip daddr ${nftString(launcherGateway, 'address')} meta l4proto tcp accept`] : []),
    `    ${drop}`,
    '  }',
  ].join('\n'));
}

/** overlay-mtu-low's default limit: below the pod MTU, never below IPv6's minimum link MTU (1280). */
export function defaultUnderlayLimit(podMtu: number): number {
  return Math.min(podMtu - 100, Math.max(1280, podMtu - 500));
}

/**
 * The node-to-node path carries at most `mtu` bytes of inner packet: the machine-network switch
 * (every bridge in the `machine` netns: br-machine and the VLAN segments) silently drops larger
 * ones, VXLAN/Geneve-encapsulated or not, as a switch port with a smaller MTU does. `node` limits it
 * to that node's cables. `undefined` clears.
 */
export async function setUnderlayLimit(machineNetns: string, nodes: Node[], mtu: number | undefined, node?: string): Promise<void> {
  const table = new NftTable(machineNetns, 'bridge', MTU_TABLE);
  if (mtu === undefined) {
    await table.delete();
    return;
  }
  const n = node === undefined ? undefined : nodes.find((x) => x.name === node);
  if (node !== undefined && !n) throw new Error(`no such node: ${node} (have ${nodes.map((x) => x.name).join(', ')})`);
  // A node's switch ports: its eth0 cable `m-node-N` and its NIC and VLAN cables `mN-…`.
  const matchers = n ? ['iifname', 'oifname'].flatMap((dir) => [`${dir} "m-${n.name}" `, `${dir} "m${n.index}-*" `]) : [''];
  const tunnels = `udp dport { ${VXLAN_PORT}, ${OVERLAY_PORT} }`;
  const rules = matchers.flatMap((m) => [
    `    ${m}${tunnels} ip length > ${mtu + VXLAN_OVERHEAD} counter drop`,
    `    ${m}${tunnels} accept`,
    `    ${m}ip length > ${mtu} counter drop`,
    `    ${m}ip6 length > ${mtu - 40} counter drop`,
  ]);
  await table.replace(`  chain forward {\n    type filter hook forward priority -5; policy accept;\n${rules.join('\n')}\n  }`);
}

/**
 * Drop the node-to-node tunnels between the given node pairs on the machine-network switch (the
 * `machine` netns): the pod network's VXLAN and the OVN layer2 overlay alike, since OVN-Kubernetes
 * carries both in one Geneve tunnel per node pair.
 */
export async function applyOverlayDrops(machineNetns: string, pairs: Array<[Node, Node]>): Promise<void> {
  const table = new NftTable(machineNetns, 'bridge', FAULT_TABLE);
  if (pairs.length === 0) {
    await table.delete();
    return;
  }
  const rules = pairs.flatMap(([a, b]) => [
    `    ip saddr ${a.underlayIp} ip daddr ${b.underlayIp} udp dport { ${VXLAN_PORT}, ${OVERLAY_PORT} } counter drop`,
    `    ip saddr ${b.underlayIp} ip daddr ${a.underlayIp} udp dport { ${VXLAN_PORT}, ${OVERLAY_PORT} } counter drop`,
  ]);
  await table.replace(`  chain forward {\n    type filter hook forward priority -10; policy accept;\n${rules.join('\n')}\n  }`);
}
