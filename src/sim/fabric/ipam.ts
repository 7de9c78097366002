// Address arithmetic for the fabric's fixed plan (v4 as numbers, v6 as bigints).
import { randomBytes } from 'node:crypto';

export function ip4ToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address: ${ip}`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function intToIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function ip6ToBig(ip: string): bigint {
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = ip.includes('::') ? 8 - h.length - t.length : 0;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address: ${ip}`);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** RFC 5952 text form (longest zero run compressed). */
export function bigToIp6(n: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = -1, bestLen = 1, cur = -1, len = 0;
  g.forEach((x, i) => {
    if (x === 0) {
      if (cur < 0) { cur = i; len = 0; }
      len++;
      if (len > bestLen) { best = cur; bestLen = len; }
    } else cur = -1;
  });
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export interface Cidr {
  addr: string;
  prefix: number;
}

export function parseCidr(cidr: string): Cidr {
  const [addr, p] = cidr.split('/');
  return { addr, prefix: Number(p ?? (addr.includes(':') ? 128 : 32)) };
}

/** The n-th address of a CIDR's network (n=1 is the first host). */
export function nthAddress(cidr: string, n: number): string {
  const { addr, prefix } = parseCidr(cidr);
  if (addr.includes(':')) {
    const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
    return bigToIp6((ip6ToBig(addr) & mask) + BigInt(n));
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return intToIp4(((ip4ToInt(addr) & mask) >>> 0) + n);
}

export interface GuestDefaults {
  ipv4: string;
  gw4: string;
  ipv6: string;
  gw6: string;
}

export const DEFAULT_VM_CIDR4 = '10.0.2.0/24';
export const DEFAULT_VM_CIDR6 = 'fd10:0:2::/120';

/** What KubeVirt's DHCP / cloud-init hands a masquerade guest: gateway .1, guest .2. */
export function guestDefaults(vmCidr4 = DEFAULT_VM_CIDR4, vmCidr6 = DEFAULT_VM_CIDR6): GuestDefaults {
  const p4 = parseCidr(vmCidr4).prefix;
  const p6 = parseCidr(vmCidr6).prefix;
  return {
    ipv4: `${nthAddress(vmCidr4, 2)}/${p4}`,
    gw4: nthAddress(vmCidr4, 1),
    ipv6: `${nthAddress(vmCidr6, 2)}/${p6}`,
    gw6: nthAddress(vmCidr6, 1),
  };
}

/** libvirt's OUI with a random tail, as a KubeVirt guest NIC gets without KubeMacPool. */
export function libvirtMac(): string {
  return `52:54:00:${[...randomBytes(3)].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

/** A locally administered MAC from an IPv4 address, as OVN-Kubernetes does (0a:58:a:b:c:d). */
export function macFromIp4(ip: string): string {
  const n = ip4ToInt(ip);
  return ['0a', '58', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
