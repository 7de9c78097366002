// The whereabouts IPAM plugin: cluster-wide allocation from a range, as upstream
// k8snetworkplumbingwg/whereabouts does it (pkg/config/config.go LoadIPAMConfig, pkg/allocate/allocate.go
// AssignIP/IterateForAssignment, pkg/iphelpers GetIPRange, cmd/whereabouts.go cmdAdd/cmdDel):
// - `range` is a CIDR, or `<first>-<last-ip>/<prefix>`; `range_start`/`range_end` narrow it when they
//   lie inside the usable addresses; `ipRanges` adds more ranges (one address from each, for dual stack);
// - the network and broadcast addresses are never given; `exclude` takes CIDRs or single addresses;
// - the lowest free address is taken; a pod and interface that already hold one get it again;
// - release is by container (here: pod uid) and interface;
// - with `enable_overlapping_ranges` (default true) an address held in one range is not given from
//   another range that overlaps it (upstream's OverlappingRangeIPReservation).
// One allocator serves every node, so there are no duplicates across nodes. Not modelled: the IPPool
// and OverlappingRangeIPReservation objects (allocations live in the sim's memory), node_slice_size,
// static `addresses`, the reconciler.
import { bigToIp6, intToIp4, ip4ToInt, ip6ToBig } from '../fabric/ipam.ts';

export const WHEREABOUTS = 'whereabouts';

/** Who holds an address: upstream keys reservations by podRef and container id, each with the interface. */
export interface IpamOwner {
  /** `namespace/name` of the pod. */
  podRef: string;
  /** CNI_CONTAINERID; the sim uses the pod uid. */
  containerId: string;
  ifName: string;
}

export interface IpamRoute {
  dst: string;
  gw?: string;
}

export interface IpamResult {
  /** CIDRs, one per range. */
  addresses: string[];
  gateway?: string;
  routes: IpamRoute[];
}

/** An IPAM plugin a main plugin (macvlan) delegates to, as CNI's ipam.ExecAdd/ExecDel. */
export interface IpamPlugin {
  readonly type: string;
  add(ipam: Record<string, unknown>, owner: IpamOwner): IpamResult;
  del(ipam: Record<string, unknown>, owner: IpamOwner): void;
}

interface Range {
  /** Canonical CIDR text, as upstream rewrites it (ipNet.String()). */
  cidr: string;
  v6: boolean;
  network: bigint;
  prefix: number;
  first: bigint;
  last: bigint;
  exclude: { text: string; lo: bigint; hi: bigint }[];
}

interface Reservation extends IpamOwner {
  ip: bigint;
  v6: boolean;
}

function parseIp(s: string): { v: bigint; v6: boolean } | undefined {
  try {
    if (s.includes(':')) return { v: ip6ToBig(s), v6: true };
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return undefined;
    return { v: BigInt(ip4ToInt(s)), v6: false };
  } catch {
    return undefined;
  }
}

function showIp(v: bigint, v6: boolean): string {
  return v6 ? bigToIp6(v) : intToIp4(Number(v));
}

/** `a.b.c.d/n` → network, bits; the address itself too (ParseCIDR returns both). */
function parseCidr(s: string): { ip: bigint; network: bigint; prefix: number; bits: number; v6: boolean } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const ip = parseIp(m[1]);
  const bits = ip?.v6 ? 128 : 32;
  const prefix = Number(m[2]);
  if (!ip || prefix > bits) return undefined;
  const host = (1n << BigInt(bits - prefix)) - 1n;
  return { ip: ip.v, network: ip.v & ~host & ((1n << BigInt(bits)) - 1n), prefix, bits, v6: ip.v6 };
}

function excludeRange(s: string): { text: string; lo: bigint; hi: bigint } {
  const c = parseCidr(s) ?? (parseIp(s) ? parseCidr(`${s}/${s.includes(':') ? 128 : 32}`) : undefined);
  if (!c) throw new Error(`invalid CIDR in exclude list ${s}: invalid CIDR address: ${s}`);
  return { text: s, lo: c.network, hi: c.network + (1n << BigInt(c.bits - c.prefix)) - 1n };
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  return typeof o[k] === 'string' ? (o[k] as string) : undefined;
}

/** The ranges of an `ipam` config, with upstream's load-time errors. */
export function whereaboutsRanges(ipam: Record<string, unknown>): Range[] {
  const specs: { range: string; start?: string; end?: string; exclude: string[] }[] = [];
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  if (str(ipam, 'range')) specs.push({ range: str(ipam, 'range') as string, start: str(ipam, 'range_start'), end: str(ipam, 'range_end'), exclude: list(ipam.exclude) });
  for (const r of Array.isArray(ipam.ipRanges) ? ipam.ipRanges : []) {
    if (r && typeof r === 'object') {
      const o = r as Record<string, unknown>;
      specs.push({ range: str(o, 'range') ?? '', start: str(o, 'range_start'), end: str(o, 'range_end'), exclude: list(o.exclude) });
    }
  }
  return specs.map((s) => {
    let start = s.start;
    let end = s.end;
    let cidr;
    const dash = s.range.split('-');
    if (dash.length >= 2) {
      // `<first>-<last>/<prefix>`: the CIDR after the dash carries the last address.
      const [first, rest] = [dash[0], dash.slice(1).join('-')];
      if (!parseIp(first)) throw new Error(`invalid range start IP: ${first}`);
      cidr = parseCidr(rest);
      if (!cidr) throw new Error(`invalid CIDR (do you have the 'range' parameter set for Whereabouts?) '${rest}': invalid CIDR address: ${rest}`);
      const f = parseIp(first) as { v: bigint };
      if (f.v < cidr.network || f.v > cidr.network + (1n << BigInt(cidr.bits - cidr.prefix)) - 1n) throw new Error(`invalid range start for CIDR ${showIp(cidr.network, cidr.v6)}/${cidr.prefix}: ${first}`);
      start = first;
      end = showIp(cidr.ip, cidr.v6);
    } else {
      cidr = parseCidr(s.range);
      if (!cidr) throw new Error(`invalid CIDR ${s.range}: invalid CIDR address: ${s.range}`);
    }
    const size = 1n << BigInt(cidr.bits - cidr.prefix);
    const text = `${showIp(cidr.network, cidr.v6)}/${cidr.prefix}`;
    if (size <= 2n) throw new Error(`net mask is too short, subnet ${text} has no usable IP addresses, it is too small`);
    let first = cidr.network + 1n;
    let last = cidr.network + size - 2n;
    // Upstream honours range_start/range_end only when they lie inside the usable addresses.
    const rs = start ? parseIp(start)?.v : undefined;
    if (rs !== undefined && rs >= first && rs <= last) first = rs;
    const re = end ? parseIp(end)?.v : undefined;
    if (re !== undefined && re >= first && re <= last) last = re;
    return { cidr: text, v6: cidr.v6, network: cidr.network, prefix: cidr.prefix, first, last, exclude: s.exclude.map(excludeRange) };
  });
}

/** The IPPool name upstream gives a range: its CIDR with `/` and `:` as `-`, after the network name if any. */
export function ipPoolName(cidr: string, networkName?: string): string {
  const n = (cidr.endsWith(':') ? `${cidr}0` : cidr).replace(/[:/]/g, '-');
  return networkName ? `${networkName}-${n}` : n;
}

export class Whereabouts implements IpamPlugin {
  readonly type = WHEREABOUTS;
  /** IPPool name → reservations, and the network name each pool belongs to. */
  private readonly pools = new Map<string, Reservation[]>();
  private readonly poolNet = new Map<string, string>();

  add(ipam: Record<string, unknown>, owner: IpamOwner): IpamResult {
    const ranges = whereaboutsRanges(ipam);
    const net = str(ipam, 'network_name');
    const overlapping = ipam.enable_overlapping_ranges !== false;
    const gateway = str(ipam, 'gateway');
    if (gateway !== undefined && !parseIp(gateway)) throw new Error(`couldn't parse gateway IP: ${gateway}`);
    const taken: { pool: Reservation[]; r: Reservation }[] = [];
    try {
      const addresses = ranges.map((r) => {
        const pool = this.pool(r.cidr, net);
        const have = pool.find((x) => x.podRef === owner.podRef && x.ifName === owner.ifName);
        if (have) {
          have.containerId = owner.containerId;
          return `${showIp(have.ip, r.v6)}/${r.prefix}`;
        }
        const ip = this.next(r, pool, overlapping, net);
        const res = { ...owner, ip, v6: r.v6 };
        pool.push(res);
        taken.push({ pool, r: res });
        return `${showIp(ip, r.v6)}/${r.prefix}`;
      });
      const routes = (Array.isArray(ipam.routes) ? ipam.routes : [])
        .filter((x): x is Record<string, unknown> => !!x && typeof x === 'object' && typeof (x as Record<string, unknown>).dst === 'string')
        .map((x) => ({ dst: x.dst as string, ...(typeof x.gw === 'string' ? { gw: x.gw } : {}) }));
      return { addresses, ...(gateway ? { gateway } : {}), routes };
    } catch (e) {
      for (const t of taken) t.pool.splice(t.pool.indexOf(t.r), 1);
      throw new Error(`error at storage engine: ${(e as Error).message}`);
    }
  }

  del(ipam: Record<string, unknown>, owner: IpamOwner): void {
    let ranges: Range[];
    try {
      ranges = whereaboutsRanges(ipam);
    } catch {
      return; // upstream's DEL ignores what it cannot load
    }
    for (const r of ranges) {
      const pool = this.pool(r.cidr, str(ipam, 'network_name'));
      const i = pool.findIndex((x) => x.containerId === owner.containerId && x.ifName === owner.ifName);
      if (i >= 0) pool.splice(i, 1);
    }
  }

  /** Held addresses per IPPool name, for tests and diagnostics. */
  allocations(): Record<string, { ip: string; podRef: string; ifName: string }[]> {
    const out: Record<string, { ip: string; podRef: string; ifName: string }[]> = {};
    for (const [name, pool] of this.pools) {
      out[name] = pool.map((x) => ({ ip: showIp(x.ip, x.v6), podRef: x.podRef, ifName: x.ifName }));
    }
    return out;
  }

  private pool(cidr: string, net?: string): Reservation[] {
    const name = ipPoolName(cidr, net);
    let p = this.pools.get(name);
    if (!p) {
      this.pools.set(name, (p = []));
      this.poolNet.set(name, net ?? '');
    }
    return p;
  }

  private next(r: Range, pool: Reservation[], overlapping: boolean, net: string | undefined): bigint {
    const held = new Set(pool.map((x) => x.ip));
    // Overlapping-range reservations are cluster-wide within a network name: an address another
    // range of the same family gave out is not given again.
    if (overlapping) {
      for (const [name, other] of this.pools) {
        if (other === pool || this.poolNet.get(name) !== (net ?? '')) continue;
        for (const x of other) if (x.v6 === r.v6) held.add(x.ip);
      }
    }
    for (let ip = r.first; ip <= r.last; ip++) {
      if (held.has(ip)) continue;
      const ex = r.exclude.find((e) => ip >= e.lo && ip <= e.hi);
      if (ex) { ip = ex.hi; continue; }
      return ip;
    }
    const excl = `[${r.exclude.map((e) => e.text).join(' ')}]`;
    throw new Error(`Could not allocate IP in range: ip: ${showIp(r.first, r.v6)} / - ${showIp(r.last, r.v6)} / range: ${r.cidr} / excludeRanges: ${excl}`);
  }
}
