// The Services and internal-FQDN suites turn red under each of their sim faults, at exactly the tests
// that check what broke, with a message that says so.
import { faultMatrix } from './matrix.ts';

const S = {
  clusterIp: 'a ClusterIP Service reaches the VM labelled special: key',
  nodePort: "a NodePort Service is reachable from outside the cluster on each node's address",
  lb: 'a LoadBalancer Service gets an external IP address',
  v4: 'ipFamilies [IPv4] allocates',
  v6: 'ipFamilies [IPv6] allocates',
  v46: 'ipFamilies [IPv4, IPv6] allocates',
  v64: 'ipFamilies [IPv6, IPv4] allocates',
  requireDual: 'RequireDualStack allocates an IPv4 and an IPv6 cluster IP',
  requireSingle: 'RequireDualStack fails on a cluster without dual-stack networking',
  latency: 'request latency through ClusterIP, NodePort and LoadBalancer',
  throughput: 'TCP throughput through the ClusterIP',
  stopped: 'a stopped VM drops out of the Service endpoints',
};
const F = {
  service: 'the headless service name itself resolves',
  named: 'spec.hostname and spec.subdomain give',
  unnamed: 'without spec.hostname, the record uses the VM name',
  none: 'a subdomain with no headless service of that name gives no record',
  ping: 'answers from the VM',
  dns: 'DNS resolution latency of the FQDN from a guest',
};

/** Every Services check that sends traffic through a Service (the RequireDualStack ones only talk to the API). */
const serviceTraffic = [S.clusterIp, S.nodePort, S.lb, S.v4, S.v6, S.v46, S.v64, S.latency, S.throughput, S.stopped];
const fqdnAll = Object.values(F);

faultMatrix({
  suites: ['suites/services.spec.ts', 'suites/headless-fqdn.spec.ts'],
  sim: { mtu: 9000 },
  cases: [
    {
      fault: 'kube-proxy-stale',
      // VMs of its own: stale rules for the backends an earlier run's Services left would still answer.
      fresh: true,
      title: '"kube-proxy-stale" fails every check through a Service created after it; cluster DNS keeps its rules',
      fail: serviceTraffic,
      messages: { [S.clusterIp]: /a reply from client through/ },
    },
    {
      fault: 'dns-down',
      title: '"dns-down" fails every name lookup, and "no record" becomes inconclusive',
      fail: fqdnAll,
      messages: { [F.named]: /getent ahostsv4 myvm\.mysubdomain\./, [F.none]: /inconclusive: control .* is down/ },
    },
    {
      fault: 'endpoints-stuck',
      fail: [...serviceTraffic, ...fqdnAll],
      messages: { [S.clusterIp]: /ready endpoints/, [F.named]: /to list both VMs/ },
    },
    {
      fault: 'metallb-stuck',
      title: '"metallb-stuck" fails the LoadBalancer checks: MetalLB is installed, so no address is a failure',
      fail: [S.lb, S.latency],
      messages: { [S.lb]: /MetalLB to give Service by-loadbalancer an address/, [S.latency]: /MetalLB to give Service one an address/ },
    },
    {
      fault: 'pod-network-loss', spec: { percent: 100 },
      title: '"pod-network-loss" 100% fails every check about traffic',
      fail: [...serviceTraffic, ...fqdnAll],
      messages: { [F.none]: /inconclusive: control .* is down/ },
    },
    {
      fault: 'overlay-drop',
      // From outside, the node announcing the address may hold a backend itself: then no packet crosses the overlay.
      grepInvert: 'LoadBalancer Service gets an external IP address',
      fail: [...serviceTraffic.filter((t) => t !== S.lb), ...fqdnAll],
    },
  ],
});
