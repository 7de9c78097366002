// §8.12 Configuring and viewing IP addresses of secondary interfaces (cloud-init, guest agent).
// The secondary networks are OVN-Kubernetes layer2 networks: they need no node configuration.
import { test as base, expect, topology } from '../src/fixtures/test.ts';
import type { Lab, LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { bare, DHCP_RANGE_ANNOTATION, ovnNad, waitForStatusIp, type VmiIfaceStatus } from '../src/fixtures/secondary.ts';
import { bridgeNet, vm } from '../src/kube/vm-spec.ts';

const STATIC = '10.203.0.14';
const STATIC_NO_AGENT = '10.203.0.15';
/** Put on `n`'s NIC for a moment, to see that the status follows that NIC's addresses. */
const PROBE = '10.203.0.16';
/** How long the guest agent may take to report a change: the profile's convergence bound (KubeVirt polls the agent; the sim pushes). */
const agentMs = (lab: Lab) => lab.profile.timeouts.convergenceMs;

interface IpConfigLab {
  scope: Scope;
  /** eth1 static on `plain`, eth2 dhcp4 on `served`. */
  s: LabVm;
  /** eth1 dhcp4 on `plain` (no DHCP server there). */
  n: LabVm;
  /** No guest agent: eth1 static on `plain`; only where the profile names such an image. */
  g?: LabVm;
}

async function ipConfigLab(scope: Scope, lab: Lab): Promise<IpConfigLab> {
  const { dhcpRange, noGuestAgentImage } = lab.profile.secondary;
  const tag = scope.namespace.slice(-5);
  await Promise.all([
    scope.apply(ovnNad(scope.namespace, 'plain', { network: `kvnet-ipc-plain-${tag}`, topology: 'layer2' })),
    scope.apply(ovnNad(scope.namespace, 'served', {
      network: `kvnet-ipc-served-${tag}`, topology: 'layer2', ...(dhcpRange ? { annotations: { [DHCP_RANGE_ANNOTATION]: dhcpRange } } : {}),
    })),
  ]);
  const specs = [
    vm('s').nic('static', bridgeNet('plain'), { addresses: [`${STATIC}/24`] }).nic('dyn', bridgeNet('served'), { dhcp4: true }),
    vm('n').nic('dyn', bridgeNet('plain'), { dhcp4: true }),
    // The label switches the sim's guest agent off; a real cluster goes by the image.
    ...(noGuestAgentImage ? [vm('g').image(noGuestAgentImage).labels({ 'kvnet.io/guest-agent': 'false' }).nic('static', bridgeNet('plain'), { addresses: [`${STATIC_NO_AGENT}/24`] })] : []),
  ];
  const [s, n, g] = await scope.createAll(specs);
  return { scope, s, n, g };
}

const test = base.extend<{}, { ipc: IpConfigLab }>({ ipc: topology('ip-config', ipConfigLab) });

/** `oc describe vmi` style rendering of status.interfaces, as the seed shows it. */
function describe(ifaces: VmiIfaceStatus[]): string {
  return ['Interfaces:', ...ifaces.flatMap((i) => [
    `   Interface Name:  ${i.interfaceName ?? ''}`,
    ...(i.ipAddress ? [`   Ip Address:      ${i.ipAddress}`, '   Ip Addresses:', ...(i.ipAddresses ?? []).map((a) => `     ${a}`)] : []),
    `   Mac:             ${i.mac ?? ''}`,
    `   Name:            ${i.name ?? ''}`,
  ])].join('\n');
}

const ipv4s = (i: VmiIfaceStatus | undefined) => (i?.ipAddresses ?? []).map(bare).filter((a) => !a.includes(':'));

const IP_CAP = {
  epic: 'Secondary networks', feature: 'IP addresses',
  requires: [requires.api('k8s.cni.cncf.io', 'Multus NetworkAttachmentDefinitions')],
};

/** The NADs here are OVN-Kubernetes layer2: on another cluster network they attach nothing. */
async function skipUnlessOvn(lab: Lab): Promise<void> {
  const { networkType } = await lab.facts();
  test.skip(!!networkType && networkType !== 'OVNKubernetes', `the secondary networks here are OVN-Kubernetes layer2; the cluster network is ${networkType}`);
}

capability('8.12.1 Configuring IP addresses for virtual machines', { ...IP_CAP, section: '8.12.1.1' }, () => {
  test.beforeEach(({ lab }) => skipUnlessOvn(lab));

  test('a static address from cloud-init networkData is on the guest NIC', async ({ ipc: { s } }) => {
    expect(await s.os.addresses('eth1', 4)).toContain(`${STATIC}/24`);
  });

  test('dhcp4 gets an address where the network has a DHCP server', details({ requires: [requires.profile('secondary.dhcpRange', 'a DHCP-served secondary network')] }), async ({ lab, ipc: { s } }) => {
    const range = lab.profile.secondary.dhcpRange;
    const got = await s.os.addresses('eth2', 4);
    expect(got, 'eth2 has an IPv4 lease').toHaveLength(1);
    const [first, last] = range.split('/')[0].split('-');
    const num = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const ip = bare(got[0]);
    expect(num(ip) >= num(first) && num(ip) <= num(last), `${ip} in ${range}`).toBe(true);
  });

  test('dhcp4 leaves the NIC without IPv4 where the network has no DHCP server', async ({ lab, ipc: { scope, n } }) => {
    expect(await n.os.addresses('eth1', 4), 'no IPv4 on eth1 in the guest').toEqual([]);
    // Control: the status follows this NIC's addresses (an address put on it shows up), so an absence there is current.
    await n.os.runOk(['ip', 'addr', 'add', `${PROBE}/24`, 'dev', 'eth1'], { root: true });
    try {
      await waitForStatusIp(lab.kube, scope.namespace, n.name, 'dyn', PROBE, agentMs(lab));
    } finally {
      await n.os.runOk(['ip', 'addr', 'del', `${PROBE}/24`, 'dev', 'eth1'], { root: true });
    }
    const dyn = async () => (await n.interfaces()).find((i) => i.name === 'dyn');
    expect(await dyn(), 'status.interfaces lists the NIC').toBeTruthy();
    await expect.poll(async () => ipv4s(await dyn()), { message: 'and, once the probe address is gone, no IPv4 for it', timeout: agentMs(lab) }).toEqual([]);
  });

  test('the pod network interface stays the default route', async ({ ipc: { s } }) => {
    const routes = (await s.os.runOk(['ip', '-4', 'route', 'show', 'default'])).trim().split('\n').filter(Boolean);
    expect(routes.length, `default routes: ${routes.join(' | ')}`).toBeGreaterThan(0);
    for (const r of routes) expect(r, 'every IPv4 default route leaves through eth0').toContain('dev eth0');
  });
});

capability('8.12.2 Viewing IP addresses of virtual machines', { ...IP_CAP, section: '8.12.2.2' }, () => {
  test.beforeEach(({ lab }) => skipUnlessOvn(lab));

  test('the static secondary address is in the VMI status, reported by the guest agent', async ({ lab, ipc: { scope, s } }) => {
    const st = await waitForStatusIp(lab.kube, scope.namespace, s.name, 'static', STATIC, agentMs(lab));
    expect(st.interfaceName).toBe('eth1');
    expect(bare(st.ipAddress ?? '')).toBe(STATIC);
    expect(st.infoSource ?? '', 'the address comes from the guest agent').toContain('guest-agent');
  });

  test('status.interfaces has the shape `oc describe vmi` shows: interface name, IP address(es), MAC, name', async ({ lab, ipc: { scope, s } }) => {
    await waitForStatusIp(lab.kube, scope.namespace, s.name, 'static', STATIC, agentMs(lab));
    const ifaces = await s.interfaces();
    await test.info().attach('oc describe vmi s (Interfaces)', { body: describe(ifaces), contentType: 'text/plain' });
    expect(ifaces.map((i) => i.name)).toEqual(['default', 'static', 'dyn']);
    for (const i of ifaces) {
      expect(i.interfaceName, `${i.name}: Interface Name`).toMatch(/^eth\d$/);
      expect(i.mac, `${i.name}: Mac`).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i);
      if (i.ipAddress) expect(i.ipAddresses?.[0], `${i.name}: Ip Address is the first of Ip Addresses`).toBe(i.ipAddress);
    }
    expect(ifaces[0].ipAddress, 'the pod interface has an address').toBeTruthy();
  });

  test('without the guest agent the VMI status shows no secondary IP addresses', details({ requires: [requires.profile('secondary.noGuestAgentImage', 'a guest image without the QEMU guest agent')] }), async ({ lab, ipc: { scope, s, g } }) => {
    const noAgent = g as LabVm;
    expect(await noAgent.os.addresses('eth1', 4), 'the guest itself has the address').toContain(`${STATIC_NO_AGENT}/24`);
    // Control: `s`, booted with it, has had its agent report by now; `g` has nothing that could.
    await waitForStatusIp(lab.kube, scope.namespace, s.name, 'static', STATIC, agentMs(lab));
    const ifaces = await noAgent.interfaces();
    const sec = ifaces.find((i) => i.name === 'static');
    expect(sec, 'the secondary interface is listed').toBeTruthy();
    expect(sec?.infoSource ?? '', 'from the domain, not from a guest agent').not.toContain('guest-agent');
    expect(sec?.ipAddresses ?? [], 'with no addresses').toEqual([]);
    expect(ifaces.find((i) => i.name === 'default')?.ipAddress, 'the pod interface needs no guest agent').toBeTruthy();
  });
});
