// MetalLB's controller: a LoadBalancer Service gets an address from an IPAddressPool in
// metallb-system, written to status.loadBalancer.ingress, with the pool in the
// `metallb.io/ip-allocated-from-pool` annotation. The sim's seeded pool is on host loopback
// (127.x.y.200-250), so the harness on the host reaches the address the way a client on the LAN
// reaches a MetalLB L2 address. Behaviour follows metallb/metallb controller/service.go: the
// `metallb.io/address-pool` annotation (or the deprecated `metallb.universe.tf/` one) picks a
// pool, only `autoAssign` pools serve the rest, and a Service that gets nothing has a Warning
// event `AllocationFailed` and no address.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { ServiceSpec } from '../api/service-allocator.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { METALLB_NAMESPACE } from '../cluster.ts';
import { Controller, keyOf, splitKey } from './controller.ts';
import { recordEvent } from './events.ts';

const SERVICE = kindOf('v1', 'Service') as Kind;
const POOL = kindOf('metallb.io/v1beta1', 'IPAddressPool') as Kind;
const COMPONENT = 'metallb-controller';
export const POOL_ANNOTATION = 'metallb.io/address-pool';
const DEPRECATED_POOL_ANNOTATION = 'metallb.universe.tf/address-pool';
export const ALLOCATED_FROM_ANNOTATION = 'metallb.io/ip-allocated-from-pool';
const LB_IPS_ANNOTATION = 'metallb.io/loadBalancerIPs';
const DEPRECATED_LB_IPS_ANNOTATION = 'metallb.universe.tf/loadBalancerIPs';
/** Larger ranges are not expanded (the sim's LoadBalancer addresses are host loopback). */
const MAX_POOL_SIZE = 65536;

interface LbStatus { loadBalancer?: { ingress?: { ip?: string; ipMode?: string }[] } }
interface PoolSpec { addresses?: unknown; autoAssign?: boolean; avoidBuggyIPs?: boolean }

export function ingressIPs(svc: KObject): string[] {
  return ((svc.status as LbStatus | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

function v4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The IPv4 addresses of one `spec.addresses` entry: a CIDR or an `a-b` range (IPv6 entries: none here). */
export function expandAddresses(entry: string, avoidBuggyIPs = false): string[] {
  let lo: number | undefined;
  let hi: number | undefined;
  const cidr = /^([^/]+)\/(\d{1,2})$/.exec(entry.trim());
  if (cidr) {
    const base = v4ToInt(cidr[1]);
    const bits = Number(cidr[2]);
    if (base === undefined || bits > 32) return [];
    const size = 2 ** (32 - bits);
    lo = Math.floor(base / size) * size;
    hi = lo + size - 1;
  } else {
    const [a, b] = entry.split('-');
    lo = a === undefined ? undefined : v4ToInt(a);
    hi = b === undefined ? undefined : v4ToInt(b);
  }
  if (lo === undefined || hi === undefined || hi < lo || hi - lo >= MAX_POOL_SIZE) return [];
  const out: string[] = [];
  for (let n = lo; n <= hi; n++) {
    // avoidBuggyIPs: skip .0 and .255, which some clients mistake for network/broadcast addresses.
    if (avoidBuggyIPs && ((n & 255) === 0 || (n & 255) === 255)) continue;
    out.push(intToV4(n));
  }
  return out;
}

interface Pool { name: string; autoAssign: boolean; ips: string[] }

export class MetalLB extends Controller {
  private stuck = false;
  /** The last AllocationFailed message per Service, so a retry does not repeat the event. */
  private readonly failed = new Map<string, string>();

  constructor(api: Registry) {
    super(api, COMPONENT);
  }

  /** The metallb-stuck fault: the controller stops assigning (and, cleared, catches up). */
  setStuck(on: boolean): void {
    this.stuck = on;
    if (!on) this.resync();
  }

  protected keysFor(e: StoreEvent): string[] {
    // A pool change or a freed address may let a pending Service converge (as upstream's full resync does).
    if (e.kind === POOL || (e.kind === SERVICE && e.type === 'DELETED')) return this.allServiceKeys();
    return e.kind === SERVICE ? [keyOf(e.object.metadata.namespace, e.object.metadata.name)] : [];
  }

  private allServiceKeys(): string[] {
    return this.api.store.list(SERVICE).map((s) => keyOf(s.metadata.namespace, s.metadata.name));
  }

  protected override resync(): void {
    for (const k of this.allServiceKeys()) this.enqueue(k);
  }

  private pools(): Pool[] {
    return this.api.store.list(POOL, METALLB_NAMESPACE).map((p) => {
      const spec = (p.spec ?? {}) as PoolSpec;
      const entries = Array.isArray(spec.addresses) ? spec.addresses.filter((a): a is string => typeof a === 'string') : [];
      return { name: p.metadata.name as string, autoAssign: spec.autoAssign !== false, ips: entries.flatMap((a) => expandAddresses(a, spec.avoidBuggyIPs === true)) };
    });
  }

  protected async reconcile(key: string): Promise<void> {
    if (this.stuck) return;
    const [ns, name] = splitKey(key);
    const svc = this.api.tryGet(SERVICE, ns, name);
    if (!svc) { this.failed.delete(key); return; }
    const isLb = (svc.spec as ServiceSpec).type === 'LoadBalancer';
    const have = ingressIPs(svc);
    if (!isLb) {
      if (have.length) this.writeStatus(svc, {});
      return;
    }
    const annotations = svc.metadata.annotations ?? {};
    const wantPool = annotations[POOL_ANNOTATION] ?? annotations[DEPRECATED_POOL_ANNOTATION];
    const pools = this.pools();
    if (pools.length === 0) return; // upstream: no config, nothing to assign and no event
    const poolOf = (ip: string) => pools.find((p) => p.ips.includes(ip));
    // An address that still fits the config (and the requested pool) stays.
    const current = have[0] && poolOf(have[0]);
    if (current && (!wantPool || current.name === wantPool)) return;
    const result = this.allocate(key, svc, pools, wantPool);
    if ('error' in result) {
      if (have.length) this.writeStatus(svc, {});
      const msg = `Failed to allocate IP for "${key}": ${result.error}`;
      if (this.failed.get(key) !== msg) recordEvent(this.api, svc, 'Warning', 'AllocationFailed', msg, COMPONENT);
      this.failed.set(key, msg);
      return;
    }
    this.failed.delete(key);
    const written = this.writeStatus(svc, { ingress: [{ ip: result.ip, ipMode: 'VIP' }] });
    written.metadata.annotations = { ...(written.metadata.annotations ?? {}), [ALLOCATED_FROM_ANNOTATION]: result.pool };
    delete written.metadata.annotations['metallb.universe.tf/ip-allocated-from-pool'];
    this.api.update(SERVICE, ns, name, written);
    recordEvent(this.api, written, 'Normal', 'IPAllocated', `Assigned IP ["${result.ip}"]`, COMPONENT);
  }

  private allocate(key: string, svc: KObject, pools: Pool[], wantPool: string | undefined): { ip: string; pool: string } | { error: string } {
    const used = new Set(this.api.store.list(SERVICE).filter((s) => keyOf(s.metadata.namespace, s.metadata.name) !== key).flatMap(ingressIPs));
    const annotations = svc.metadata.annotations ?? {};
    const requested = annotations[LB_IPS_ANNOTATION] ?? annotations[DEPRECATED_LB_IPS_ANNOTATION] ?? (svc.spec as { loadBalancerIP?: string }).loadBalancerIP;
    if (requested) {
      const ip = requested.split(',')[0].trim();
      const pool = pools.find((p) => p.ips.includes(ip));
      if (!pool) return { error: `"${ip}" is not allowed in config` };
      if (used.has(ip)) return { error: `IP "${ip}" is already in use` };
      if (wantPool && pool.name !== wantPool) return { error: `requested loadBalancer IP(s) ["${ip}"] is not compatible with requested address pool ${wantPool}` };
      return { ip, pool: pool.name };
    }
    const candidates = wantPool ? pools.filter((p) => p.name === wantPool) : pools.filter((p) => p.autoAssign);
    if (wantPool && candidates.length === 0) return { error: `unknown pool "${wantPool}"` };
    for (const p of candidates) {
      const ip = p.ips.find((a) => !used.has(a));
      if (ip) return { ip, pool: p.name };
    }
    return { error: wantPool ? `no available IPs in pool "${wantPool}"` : 'no available IPs' };
  }

  private writeStatus(svc: KObject, loadBalancer: { ingress?: { ip: string; ipMode: string }[] }): KObject {
    svc.status = { ...(svc.status as object), loadBalancer };
    return this.api.update(SERVICE, svc.metadata.namespace, svc.metadata.name as string, svc, { subresource: 'status' });
  }
}

const L2_ADVERTISEMENT = kindOf('metallb.io/v1beta1', 'L2Advertisement') as Kind;
export const METALLB_CONFIG_KINDS: readonly Kind[] = [POOL, L2_ADVERTISEMENT];

/**
 * The speaker's side: an address is announced (ARP) only when an L2Advertisement covers its pool,
 * one with no `ipAddressPools` and no selectors covering every pool, as upstream's speaker does.
 * Without one, the Service has its address and nothing answers for it.
 */
export function isAdvertised(api: Registry, svc: KObject, ip: string): boolean {
  const ads = api.store.list(L2_ADVERTISEMENT, METALLB_NAMESPACE).map((a) => (a.spec ?? {}) as { ipAddressPools?: string[]; ipAddressPoolSelectors?: unknown[] });
  if (ads.some((a) => !a.ipAddressPools?.length && !a.ipAddressPoolSelectors?.length)) return true;
  const pool = svc.metadata.annotations?.[ALLOCATED_FROM_ANNOTATION]
    ?? api.store.list(POOL, METALLB_NAMESPACE).find((p) => {
      const spec = (p.spec ?? {}) as PoolSpec;
      return Array.isArray(spec.addresses) && spec.addresses.some((a) => typeof a === 'string' && expandAddresses(a).includes(ip));
    })?.metadata.name;
  return !!pool && ads.some((a) => a.ipAddressPools?.includes(pool as string));
}
