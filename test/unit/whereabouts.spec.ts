// whereabouts IPAM (src/sim/cni/whereabouts.ts) against upstream's rules: usable range, exclude,
// range_start/range_end, the first-last/prefix form, idempotency per pod+interface, release per
// container+interface, cluster-wide uniqueness across overlapping ranges, and upstream's errors.
import { expect, test } from '@playwright/test';
import { ipPoolName, Whereabouts, whereaboutsRanges } from '../../src/sim/cni/whereabouts.ts';

const owner = (n: number, ifName = 'migration0') => ({ podRef: `openshift-cnv/virt-handler-${n}`, containerId: `uid-${n}`, ifName });
const SEED = { type: 'whereabouts', range: '10.200.5.0/24' };

test('the lowest usable address first: never the network address; the same pod and interface get theirs again', () => {
  const w = new Whereabouts();
  expect(w.add(SEED, owner(1)).addresses).toEqual(['10.200.5.1/24']);
  expect(w.add(SEED, owner(2)).addresses).toEqual(['10.200.5.2/24']);
  expect(w.add(SEED, owner(1)).addresses).toEqual(['10.200.5.1/24']);
  expect(w.add(SEED, owner(1, 'net1')).addresses).toEqual(['10.200.5.3/24']);
  expect(w.allocations()['10.200.5.0-24'].map((a) => a.ip)).toEqual(['10.200.5.1', '10.200.5.2', '10.200.5.3']);
});

test('release by container and interface frees the address for the next pod', () => {
  const w = new Whereabouts();
  w.add(SEED, owner(1));
  w.add(SEED, owner(2));
  w.del(SEED, owner(1));
  w.del(SEED, owner(1)); // DEL twice is fine
  expect(w.add(SEED, owner(3)).addresses).toEqual(['10.200.5.1/24']);
});

test('exclude takes CIDRs and single addresses; range_start and range_end narrow the range when inside it', () => {
  const w = new Whereabouts();
  const conf = { ...SEED, exclude: ['10.200.5.0/30', '10.200.5.5'] };
  expect([1, 2, 3].map((n) => w.add(conf, owner(n)).addresses[0])).toEqual(['10.200.5.4/24', '10.200.5.6/24', '10.200.5.7/24']);
  const narrow = { type: 'whereabouts', range: '10.200.6.0/24', range_start: '10.200.6.100', range_end: '10.200.6.101' };
  expect(w.add(narrow, owner(1)).addresses).toEqual(['10.200.6.100/24']);
  expect(w.add(narrow, owner(2)).addresses).toEqual(['10.200.6.101/24']);
  expect(() => w.add(narrow, owner(3))).toThrow('error at storage engine: Could not allocate IP in range: ip: 10.200.6.100 / - 10.200.6.101 / range: 10.200.6.0/24 / excludeRanges: []');
  // Outside the usable addresses they are ignored, as upstream's GetIPRange does.
  expect(whereaboutsRanges({ range: '10.200.7.0/24', range_start: '10.200.8.1' })[0].first).toBe(BigInt(0x0ac80701));
});

test('the <first>-<last>/<prefix> form; the broadcast address is never given', () => {
  const w = new Whereabouts();
  const conf = { type: 'whereabouts', range: '192.168.2.253-192.168.2.255/24' };
  expect(w.add(conf, owner(1)).addresses).toEqual(['192.168.2.253/24']);
  expect(w.add(conf, owner(2)).addresses).toEqual(['192.168.2.254/24']);
  expect(() => w.add(conf, owner(3))).toThrow(/Could not allocate IP in range: ip: 192.168.2.253 \/ - 192.168.2.254 \/ range: 192.168.2.0\/24/);
});

test('overlapping ranges do not hand out one address twice unless enable_overlapping_ranges is false', () => {
  const w = new Whereabouts();
  expect(w.add({ type: 'whereabouts', range: '10.9.0.0/24' }, owner(1)).addresses).toEqual(['10.9.0.1/24']);
  expect(w.add({ type: 'whereabouts', range: '10.9.0.0/16' }, owner(2)).addresses).toEqual(['10.9.0.2/16']);
  expect(w.add({ type: 'whereabouts', range: '10.9.0.0/20', enable_overlapping_ranges: false }, owner(3)).addresses).toEqual(['10.9.0.1/20']);
  // A network_name is its own address space.
  expect(w.add({ type: 'whereabouts', range: '10.9.0.0/24', network_name: 'blue' }, owner(4)).addresses).toEqual(['10.9.0.1/24']);
  expect(ipPoolName('10.9.0.0/24', 'blue')).toBe('blue-10.9.0.0-24');
});

test('IPv6 ranges, and one address per ipRanges entry', () => {
  const w = new Whereabouts();
  const r = w.add({ type: 'whereabouts', range: '10.10.0.0/24', ipRanges: [{ range: 'fd00:10::/64', exclude: ['fd00:10::1/128'] }] }, owner(1));
  expect(r.addresses).toEqual(['10.10.0.1/24', 'fd00:10::2/64']);
  // As upstream's normalizeRange: `:` and `/` become `-`.
  expect(ipPoolName('fd00:10::/64')).toBe('fd00-10---64');
});

test("upstream's configuration errors", () => {
  const w = new Whereabouts();
  expect(() => w.add({ type: 'whereabouts', range: '10.0.0.0/33' }, owner(1))).toThrow('invalid CIDR 10.0.0.0/33');
  expect(() => w.add({ type: 'whereabouts', range: 'x-10.0.0.9/24' }, owner(1))).toThrow('invalid range start IP: x');
  expect(() => w.add({ type: 'whereabouts', range: '10.0.0.5-nope' }, owner(1))).toThrow("invalid CIDR (do you have the 'range' parameter set for Whereabouts?) 'nope'");
  expect(() => w.add({ type: 'whereabouts', range: '10.1.0.5-10.0.0.9/24' }, owner(1))).toThrow('invalid range start for CIDR 10.0.0.0/24: 10.1.0.5');
  expect(() => w.add({ ...SEED, exclude: ['10.200.5.0/99'] }, owner(1))).toThrow('invalid CIDR in exclude list 10.200.5.0/99');
  expect(() => w.add({ ...SEED, gateway: 'gw' }, owner(1))).toThrow("couldn't parse gateway IP: gw");
  expect(() => w.add({ type: 'whereabouts', range: '10.0.0.0/31' }, owner(1))).toThrow('subnet 10.0.0.0/31 has no usable IP addresses');
  // No range: nothing allocated (macvlan then reports the missing IP config).
  expect(w.add({ type: 'whereabouts' }, owner(1)).addresses).toEqual([]);
  // A failed add keeps nothing: the first range's address went back.
  expect(() => w.add({ ...SEED, ipRanges: [{ range: 'bad' }] }, owner(9))).toThrow();
  expect(w.add(SEED, owner(8)).addresses).toEqual(['10.200.5.1/24']);
});
