// §8.2 Connecting a virtual machine to the default pod network (masquerade binding).
import { test, expect } from '../src/fixtures/test.ts';
import type { LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability } from '../src/fixtures/annotate.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';
import { dfPing, egressSource, icmpLatency, startTcpResponder, tcpConnect } from '../src/probes/index.ts';

// Not serial: a failed check must not skip the rest. After a failure Playwright starts a new
// worker, and beforeAll boots the VMs again in a fresh namespace.

const IPERF_PORT = 5201;

let scope: Scope;
let client: LabVm; //   node A, no ports list: every port is let in
let near: LabVm; //     node A, ports [80, 5201]
let far: LabVm; //      node B, ports [80, 5201]
let nodes: string[];
let dualStack: boolean;
let clusterMtu: number | undefined;

test.beforeAll(async ({ lab }) => {
  const facts = await lab.facts();
  nodes = facts.schedulableNodes;
  dualStack = facts.dualStack;
  clusterMtu = facts.clusterNetworkMTU;
  scope = await lab.scope('masquerade');
  const [a, b] = [nodes[0], nodes[1] ?? nodes[0]];
  [client, near, far] = await Promise.all([
    scope.vm({ name: 'client', node: a, ipv6: dualStack }),
    scope.vm({ name: 'near', node: a, ports: [80, IPERF_PORT], ipv6: dualStack }),
    scope.vm({ name: 'far', node: b, ports: [80, IPERF_PORT], ipv6: dualStack }),
  ]);
  const responders = [[far, 80, 'listed-80'], [far, 8080, 'unlisted-8080'], [client, 8080, 'open-8080'], [client, 49152, 'libvirt-49152'], [client, 49153, 'libvirt-49153']] as const;
  await Promise.all(responders.map(async ([vm, port, text]) => scope.defer(await startTcpResponder(vm.guest, port, text))));
});

test.afterAll(async () => {
  await scope?.dispose();
});

const crossNode = () => test.skip(nodes.length < 2, `needs 2 schedulable nodes, the target has ${nodes.length}`);

test.describe('8.2.1 Configuring masquerade mode', () => {
  test('a VM connected to the pod network with masquerade gets the pod IP address in its status', async () => {
    await capability('Pod network', 'Masquerade', '8.2.1');
    expect(client.podIPv4, 'status.interfaces[0].ipAddress is the pod IP').toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await client.guest.execOk('ip -4 -o addr show eth0'), 'the guest itself holds 10.0.2.2 behind the NAT').toContain('10.0.2.2/24');
  });

  test('a port in the ports list is reachable on the pod IP from a VM on another node', async () => {
    await capability('Pod network', 'Masquerade', '8.2.1', { placement: 'cross-node' });
    crossNode();
    const r = await tcpConnect(client.guest, far.podIPv4 as string, 80, { timeoutMs: 3000 });
    expect(r.reachable, `TCP ${far.podIPv4}:80 (listed): ${r.error ?? ''}`).toBe(true);
  });

  test('when the ports list is given, a port not in it is not reachable', async () => {
    await capability('Pod network', 'Masquerade', '8.2.1');
    const r = await tcpConnect(near.guest, far.podIPv4 as string, 8080, { timeoutMs: 3000 });
    expect(r.reachable, `TCP ${far.podIPv4}:8080 is not in ports [80] and must be refused or dropped`).toBe(false);
  });

  test('when the ports list is absent, all ports in the valid range are open', async () => {
    await capability('Pod network', 'Masquerade', '8.2.1');
    const r = await tcpConnect(far.guest, client.podIPv4 as string, 8080, { timeoutMs: 3000 });
    expect(r.reachable, `TCP ${client.podIPv4}:8080 with no ports list: ${r.error ?? ''}`).toBe(true);
  });

  test('ports 49152 and 49153 are reserved for libvirt and incoming traffic to them is dropped', async () => {
    await capability('Pod network', 'Masquerade', '8.2.1');
    for (const port of [49152, 49153]) {
      const r = await tcpConnect(far.guest, client.podIPv4 as string, port, { timeoutMs: 3000 });
      expect(r.reachable, `TCP ${client.podIPv4}:${port} must be dropped`).toBe(false);
    }
  });

  test("outgoing traffic is hidden behind the pod IP address", async () => {
    await capability('Pod network', 'Masquerade', '8.2.1', { placement: 'cross-node' });
    crossNode();
    const r = await egressSource(far.guest, client.guest, client.podIPv4 as string, 9000).catch((e: Error) => {
      throw new Error(`the VM's outgoing connection to ${client.podIPv4}:9000 failed, so its egress is not masqueraded behind a routable pod IP: ${e.message}`);
    });
    expect(r.sourceAddress, `the peer sees the sender's pod IP ${far.podIPv4}, not the guest's 10.0.2.2`).toBe(far.podIPv4);
  });
});

test.describe('8.2.2 Configuring masquerade mode with dual-stack (IPv4 and IPv6)', () => {
  test.beforeEach(() => test.skip(!dualStack, 'the cluster network is single-stack: no IPv6 pod addresses'));

  test('the guest has the static IPv6 address and gateway from cloud-init networkData', async () => {
    await capability('Pod network', 'Masquerade dual-stack', '8.2.2', { family: 'IPv6' });
    expect(await client.guest.execOk('ip -6 -o addr show eth0')).toContain('fd10:0:2::2/120');
    expect(await client.guest.execOk('ip -6 route show default')).toContain('via fd10:0:2::1');
  });

  test('the VMI status lists both an IPv4 and an IPv6 pod address', async () => {
    await capability('Pod network', 'Masquerade dual-stack', '8.2.2');
    expect(client.podIPv4).toBeTruthy();
    expect(client.podIPv6, 'status.interfaces[0].ipAddresses has an IPv6 pod address').toBeTruthy();
  });

  test('IPv6 traffic is routed to the VM on another node', async () => {
    await capability('Pod network', 'Masquerade dual-stack', '8.2.2', { family: 'IPv6', placement: 'cross-node' });
    crossNode();
    const r = await icmpLatency(client.guest, far.podIPv6 as string, { count: 3, intervalS: 0.2, family: 6 });
    expect(r.stats.count, `ping6 ${far.podIPv6}: replies`).toBeGreaterThan(0);
    const tcp = await tcpConnect(client.guest, far.podIPv6 as string, 80, { timeoutMs: 3000 });
    expect(tcp.reachable, `TCP [${far.podIPv6}]:80: ${tcp.error ?? ''}`).toBe(true);
  });
});

test.describe('8.2.3 About jumbo frames support', () => {
  test('the VM gets the MTU of the cluster network', async () => {
    await capability('Pod network', 'Jumbo frames', '8.2.3');
    test.skip(clusterMtu === undefined, 'the cluster does not publish its network MTU (config.openshift.io Network status.clusterNetworkMTU)');
    expect(Number(await client.guest.execOk('cat /sys/class/net/eth0/mtu'))).toBe(clusterMtu);
  });

  test('unfragmented frames of the cluster MTU pass between VMs on different nodes, one byte more does not', async () => {
    await capability('Pod network', 'Jumbo frames', '8.2.3', { placement: 'cross-node' });
    crossNode();
    const mtu = Number(await client.guest.execOk('cat /sys/class/net/eth0/mtu'));
    test.info().annotations.push({ type: 'mtu', description: String(mtu) });
    expect(await dfPing(client.guest, far.podIPv4 as string, mtu - 28, 4), `DF ping of ${mtu - 28} bytes (MTU ${mtu})`).toBe(true);
    expect(await dfPing(client.guest, far.podIPv4 as string, mtu - 27, 4), `DF ping of ${mtu - 27} bytes must not pass`).toBe(false);
  });
});

test.describe('Measured on the pod network', () => {
  for (const placement of ['same-node', 'cross-node'] as const) {
    test(`ICMP latency guest to guest, ${placement}`, async ({ lab }) => {
      await capability('Pod network', 'Masquerade', '8.2.1', { placement, family: 'IPv4' });
      if (placement === 'cross-node') crossNode();
      // Towards `client`, whose empty ports list lets ICMP through to the guest (with a list, the pod answers).
      const peer = placement === 'same-node' ? near : far;
      await measureLatency(lab.profile, peer.guest, client.podIPv4 as string, { key: placement, label: placement }, lab.profile.thresholds.masquerade);
    });

    test(`TCP throughput guest to guest, ${placement}`, async ({ lab }) => {
      await capability('Pod network', 'Masquerade', '8.2.1', { placement, family: 'IPv4' });
      if (placement === 'cross-node') crossNode();
      const peer = placement === 'same-node' ? near : far;
      await measureThroughput(lab.profile, client.guest, peer.guest, peer.podIPv4 as string, IPERF_PORT, { key: placement, label: placement }, lab.profile.thresholds.masquerade);
    });
  }
});
