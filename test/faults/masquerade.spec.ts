// Every check can fail: the masquerade suite, run as a user runs it, turns red under each sim fault,
// at exactly the tests that check what broke, with a message that says so.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { javaAvailable } from '../../src/report/generate.ts';
import { SimAdmin } from '../../src/sim/admin-client.ts';
import { faultMatrix } from './matrix.ts';
import { find, runSuites } from './suite-runner.ts';

const T = {
  status: 'gets the pod IP address in its status',
  listed: 'a port in the ports list is reachable on the pod IP',
  unlisted: 'when the ports list is given, a port not in it is not reachable',
  open: 'when the ports list is absent, all ports in the valid range are open',
  libvirt: 'ports 49152 and 49153 are reserved',
  egress: 'outgoing traffic is hidden behind the pod IP address',
  v6addr: 'the guest has the static IPv6 address',
  v6status: 'the VMI status lists both an IPv4 and an IPv6 pod address',
  v6traffic: 'IPv6 traffic is routed to the VM on another node',
  jumbo: 'unfragmented frames of the cluster MTU pass',
  icmpSame: 'ICMP latency guest to guest, same-node',
  icmpCross: 'ICMP latency guest to guest, cross-node',
  tcpSame: 'TCP throughput guest to guest, same-node',
  tcpCross: 'TCP throughput guest to guest, cross-node',
};

/** Every check that sends traffic; the others read status or guest configuration. */
const traffic = [T.listed, T.unlisted, T.open, T.libvirt, T.egress, T.v6traffic, T.jumbo, T.icmpSame, T.icmpCross, T.tcpSame, T.tcpCross];
const crossNode = [T.listed, T.unlisted, T.open, T.libvirt, T.egress, T.v6traffic, T.jumbo, T.icmpCross, T.tcpCross];
/** Negative checks whose control dies with the path. */
const inconclusive = { [T.unlisted]: /inconclusive: control .* is down/, [T.libvirt]: /inconclusive: control .* is down/ };

const matrix = faultMatrix({
  suites: ['suites/masquerade.spec.ts'],
  sim: { mtu: 9000 },
  cases: [
    {
      fault: 'masquerade-nat-broken',
      fail: traffic,
      messages: { ...inconclusive, [T.egress]: /outgoing connection .* not masqueraded/ },
    },
    {
      fault: 'pod-network-loss', spec: { percent: 30 },
      // The measurements only: whether one TCP connect or a 1 s iperf3 survives 30% loss is chance.
      title: '"pod-network-loss" 30% fails the ICMP latency checks on their loss threshold',
      grep: 'ICMP latency',
      fail: [T.icmpSame, T.icmpCross],
      messages: { [T.icmpSame]: /\[threshold\] ICMP loss/, [T.icmpCross]: /\[threshold\] ICMP loss/ },
    },
    {
      fault: 'pod-network-loss', spec: { percent: 100 },
      title: '"pod-network-loss" 100% fails every check about traffic',
      fail: traffic,
      messages: inconclusive,
    },
    {
      fault: 'overlay-drop',
      fail: crossNode,
      messages: inconclusive,
    },
    {
      fault: 'overlay-mtu-low',
      fail: [T.jumbo, T.tcpCross],
      messages: { [T.jumbo]: /does not carry the full MTU/ },
    },
  ],
});

test('a failed run still writes its JUnit, matrix and HTML report, and removes what it created', async () => {
  const sim = matrix.sim();
  const admin = new SimAdmin(sim.stateDir);
  await admin.inject('masquerade-nat-broken');
  const reports = resolve('test-results', 'nested', 'failed-run-report', 'reports');
  try {
    // Its own run id and no kept scopes: what a user's failed run leaves must be gone at its end.
    const { code, outcomes } = await runSuites('failed-run-report', ['suites/masquerade.spec.ts'], sim.kubeconfig, 'sim', { KVNET_NO_REPORT: '' }, ['--grep', 'outgoing traffic']);
    expect(code).not.toBe(0);
    expect(find(outcomes, 'outgoing traffic is hidden behind the pod IP address').status).toBe('failed');
  } finally {
    await admin.clear('masquerade-nat-broken');
  }
  expect(readFileSync(resolve(reports, 'junit.xml'), 'utf8'), 'JUnit counts the failure').toMatch(/(failures|errors)="[1-9]/);
  const m = JSON.parse(readFileSync(resolve(reports, 'conformance-matrix.json'), 'utf8')) as { runStatus: string; totals: { failed: number } };
  expect(m.runStatus).toBe('failed');
  expect(m.totals.failed).toBeGreaterThan(0);
  if (javaAvailable()) expect(existsSync(resolve(reports, 'allure-report', 'index.html')), 'the HTML report').toBe(true);
  const kube = Kube.fromFile(sim.kubeconfig);
  expect((await kube.list<KObject>('v1', 'Namespace', undefined, 'kvnet.io/run-id=nested-failed-run-report')).map((n) => n.metadata?.name), 'namespaces of the failed run').toEqual([]);
});
