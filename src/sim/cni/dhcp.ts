// A DHCP server on a secondary network, as a per-network sim setting: the NAD annotation
// `kvnet.io/dhcp-range: <first>-<last>/<prefix>` (e.g. 10.10.10.100-10.10.10.200/24) says the
// network has one. The plugin hands the lease to the guest (as the launcher's DHCP lease is
// handed over for the pod network) rather than running DHCP on the wire. No gateway is offered,
// so the pod interface stays the default route.
import type { KObject } from '../api/types.ts';
import type { DhcpLease } from '../guest/config.ts';
import { intToIp4, ip4ToInt } from '../fabric/ipam.ts';

export const DHCP_RANGE_ANNOTATION = 'kvnet.io/dhcp-range';

interface Range { first: number; last: number; prefix: number }

export function parseDhcpRange(text: string): Range {
  const m = /^\s*(\d+\.\d+\.\d+\.\d+)\s*-\s*(\d+\.\d+\.\d+\.\d+)\/(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`${DHCP_RANGE_ANNOTATION}: expected "<first>-<last>/<prefix>", e.g. 10.10.10.100-10.10.10.200/24; got "${text}"`);
  const r = { first: ip4ToInt(m[1]), last: ip4ToInt(m[2]), prefix: Number(m[3]) };
  if (r.last < r.first || r.prefix < 1 || r.prefix > 30) throw new Error(`${DHCP_RANGE_ANNOTATION}: bad range "${text}"`);
  return r;
}

export class DhcpServers {
  /** network key → leased address → holder. */
  private readonly leases = new Map<string, Map<number, string>>();

  /** The dhcp-down fault: every server is silent, so a dhcp4 NIC booted meanwhile gets no lease. */
  down = false;

  /** A lease for `holder` when the NAD's network has a DHCP server; undefined when it has none. */
  offer(nad: KObject, network: string, holder: string, mtu: number): DhcpLease | undefined {
    const text = nad.metadata.annotations?.[DHCP_RANGE_ANNOTATION];
    if (!text || this.down) return undefined;
    const r = parseDhcpRange(text);
    const used = this.leases.get(network) ?? new Map<number, string>();
    this.leases.set(network, used);
    for (const [ip, h] of used) if (h === holder) return { address: `${intToIp4(ip)}/${r.prefix}`, mtu };
    for (let ip = r.first; ip <= r.last; ip++) {
      if (used.has(ip)) continue;
      used.set(ip, holder);
      return { address: `${intToIp4(ip)}/${r.prefix}`, mtu };
    }
    throw new Error(`DHCP server of ${network}: range ${text} exhausted`);
  }

  /** The lease moves with its NIC (a migration's target pod takes over the source's). */
  transfer(network: string, from: string, to: string): void {
    const used = this.leases.get(network);
    for (const [ip, h] of used ?? []) if (h === from) used?.set(ip, to);
  }

  release(network: string, holder: string): void {
    const used = this.leases.get(network);
    for (const [ip, h] of used ?? []) if (h === holder) used?.delete(ip);
  }
}
