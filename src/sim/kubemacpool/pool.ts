// KubeMacPool's pool manager (pkg/pool-manager): one MAC range for the cluster, a map of every MAC
// in use to the VM interfaces holding it, and an allocator that walks the range from a cursor.
// The range rules are CNAO's (pkg/network/kubemacpool.go), which validates NetworkAddonsConfig.
import { randomBytes, randomInt } from 'node:crypto';

/** 48 bits fit a double exactly, so a MAC is a number here. */
export type MacNumber = number;

export interface MacRange { start: MacNumber; end: MacNumber }

/** One holder of a MAC: `vm/<namespace>/<name>` and the interface name (VmNamespaced, macEntry). */
export interface MacOwner {
  vm: string;
  iface: string;
  /** Allocated in a transaction whose VM has not been seen persisted yet. */
  pending: boolean;
  at: number;
}

/** pool.go ErrFull. */
export const RANGE_FULL = 'the range is full';

const SIX_BYTES = [
  /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})$/i,
];
const DOTTED = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i;

/** Go's net.ParseMAC for the 48-bit forms (colon, dash, dotted); undefined where it returns an error. */
export function parseMac(s: string): MacNumber | undefined {
  for (const re of SIX_BYTES) {
    const m = re.exec(s);
    if (m) return m.slice(1).reduce((n, b) => n * 256 + parseInt(b, 16), 0);
  }
  const d = DOTTED.exec(s);
  return d ? d.slice(1).reduce((n, w) => n * 65536 + parseInt(w, 16), 0) : undefined;
}

/** net.HardwareAddr.String(): lower-case, colon-separated. */
export function formatMac(n: MacNumber): string {
  const out: number[] = [];
  for (let i = 5; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) % 256);
  return out.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Normalised form of a MAC string (the pool's key), or undefined when Go would not parse it. */
export function normalizeMac(s: string): string | undefined {
  const n = parseMac(s);
  return n === undefined ? undefined : formatMac(n);
}

const firstOctet = (n: MacNumber) => Math.floor(n / 2 ** 40);

/**
 * CNAO's validateKubeMacPool: the messages it fails NetworkAddonsConfig with (empty = valid).
 * validateRange is CNAO's byte loop as written: it accepts a range as soon as one octet of the start
 * is below the end's, so 02:01:00:00:00:00–02:00:ff:00:00:00 passes; the pool then has no room.
 */
export function validateRangeConfig(rangeStart: string | undefined, rangeEnd: string | undefined): string[] {
  if (!rangeStart && !rangeEnd) return [];
  if (!rangeStart || !rangeEnd) return ['both or none of the KubeMacPool ranges needs to be configured'];
  const start = parseMac(rangeStart);
  if (start === undefined) return ['failed to parse rangeStart because the mac address is invalid'];
  const end = parseMac(rangeEnd);
  if (end === undefined) return ['failed to parse rangeEnd because the mac address is invalid'];
  const a = formatMac(start).split(':').map((b) => parseInt(b, 16));
  const b = formatMac(end).split(':').map((x) => parseInt(x, 16));
  if (!a.some((x, i) => x < b[i])) {
    return [`failed to set mac address range: invalid range. Range end is lesser than or equal to its start. start: ${formatMac(start)} end: ${formatMac(end)}`];
  }
  for (const [what, n] of [['RangeStart', start], ['RangeEnd', end]] as const) {
    const o = firstOctet(n);
    if (o & 1) return [`failed to set ${what}: invalid mac address. Multicast addressing is not supported. Unicast addressing must be used. The first octet is 0X${o.toString(16).toUpperCase()}`];
  }
  return [];
}

/** CNAO's default when no range is configured: 02:XX:XX:00:00:00–02:XX:XX:FF:FF:FF, XX:XX random. */
export function randomDefaultRange(): { rangeStart: string; rangeEnd: string } {
  const [x, y] = randomBytes(2);
  const hex = (v: number) => v.toString(16).padStart(2, '0');
  return { rangeStart: `02:${hex(x)}:${hex(y)}:00:00:00`, rangeEnd: `02:${hex(x)}:${hex(y)}:ff:ff:ff` };
}

export class MacPool {
  /** MAC (normalised) → its holders. Several holders are a collision, which KMP ≥ v0.51 allows. */
  private readonly macs = new Map<string, MacOwner[]>();
  private range?: MacRange;
  private cursor = 0;
  private last?: string;
  /** Fault `kubemacpool-duplicate`: hand out the last MAC again while it is still held. */
  duplicate = false;

  get current(): MacRange | undefined {
    return this.range && { ...this.range };
  }

  /** UpdateRanges: the cursor goes to a random place in the new range. */
  setRange(r: MacRange | undefined): void {
    this.range = r;
    if (r && r.end >= r.start) this.cursor = r.start + randomInt(0, Math.min(r.end - r.start + 1, 2 ** 47));
  }

  holders(mac: string): readonly MacOwner[] {
    return this.macs.get(mac) ?? [];
  }

  /** Every MAC in use with its holders (for the controller's sweep and the self-tests). */
  entries(): [string, readonly MacOwner[]][] {
    return [...this.macs];
  }

  clear(): void {
    this.macs.clear();
    this.last = undefined;
  }

  /** getFreeMac: from the cursor to the range's end, then from its start; the cursor moves past what it gives. */
  next(): string {
    const r = this.range;
    if (!r || r.end < r.start) throw new Error(RANGE_FULL);
    if (this.duplicate && this.last && this.macs.has(this.last)) return this.last;
    const size = r.end - r.start + 1;
    for (let k = 0; k < size; k++) {
      const n = r.start + ((this.cursor - r.start + k) % size);
      const mac = formatMac(n);
      if (this.macs.has(mac)) continue;
      this.cursor = n === r.end ? r.start : n + 1;
      return mac;
    }
    throw new Error(RANGE_FULL);
  }

  /** Records `mac` for an interface (createOrUpdateEntry): a holder of it already is kept once. */
  hold(mac: string, vm: string, iface: string, pending: boolean): void {
    const list = (this.macs.get(mac) ?? []).filter((o) => !(o.vm === vm && o.iface === iface));
    list.push({ vm, iface, pending, at: Date.now() });
    this.macs.set(mac, list);
    this.last = mac;
  }

  /** The VM's transaction persisted: its MACs are what its spec says; the rest it held are released. */
  commit(vm: string, inSpec: Map<string, string>): void {
    for (const [mac, list] of this.macs) {
      const keep = list.filter((o) => o.vm !== vm || inSpec.get(o.iface) === mac).map((o) => (o.vm === vm ? { ...o, pending: false } : o));
      this.set(mac, keep);
    }
  }

  /** ReleaseAllVirtualMachineMacs. */
  releaseVm(vm: string): void {
    for (const [mac, list] of this.macs) this.set(mac, list.filter((o) => o.vm !== vm));
  }

  /** Drops one holding (a transaction that never persisted). */
  release(mac: string, vm: string, iface: string): void {
    this.set(mac, (this.macs.get(mac) ?? []).filter((o) => !(o.vm === vm && o.iface === iface)));
  }

  private set(mac: string, list: MacOwner[]): void {
    if (list.length) this.macs.set(mac, list);
    else this.macs.delete(mac);
  }
}
