// kube-apiserver's Service REST allocators, as a mutator: ClusterIPs from the service CIDRs by
// ipFamilyPolicy/ipFamilies, and NodePorts from 30000-32767, synchronously at create/update, so the
// object a client gets back already carries them. Used addresses are read from the store, so a
// deleted Service releases its IPs and ports with no bookkeeping to get wrong.
import { isIP } from 'node:net';
import type { Mutator } from './registry.ts';
import { errors } from './status.ts';
import type { AdmissionRequest, Cause, KObject } from './types.ts';

export const SERVICE_CIDR4 = '172.30.0.0/16';
export const SERVICE_CIDR6 = 'fd02::/112';
/** The cluster DNS service address: only ever given to a Service that asks for it. */
export const DNS_SERVICE_IP = '172.30.0.10';
const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

type Family = 'IPv4' | 'IPv6';

interface ServicePort { name?: string; port?: number; nodePort?: number; protocol?: string }
export interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: Family[];
  ipFamilyPolicy?: string;
  ports?: ServicePort[];
  selector?: Record<string, string>;
  [k: string]: unknown;
}

const familyOf = (ip: string): Family => (isIP(ip) === 6 ? 'IPv6' : 'IPv4');

/** `n`-th address of a CIDR as a string (IPv4 /16 and IPv6 /112 are all we need). */
function nth(family: Family, n: number): string {
  if (family === 'IPv4') return `172.30.${(n >> 8) & 255}.${n & 255}`;
  return `fd02::${n.toString(16)}`;
}

function indexIn(family: Family, ip: string): number | undefined {
  if (family === 'IPv4') {
    const m = /^172\.30\.(\d+)\.(\d+)$/.exec(ip);
    return m ? Number(m[1]) * 256 + Number(m[2]) : undefined;
  }
  const m = /^fd02::([0-9a-f]{1,4})$/i.exec(ip.toLowerCase());
  return m ? parseInt(m[1], 16) : ip.toLowerCase() === 'fd02::' ? 0 : undefined;
}

const SIZE = 65536;

export function serviceAllocator(cluster: { dualStack: boolean }): Mutator {
  return (req: AdmissionRequest) => {
    const o = req.object;
    if (o.apiVersion !== 'v1' || o.kind !== 'Service' || req.operation === 'DELETE') return;
    const spec = (o.spec ??= {}) as ServiceSpec;
    const old = req.oldObject?.spec as ServiceSpec | undefined;
    const others = req.store.list('v1', 'Service').filter((s) => s.metadata.uid !== req.oldObject?.metadata.uid);
    spec.type ??= 'ClusterIP';
    if (spec.type === 'ExternalName') return;
    allocateClusterIPs(o, spec, old, others, cluster.dualStack);
    allocateNodePorts(o, spec, old, others);
  };
}

function allocateClusterIPs(o: KObject, spec: ServiceSpec, old: ServiceSpec | undefined, others: KObject[], dualStack: boolean): void {
  // clusterIPs are immutable: an update that leaves them out keeps what was allocated.
  if (old?.clusterIPs?.length && !spec.clusterIP && !spec.clusterIPs?.length) {
    spec.clusterIPs = [...old.clusterIPs];
    spec.clusterIP = old.clusterIPs[0];
    spec.ipFamilies ??= old.ipFamilies;
    spec.ipFamilyPolicy ??= old.ipFamilyPolicy;
    return;
  }
  const requested = spec.clusterIPs?.length ? [...spec.clusterIPs] : spec.clusterIP ? [spec.clusterIP] : [];
  const headless = requested[0] === 'None';
  const policy = spec.ipFamilyPolicy ?? 'SingleStack';
  spec.ipFamilyPolicy = policy;
  // Families: as asked, else from the requested IPs, else the cluster's first; dual-stack adds the other.
  let families: Family[] = spec.ipFamilies?.length ? [...spec.ipFamilies]
    : requested.length && !headless ? requested.map(familyOf)
    : ['IPv4'];
  if (policy !== 'SingleStack' && dualStack && families.length === 1) families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
  // Leave what the validators refuse (IPv6 on single-stack, three families...) to them, untouched.
  if (families.some((f) => f !== 'IPv4' && f !== 'IPv6') || families.length > 2 || (!dualStack && families.includes('IPv6'))) return;
  spec.ipFamilies = families;
  if (headless) {
    spec.clusterIP = 'None';
    spec.clusterIPs = ['None'];
    return;
  }
  const used = new Set(others.flatMap((s) => (s.spec as ServiceSpec)?.clusterIPs ?? []).map((ip) => ip.toLowerCase()));
  const causes: Cause[] = [];
  const out = families.map((family, i) => {
    const want = requested[i];
    const field = `spec.clusterIPs[${i}]`;
    if (want) {
      const idx = indexIn(family, want);
      if (familyOf(want) !== family) causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${want}": expected an ${family} address, as ipFamilies[${i}] says` });
      else if (idx === undefined || idx === 0 || idx === SIZE - 1) causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${want}": provided IP is not in the valid range. The range of valid IPs is ${family === 'IPv4' ? SERVICE_CIDR4 : SERVICE_CIDR6}` });
      else if (used.has(want.toLowerCase())) causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${want}": provided IP is already allocated` });
      return want;
    }
    // Dynamic allocation skips .0, the DNS address and the broadcast; random start, as the real allocator.
    const start = 1 + Math.floor(Math.random() * (SIZE - 2));
    for (let k = 0; k < SIZE - 2; k++) {
      const n = 1 + ((start - 1 + k) % (SIZE - 2));
      const ip = nth(family, n);
      if (ip === DNS_SERVICE_IP || (family === 'IPv4' && n < 11)) continue;
      if (!used.has(ip)) return ip;
    }
    causes.push({ reason: 'FieldValueInvalid', field, message: `range ${family === 'IPv4' ? SERVICE_CIDR4 : SERVICE_CIDR6} is full` });
    return '';
  });
  if (causes.length) throw errors.invalid('Service', '', o.metadata.name ?? '', causes);
  spec.clusterIPs = out;
  spec.clusterIP = out[0];
}

function allocateNodePorts(o: KObject, spec: ServiceSpec, old: ServiceSpec | undefined, others: KObject[]): void {
  if (spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') return;
  const key = (p: ServicePort) => `${p.protocol ?? 'TCP'}/${p.port}`;
  const used = new Set(others.flatMap((s) => ((s.spec as ServiceSpec)?.ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${p.nodePort}`)));
  const kept = new Map((old?.ports ?? []).filter((p) => p.nodePort).map((p) => [key(p), p.nodePort as number]));
  const causes: Cause[] = [];
  const mine = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    if (typeof p !== 'object' || p === null) return;
    const proto = p.protocol ?? 'TCP';
    if (!p.nodePort) p.nodePort = kept.get(key(p));
    if (p.nodePort) {
      // Out-of-range values are the validator's to report.
      if (!Number.isInteger(p.nodePort) || p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) return;
      const k = `${proto}/${p.nodePort}`;
      if (used.has(k) || mine.has(k)) {
        causes.push({ reason: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, message: `Invalid value: ${p.nodePort}: provided port is already allocated` });
      }
      mine.add(k);
      return;
    }
    const span = NODE_PORT_MAX - NODE_PORT_MIN + 1;
    const start = Math.floor(Math.random() * span);
    for (let k = 0; k < span; k++) {
      const port = NODE_PORT_MIN + ((start + k) % span);
      if (!used.has(`${proto}/${port}`) && !mine.has(`${proto}/${port}`)) {
        p.nodePort = port;
        mine.add(`${proto}/${port}`);
        return;
      }
    }
    causes.push({ reason: 'FieldValueInvalid', field: `spec.ports[${i}].nodePort`, message: `range ${NODE_PORT_MIN}-${NODE_PORT_MAX} is full` });
  });
  if (causes.length) throw errors.invalid('Service', '', o.metadata.name ?? '', causes);
}
