// The fault registry's scoping, without a data plane: which guests a selector picks, when a fault
// reaches a guest that boots later, and that a selector key a fault does not honour is refused.
import { expect, test } from '@playwright/test';
import { Faults, selects, type FaultSpec, type GuestInfo } from '../../src/sim/faults.ts';

const guest = (vm: string, namespace: string, node: string): GuestInfo => ({ vm, namespace, node, netns: `vm-${namespace}-${vm}` });

function recording(): { faults: Faults; hits: string[] } {
  const faults = new Faults();
  const hits: string[] = [];
  faults.register('pod-network-loss', {
    description: 'test', scopes: ['namespace', 'vm', 'node'],
    set: async (spec: FaultSpec) => { for (const g of faults.guests(spec.selector)) hits.push(`set ${g.vm}`); },
    clear: async (spec: FaultSpec) => { for (const g of faults.guests(spec.selector)) hits.push(`clear ${g.vm}`); },
    onGuestPlumbed: async (g) => { hits.push(`boot ${g.vm}`); },
  });
  faults.register('overlay-mtu-low', { description: 'test', scopes: ['node'], set: async () => undefined, clear: async () => undefined });
  faults.register('dns-down', { description: 'test', set: async () => undefined, clear: async () => undefined });
  return { faults, hits };
}

test('a selector matches on every key it gives', () => {
  const g = guest('a', 'ns1', 'node-1');
  expect(selects(undefined, g)).toBe(true);
  expect(selects({ namespace: 'ns1' }, g)).toBe(true);
  expect(selects({ namespace: 'ns1', vm: 'b' }, g)).toBe(false);
  expect(selects({ node: 'node-2' }, g)).toBe(false);
  expect(selects({ vm: 'a', node: 'node-1' }, g)).toBe(true);
});

test('a scoped fault hits the selected running guests and the selected ones that boot later, nothing else', async () => {
  const { faults, hits } = recording();
  await faults.guestPlumbed(guest('a', 'ns1', 'node-1'));
  await faults.guestPlumbed(guest('b', 'ns2', 'node-1'));
  await faults.set('pod-network-loss', { percent: 100, selector: { namespace: 'ns1' } });
  await faults.guestPlumbed(guest('c', 'ns1', 'node-2'));
  await faults.guestPlumbed(guest('d', 'ns2', 'node-2'));
  expect(hits).toEqual(['set a', 'boot c']);
  // Setting it again replaces the old scope: the old one is cleared first.
  await faults.set('pod-network-loss', { percent: 100, selector: { vm: 'd' } });
  expect(hits.slice(2)).toEqual(['clear a', 'clear c', 'set d']);
  faults.guestGone('vm-ns2-d');
  await faults.clear('pod-network-loss');
  expect(hits.slice(5)).toEqual([]);
});

test('a selector key the fault does not honour is refused, not ignored', async () => {
  const { faults } = recording();
  await expect(faults.set('overlay-mtu-low', { selector: { vm: 'x' } })).rejects.toThrow('overlay-mtu-low cannot be scoped by vm (it honours: node)');
  await expect(faults.set('dns-down', { selector: { namespace: 'x' } })).rejects.toThrow('dns-down cannot be scoped by namespace (it takes no selector)');
  await expect(faults.set('pod-network-loss', { selector: { pod: 'x' } as never })).rejects.toThrow('unknown selector key "pod"');
  await expect(faults.set('pod-network-loss', { selector: { vm: '' } })).rejects.toThrow('selector.vm must be a non-empty string');
  expect(faults.list()).toEqual({});
});
