// Service networking on the data plane: kube-proxy on every node, cluster DNS behind its Service,
// node gateways for traffic from outside, and the faults that break each of them.
import type { SimCluster } from './cluster.ts';
import { ClusterDns } from './controllers/cluster-dns.ts';
import type { EndpointsController } from './controllers/endpoints.ts';
import type { MetalLB } from './controllers/metallb.ts';
import { KubeProxy, gatewaySocketPath } from './controllers/kube-proxy.ts';
import type { Fabric } from './fabric/topo.ts';
import type { Faults } from './faults.ts';
import { startNodeGateways } from './ingress/node-gateways.ts';

export interface ServiceNetwork {
  stop(): Promise<void>;
}

export async function startServiceNetwork(cluster: SimCluster, fabric: Fabric, stateDir: string, faults: Faults, control: { endpoints?: EndpointsController; metallb?: MetalLB }, dnsIP: string): Promise<ServiceNetwork> {
  const api = cluster.registry;
  const socketFor = (node: string) => gatewaySocketPath(stateDir, node);
  const gateways = await startNodeGateways(stateDir, fabric.nodes.map((n) => n.name), socketFor);
  const proxy = new KubeProxy(api, fabric, stateDir, socketFor);
  const dns = new ClusterDns(api, fabric, stateDir, { serviceIP: dnsIP, node: fabric.nodes[0].name });
  await dns.deploy();
  cluster.use(proxy).use(dns);

  faults.register('kube-proxy-stale', {
    description: 'kube-proxy stops syncing: Service rules in the nodes stay as they were, whatever Services and endpoints do',
    set: async () => proxy.setStale(true),
    clear: async () => proxy.setStale(false),
  });
  faults.register('dns-down', {
    description: 'the cluster DNS server process is killed and not restarted; its pod is NotReady',
    set: () => dns.setDown(true),
    clear: () => dns.setDown(false),
  });
  const { endpoints, metallb } = control;
  if (metallb) {
    faults.register('metallb-stuck', {
      description: 'the MetalLB controller stops assigning: new LoadBalancer Services stay without an address (<pending>)',
      set: async () => metallb.setStuck(true),
      clear: async () => metallb.setStuck(false),
    });
  }
  if (endpoints) {
    faults.register('endpoints-stuck', {
      description: 'the endpointslice controller hangs: EndpointSlices stop following Services, pods and VM readiness',
      set: async () => endpoints.setStuck(true),
      clear: async () => endpoints.setStuck(false),
    });
  }
  return {
    async stop() {
      proxy.stop();
      gateways.close();
      await dns.close();
    },
  };
}
