// No API string becomes a second command line: the fabric's line builders refuse whatever is not
// one plain token, and MetalLB's pool parsing takes CIDRs and ranges as upstream does.
import { expect, test } from '@playwright/test';
import { expandAddresses } from '../../src/sim/controllers/metallb.ts';
import { ipLine, token } from '../../src/sim/fabric/line.ts';
import { Veth } from '../../src/sim/fabric/veth.ts';
import { Bridge } from '../../src/sim/fabric/bridge.ts';

test('ipLine passes plain tokens through unchanged', () => {
  expect(ipLine`link add ${'br1'} type bridge`).toBe('link add br1 type bridge');
  expect(ipLine`addr add ${'fd01:0:0:1::2/64'} dev ${'eth0'} mtu ${1400}`).toBe('addr add fd01:0:0:1::2/64 dev eth0 mtu 1400');
});

test('ipLine and token refuse whitespace, newlines and shell or nft syntax, naming the argument', () => {
  for (const bad of ['br1\nlink delete eth0', 'eth1; reboot', 'a b', 'x"y', '$(id)', '`id`', 'a\tb', '']) {
    expect(() => ipLine`link add ${bad} type bridge`, JSON.stringify(bad)).toThrow(/refusing "add" argument/);
  }
  expect(() => token('eth1;reboot', 'port')).toThrow(/refusing port "eth1;reboot"/);
});

test('the fabric\'s builders use the guard: a Veth or Bridge with a bad name throws before any command runs', () => {
  expect(() => new Veth({ a: { name: 'ok0' }, b: { name: 'eth1\nreboot' } }).createLines()).toThrow(/refusing/);
  expect(() => new Bridge({ name: 'br 1' }).createLines()).toThrow(/refusing/);
  expect(new Bridge({ name: 'br1', mtu: 1500 }).createLines()[1]).toBe('link set br1 mtu 1500 up');
});

test('MetalLB pool entries: CIDR, range, avoidBuggyIPs, and nothing for what it cannot take', () => {
  expect(expandAddresses('10.0.0.0/30')).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3']);
  expect(expandAddresses('10.0.0.254-10.0.1.1')).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
  expect(expandAddresses('10.0.0.254-10.0.1.1', true)).toEqual(['10.0.0.254', '10.0.1.1']);
  expect(expandAddresses('10.0.0.5/32')).toEqual(['10.0.0.5']);
  expect(expandAddresses('fd00::/120')).toEqual([]);
  expect(expandAddresses('10.0.0.9-10.0.0.1')).toEqual([]);
});
