// The macvlan CNI with whereabouts IPAM for pods (src/sim/cni/macvlan.ts): the seed §8.11 NAD
// plumbs migration0 into pods on two nodes, addresses from the range (exclude honoured) reach each
// other over the master NIC, release frees an address, and the plugin's failures are upstream's.
import { expect, test } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../../src/sim/fabric/sandbox.ts';

const entry = fileURLToPath(new URL('./macvlan-entry.ts', import.meta.url));

interface Attached { interface: string; mac: string; ips: string[]; addresses: string[] }
interface Result {
  a: Attached; b: Attached; c: Attached; l2: Attached;
  linkA: { linkinfo: { info_kind: string; info_data: { mode: string } }; link_netnsid?: number; mtu: number }[];
  ping: boolean; txDelta: number; defaultDev: string; bGone: boolean; leftover: string;
  errMaster: string; errMtu: string; errMode: string; errIpam: string; errEmpty: string; errBusy: string;
}

test('macvlan + whereabouts for pods: addresses, the path over the master, release, failures', async () => {
  test.setTimeout(120_000);
  const sb = startSandbox({ entry, args: [], stateDir: mkdtempSync(join(tmpdir(), 'kvnet-macvlan-')) });
  await sb.ready;
  expect(await sb.exited, sb.lines.join('\n')).toBe(0);
  const line = sb.lines.find((l) => l.startsWith('RESULT '));
  expect(line, sb.lines.join('\n')).toBeTruthy();
  const r = JSON.parse((line as string).slice(7)) as Result;
  expect(r.a).toMatchObject({ interface: 'migration0', ips: ['10.200.5.4'], addresses: ['10.200.5.4/24'] });
  expect(r.b).toMatchObject({ ips: ['10.200.5.5'] });
  expect(r.a.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  const link = r.linkA[0];
  expect(link.linkinfo.info_kind).toBe('macvlan');
  expect(link.linkinfo.info_data.mode).toBe('bridge');
  // Its parent is in another netns (the node's): ip shows a netns id and an ifindex, not a name.
  expect(typeof link.link_netnsid).toBe('number');
  expect(link.mtu).toBe(1500);
  expect(r.ping).toBe(true);
  // Three echo requests of 98 bytes left node-1 by eth1: the macvlan rides the master NIC.
  expect(r.txDelta).toBeGreaterThanOrEqual(3 * 98);
  expect(r.defaultDev).toBe('eth0');
  expect(r.bGone).toBe(true);
  expect(r.c).toMatchObject({ ips: ['10.200.5.5'] });
  expect(r.errMaster).toBe('Link not found');
  expect(r.errMtu).toBe('invalid MTU 9000, must be [0, master MTU(1500)]');
  expect(r.errMode).toBe('unknown macvlan mode: "sideways"');
  expect(r.errIpam).toBe('failed to find plugin "host-local" in path [/var/lib/cni/bin /usr/libexec/cni]');
  expect(r.errEmpty).toBe('IPAM plugin returned missing IP config');
  expect(r.errBusy).toMatch(/^failed to create macvlan: device or resource busy/);
  expect(r.leftover).toBe('');
  expect(r.l2).toMatchObject({ interface: 'net1', ips: [], addresses: [] });
});
