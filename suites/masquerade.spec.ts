// §8.2 Connecting a virtual machine to the default pod network (masquerade binding).
import { test as base, expect, topology } from '../src/fixtures/test.ts';
import type { LabVm } from '../src/fixtures/lab.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { expectBlocked, expectReachable, icmpPath, tcpPath, type PathProbe } from '../src/fixtures/paths.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';
import { vm } from '../src/kube/vm-spec.ts';
import { carriesMtu, egressSource, startTcpResponder } from '../src/probes/index.ts';

const IPERF_PORT = 5201;

/**
 * client and near share a node; far is on another one when the target has two.
 * Only client has no ports list: every port, ICMP included, reaches its guest. With a list the
 * launcher pod answers ICMP itself, so whatever must reach a guest is sent to client.
 */
interface Masq {
  client: LabVm;
  near: LabVm;
  far: LabVm;
  clusterMtu?: number;
}

const crossNode = details({ requires: [requires.nodes(2)], params: { placement: 'cross-node' } });

const test = base.extend<{}, { masq: Masq }>({
  masq: topology('masquerade', async (scope, lab) => {
    const facts = await lab.facts();
    const ipv6 = facts.dualStack;
    const home = facts.schedulableNodes[0];
    const [client, near] = await scope.createAll([
      vm('client').placement({ node: home }).pod({ ipv6 }),
      vm('near').placement({ node: home }).pod({ ports: [80, IPERF_PORT], ipv6 }),
    ]);
    // Created once client and near are placed, so its anti-affinity sees their pods.
    const farSpec = vm('far').pod({ ports: [80, IPERF_PORT], ipv6 });
    if (facts.schedulableNodes.length > 1) farSpec.placement({ awayFrom: ['client', 'near'] });
    const far = await scope.create(farSpec);
    const responders = [[far, 80, 'listed-80'], [far, 8080, 'unlisted-8080'], [client, 8080, 'open-8080'], [client, 49152, 'libvirt-49152'], [client, 49153, 'libvirt-49153']] as const;
    await Promise.all(responders.map(async ([v, port, text]) => scope.defer(await startTcpResponder(v.guest, port, text))));
    return { client, near, far, clusterMtu: facts.clusterNetworkMTU };
  }, { timeoutMs: 30 * 60_000 }),
});

const to = (v: LabVm, family: 4 | 6 = 4) => ({ name: v.name, host: (family === 6 ? v.podIPv6 : v.podIPv4) as string });

/**
 * Answers when any of `tries` concurrent attempts does: on a lossy path a lost SYN is neither a
 * closed port nor a down control, and a dead path still fails in one timeout. Blocked paths are
 * tried once: loss cannot make them answer.
 */
function persistent(p: PathProbe, tries = 3): PathProbe {
  return {
    path: p.path,
    async run() {
      const all = await Promise.all(Array.from({ length: tries }, () => p.run()));
      return all.find((r) => r.ok) ?? { ok: false, detail: `${all[0].detail ?? 'no answer'} (${tries} tries)` };
    },
  };
}

/** DF echoes of `size` bytes every 0.2 s until one returns (at most 3 s), so loss does not read as a smaller path. */
async function dfBurst(from: LabVm, ip: string, size: number): Promise<boolean> {
  const r = await from.os.run(['ping', '-n', '-4', '-M', 'do', '-s', String(size), '-c', '1', '-i', '0.2', '-w', '3', ip], { timeoutMs: 30_000 });
  return r.code === 0 && /bytes from/.test(r.stdout);
}

const tcp = (from: LabVm, dest: LabVm, port: number, expectText?: string, family: 4 | 6 = 4) => persistent(tcpPath(from, to(dest, family), port, { expectText }));

capability('8.2.1 Configuring masquerade mode', { epic: 'Pod network', feature: 'Masquerade', section: '8.2.1' }, () => {
  test('a VM connected to the pod network with masquerade gets the pod IP address in its status', async ({ masq: { client } }) => {
    expect(client.podIPv4, 'status.interfaces[0].ipAddress is the pod IP').toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await client.os.addresses('eth0', 4), 'the guest itself holds 10.0.2.2 behind the NAT').toContain('10.0.2.2/24');
  });

  test('a port in the ports list is reachable on the pod IP from a VM on another node', crossNode, async ({ masq: { client, far } }) => {
    await expectReachable(tcp(client, far, 80, 'listed-80'));
  });

  test('when the ports list is given, a port not in it is not reachable', async ({ masq: { near, far } }) => {
    await expectBlocked(tcpPath(near, to(far), 8080), { control: tcp(near, far, 80, 'listed-80') });
  });

  test('when the ports list is absent, all ports in the valid range are open', async ({ masq: { client, far } }) => {
    await expectReachable(tcp(far, client, 8080, 'open-8080'));
  });

  test('ports 49152 and 49153 are reserved for libvirt and incoming traffic to them is dropped', async ({ masq: { client, far } }) => {
    // Both at once: a blocked port costs a whole connect timeout.
    await Promise.all([49152, 49153].map((port) => expectBlocked(tcpPath(far, to(client), port), { control: tcp(far, client, 8080, 'open-8080') })));
  });

  test('outgoing traffic is hidden behind the pod IP address', crossNode, async ({ masq: { client, far } }) => {
    // Three connections at once (to three listeners), so one lost on a lossy path is not read as broken NAT.
    const tries = await Promise.all([9000, 9001, 9002].map((port) => egressSource(far.guest, client.guest, client.podIPv4 as string, port, { timeoutMs: 3000 }).catch((e: Error) => e)));
    const r = tries.find((t): t is Awaited<ReturnType<typeof egressSource>> => !(t instanceof Error));
    if (!r) throw new Error(`the VM's outgoing connection to ${client.podIPv4}:9000 failed, so its egress is not masqueraded behind a routable pod IP: ${(tries[0] as Error).message}`);
    expect(r.sourceAddress, `the peer sees the sender's pod IP ${far.podIPv4}, not the guest's 10.0.2.2`).toBe(far.podIPv4);
  });
});

capability('8.2.2 Configuring masquerade mode with dual-stack (IPv4 and IPv6)', { epic: 'Pod network', feature: 'Masquerade dual-stack', section: '8.2.2', requires: [requires.dualStack()] }, () => {
  test('the guest has the static IPv6 address and gateway from cloud-init networkData', details({ params: { family: 'IPv6' } }), async ({ masq: { client } }) => {
    expect(await client.os.addresses('eth0', 6)).toContain('fd10:0:2::2/120');
    expect(await client.os.runOk(['ip', '-6', 'route', 'show', 'default'])).toContain('via fd10:0:2::1');
  });

  test('the VMI status lists both an IPv4 and an IPv6 pod address', async ({ masq: { client } }) => {
    expect(client.podIPv4, 'status.interfaces[0].ipAddresses has an IPv4 pod address').toBeTruthy();
    expect(client.podIPv6, 'status.interfaces[0].ipAddresses has an IPv6 pod address').toBeTruthy();
  });

  test('IPv6 traffic is routed to the VM on another node', details({ requires: [requires.nodes(2)], params: { family: 'IPv6', placement: 'cross-node' } }), async ({ masq: { client, far } }) => {
    await expectReachable(icmpPath(client, to(far, 6), { family: 6 }));
    await expectReachable(tcp(client, far, 80, 'listed-80', 6));
  });
});

capability('8.2.3 About jumbo frames support', { epic: 'Pod network', feature: 'Jumbo frames', section: '8.2.3' }, () => {
  test('the VM gets the MTU of the cluster network', async ({ masq: { client, clusterMtu } }) => {
    test.skip(clusterMtu === undefined, 'the cluster does not publish its network MTU (config.openshift.io Network status.clusterNetworkMTU)');
    expect((await client.os.link('eth0')).mtu).toBe(clusterMtu);
  });

  test('unfragmented frames of the cluster MTU pass between VMs on different nodes', crossNode, async ({ masq: { client, far } }) => {
    // far → client: client has no ports list, so the reply comes from client's guest, not its pod.
    const mtu = (await far.os.link('eth0')).mtu;
    const full = mtu - 28;
    const target = client.podIPv4 as string;
    test.info().annotations.push({ type: 'mtu', description: String(mtu) });
    if (await dfBurst(far, target, full)) return;
    const r = await carriesMtu(far.guest, target, mtu);
    throw new Error(`far → client ${target}: no DF ping of ${full} bytes (interface MTU ${mtu}) got a reply, so the path does not carry the full MTU: ${r.detail}`);
  });
});

capability('Measured on the pod network', { epic: 'Pod network', feature: 'Masquerade', section: '8.2.1' }, () => {
  for (const placement of ['same-node', 'cross-node'] as const) {
    const d = details({ requires: placement === 'cross-node' ? [requires.nodes(2)] : [], params: { placement, family: 'IPv4' } });
    test(`ICMP latency guest to guest, ${placement}`, d, async ({ lab, masq: { client, near, far } }) => {
      // Towards client, whose guest answers ICMP itself.
      const peer = placement === 'same-node' ? near : far;
      await measureLatency(lab.profile, peer.guest, client.podIPv4 as string, { key: placement, label: placement }, lab.profile.thresholds.masquerade);
    });

    test(`TCP throughput guest to guest, ${placement}`, d, async ({ lab, masq: { client, near, far } }) => {
      const peer = placement === 'same-node' ? near : far;
      await measureThroughput(lab.profile, client.guest, peer.guest, peer.podIPv4 as string, IPERF_PORT, { key: placement, label: placement }, lab.profile.thresholds.masquerade);
    });
  }
});
