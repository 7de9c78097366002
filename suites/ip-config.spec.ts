// §8.12 Configuring and viewing IP addresses of secondary interfaces (cloud-init, guest agent).
// The secondary networks are OVN-Kubernetes layer2 networks: they need no node configuration.
import { test, expect } from '../src/fixtures/test.ts';
import type { LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability } from '../src/fixtures/annotate.ts';
import {
  addSecondaryNics, bare, DHCP_RANGE_ANNOTATION, ovnNad, vmiInterfaces, waitForStatusIp, type VmiIfaceStatus,
} from '../src/fixtures/secondary.ts';

const STATIC = '10.203.0.14';

let scope: Scope;
let s: LabVm; // eth1 static on `plain`, eth2 dhcp4 on `served`
let n: LabVm; // eth1 dhcp4 on `plain` (no DHCP server there)
let g: LabVm | undefined; // no guest agent: eth1 static on `plain`
let skipWhy: string | undefined;
let dhcpRange = '';

test.beforeAll(async ({ lab }) => {
  const facts = await lab.facts();
  if (!facts.groups.includes('k8s.cni.cncf.io')) skipWhy = 'the target serves no k8s.cni.cncf.io API (no Multus NetworkAttachmentDefinitions)';
  else if (facts.networkType && facts.networkType !== 'OVNKubernetes') skipWhy = `the secondary networks here are OVN-Kubernetes layer2; the cluster network is ${facts.networkType}`;
  if (skipWhy) return;
  dhcpRange = lab.profile.secondary.dhcpRange;
  scope = await lab.scope('ip-config');
  const tag = scope.namespace.slice(-5);
  await Promise.all([
    lab.kube.create(ovnNad(scope.namespace, 'plain', { network: `kvnet-ipc-plain-${tag}`, topology: 'layer2' })),
    lab.kube.create(ovnNad(scope.namespace, 'served', {
      network: `kvnet-ipc-served-${tag}`, topology: 'layer2', ...(dhcpRange ? { annotations: { [DHCP_RANGE_ANNOTATION]: dhcpRange } } : {}),
    })),
  ]);
  const noAgent = lab.profile.secondary.noGuestAgentImage;
  [s, n, g] = await Promise.all([
    scope.vm({ name: 's', customize: (vm) => addSecondaryNics(vm, [{ name: 'static', nad: 'plain', addresses: [`${STATIC}/24`] }, { name: 'dyn', nad: 'served', dhcp4: true }]) }),
    scope.vm({ name: 'n', customize: (vm) => addSecondaryNics(vm, [{ name: 'dyn', nad: 'plain', dhcp4: true }]) }),
    noAgent ? scope.vm({
      name: 'g', labels: { 'kvnet.io/guest-agent': 'false' },
      customize: (vm) => {
        addSecondaryNics(vm, [{ name: 'static', nad: 'plain', addresses: ['10.203.0.15/24'] }]);
        const vols = (vm.spec as { template: { spec: { volumes: { containerDisk?: { image: string } }[] } } }).template.spec.volumes;
        for (const v of vols) if (v.containerDisk) v.containerDisk.image = noAgent;
      },
    }) : Promise.resolve(undefined),
  ]);
});

test.afterAll(async () => {
  await scope?.dispose();
});

test.beforeEach(() => test.skip(!!skipWhy, skipWhy));

/** `oc describe vmi` style rendering of status.interfaces, as the seed shows it. */
function describe(ifaces: VmiIfaceStatus[]): string {
  return ['Interfaces:', ...ifaces.flatMap((i) => [
    `   Interface Name:  ${i.interfaceName ?? ''}`,
    ...(i.ipAddress ? [`   Ip Address:      ${i.ipAddress}`, '   Ip Addresses:', ...(i.ipAddresses ?? []).map((a) => `     ${a}`)] : []),
    `   Mac:             ${i.mac ?? ''}`,
    `   Name:            ${i.name ?? ''}`,
  ])].join('\n');
}

test.describe('8.12.1 Configuring IP addresses for virtual machines', () => {
  test('a static address from cloud-init networkData is on the guest NIC', async () => {
    await capability('Secondary networks', 'IP addresses', '8.12.1.1');
    expect(await s.guest.execOk('ip -4 -o addr show eth1')).toContain(`${STATIC}/24`);
  });

  test('dhcp4 gets an address where the network has a DHCP server', async () => {
    await capability('Secondary networks', 'IP addresses', '8.12.1.1');
    test.skip(!dhcpRange, 'the profile names no DHCP-served secondary network (secondary.dhcpRange)');
    const out = await s.guest.execOk('ip -4 -o addr show eth2');
    const m = /inet (\d+\.\d+\.\d+\.\d+)\/\d+/.exec(out);
    expect(m, `eth2 has an IPv4 lease: ${out}`).toBeTruthy();
    const [first, last] = dhcpRange.split('/')[0].split('-');
    const num = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const got = num((m as RegExpExecArray)[1]);
    expect(got >= num(first) && got <= num(last), `${(m as RegExpExecArray)[1]} in ${dhcpRange}`).toBe(true);
  });

  test('dhcp4 leaves the NIC without IPv4 where the network has no DHCP server', async ({ lab }) => {
    await capability('Secondary networks', 'IP addresses', '8.12.1.1');
    expect((await n.guest.execOk('ip -4 -o addr show eth1')).trim(), 'no IPv4 on eth1').toBe('');
    await new Promise((r) => setTimeout(r, 1500)); // a guest agent refresh, so the absence is current
    const st = (await vmiInterfaces(lab.kube, scope.namespace, 'n')).find((i) => i.name === 'dyn');
    expect(st, 'status.interfaces lists the NIC').toBeTruthy();
    expect((st?.ipAddresses ?? []).filter((a) => !a.includes(':')), 'and no IPv4 for it').toEqual([]);
  });

  test('the pod network interface stays the default route', async () => {
    await capability('Secondary networks', 'IP addresses', '8.12.1.1');
    const routes = (await s.guest.execOk('ip -4 route show default')).trim().split('\n').filter(Boolean);
    expect(routes.length, `default routes: ${routes.join(' | ')}`).toBeGreaterThan(0);
    for (const r of routes) expect(r, 'every IPv4 default route leaves through eth0').toContain('dev eth0');
  });
});

test.describe('8.12.2 Viewing IP addresses of virtual machines', () => {
  test('the static secondary address is in the VMI status, reported by the guest agent', async ({ lab }) => {
    await capability('Secondary networks', 'IP addresses', '8.12.2.2');
    const st = await waitForStatusIp(lab.kube, scope.namespace, 's', 'static', STATIC);
    expect(st.interfaceName).toBe('eth1');
    expect(bare(st.ipAddress ?? '')).toBe(STATIC);
    expect(st.infoSource ?? '', 'the address comes from the guest agent').toContain('guest-agent');
  });

  test('status.interfaces has the shape `oc describe vmi` shows: interface name, IP address(es), MAC, name', async ({ lab }) => {
    await capability('Secondary networks', 'IP addresses', '8.12.2.2');
    await waitForStatusIp(lab.kube, scope.namespace, 's', 'static', STATIC);
    const ifaces = await vmiInterfaces(lab.kube, scope.namespace, 's');
    await test.info().attach('oc describe vmi s (Interfaces)', { body: describe(ifaces), contentType: 'text/plain' });
    expect(ifaces.map((i) => i.name)).toEqual(['default', 'static', 'dyn']);
    for (const i of ifaces) {
      expect(i.interfaceName, `${i.name}: Interface Name`).toMatch(/^eth\d$/);
      expect(i.mac, `${i.name}: Mac`).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i);
      if (i.ipAddress) expect(i.ipAddresses?.[0], `${i.name}: Ip Address is the first of Ip Addresses`).toBe(i.ipAddress);
    }
    expect(ifaces[0].ipAddress, 'the pod interface has an address').toBeTruthy();
  });

  test('without the guest agent the VMI status shows no secondary IP addresses', async ({ lab }) => {
    await capability('Secondary networks', 'IP addresses', '8.12.2.2');
    test.skip(!g, 'the profile names no guest image without the QEMU guest agent (secondary.noGuestAgentImage)');
    expect(await (g as LabVm).guest.execOk('ip -4 -o addr show eth1'), 'the guest itself has the address').toContain('10.203.0.15/24');
    await new Promise((r) => setTimeout(r, 1500));
    const ifaces = await vmiInterfaces(lab.kube, scope.namespace, 'g');
    const sec = ifaces.find((i) => i.name === 'static');
    expect(sec, 'the secondary interface is listed').toBeTruthy();
    expect(sec?.ipAddresses ?? [], 'with no addresses').toEqual([]);
    expect(ifaces.find((i) => i.name === 'default')?.ipAddress, 'the pod interface needs no guest agent').toBeTruthy();
  });
});
