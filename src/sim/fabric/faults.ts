// Fault injection: small, real nft changes on the fabric.
import { NftTable } from './nft-table.ts';
import { VXLAN_DEV, VXLAN_PORT, type Node } from './node.ts';

const FAULT_TABLE = 'kvnet-faults';

/** Random loss on the pod network: once per path (bridged same-node hop between pod veths, or egress into the overlay). */
export async function setLoss(nodes: Node[], percent: number): Promise<void> {
  const p = Math.round(Math.max(0, Math.min(100, percent)));
  await Promise.all(nodes.map(async (n) => {
    const inet = new NftTable(n.name, 'inet', FAULT_TABLE);
    const br = new NftTable(n.name, 'bridge', FAULT_TABLE);
    if (p === 0) {
      await Promise.all([inet.delete(), br.delete()]);
      return;
    }
    const drop = p >= 100 ? 'counter drop' : `numgen random mod 100 < ${p} counter drop`;
    await inet.replace(`  chain forward {\n    type filter hook forward priority -10; policy accept;\n    oifname "${VXLAN_DEV}" ${drop}\n  }`);
    await br.replace(`  chain forward {\n    type filter hook forward priority -10; policy accept;\n    iifname "veth*" oifname "veth*" ${drop}\n  }`);
  }));
}

/** Drop VXLAN between the given node pairs on the machine-network switch (the `machine` netns). */
export async function applyOverlayDrops(machineNetns: string, pairs: Array<[Node, Node]>): Promise<void> {
  const table = new NftTable(machineNetns, 'bridge', FAULT_TABLE);
  if (pairs.length === 0) {
    await table.delete();
    return;
  }
  const rules = pairs.flatMap(([a, b]) => [
    `    ip saddr ${a.underlayIp} ip daddr ${b.underlayIp} udp dport ${VXLAN_PORT} counter drop`,
    `    ip saddr ${b.underlayIp} ip daddr ${a.underlayIp} udp dport ${VXLAN_PORT} counter drop`,
  ]);
  await table.replace(`  chain forward {\n    type filter hook forward priority -10; policy accept;\n${rules.join('\n')}\n  }`);
}
