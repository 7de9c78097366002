// CoreDNS's `kubernetes` plugin, reduced to what the sim serves: a record table for the cluster
// zone, answered authoritatively; NXDOMAIN (with the zone's SOA) for names it does not hold.
import type { Answer, Packet } from 'dns-packet';

export const CLUSTER_DOMAIN = 'cluster.local';
/** CoreDNS's default TTL for kubernetes records. */
const TTL = 5;
const AA = 1 << 10;
const RD = 1 << 8;
const RA = 1 << 7;
const RCODE = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 } as const;

export interface RecordSet { A?: string[]; AAAA?: string[] }

export interface DnsRecords {
  zone: string;
  /** Lower-case names without the trailing dot. */
  records: Record<string, RecordSet>;
}

function soa(zone: string): Answer {
  return {
    name: zone, type: 'SOA', ttl: TTL,
    data: { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: TTL },
  };
}

export function answer(query: Packet, db: DnsRecords): Packet {
  const q = query.questions?.[0];
  const base = { id: query.id, type: 'response' as const, questions: query.questions ?? [] };
  const rd = (query.flags ?? 0) & RD;
  if (!q) return { ...base, flags: rd | RCODE.REFUSED };
  const name = q.name.toLowerCase().replace(/\.$/, '');
  const zone = db.zone;
  // Not our zone and no upstream to forward to: refuse, so the resolver moves on.
  if (name !== zone && !name.endsWith(`.${zone}`)) return { ...base, flags: rd | RA | RCODE.REFUSED };
  const set = db.records[name];
  const exists = !!set || Object.keys(db.records).some((n) => n.endsWith(`.${name}`)) || name === zone;
  if (!exists) return { ...base, flags: AA | rd | RA | RCODE.NXDOMAIN, authorities: [soa(zone)] };
  const types = q.type === 'ANY' ? ['A', 'AAAA'] : [q.type];
  const answers: Answer[] = types.flatMap((t) => ((t === 'A' || t === 'AAAA') ? set?.[t] ?? [] : []).map((data) => ({ name: q.name, type: t, ttl: TTL, data })));
  // A name with no records of the asked type: NODATA (NOERROR, no answers, SOA for negative caching).
  return { ...base, flags: AA | rd | RA | RCODE.NOERROR, answers, ...(answers.length ? {} : { authorities: [soa(zone)] }) };
}
