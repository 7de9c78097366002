// Services: ClusterIP allocation and admission, EndpointSlices, MetalLB, and on the nodes
// kube-proxy, the cluster DNS behind its Service, node gateways for traffic from outside; their faults.
import { validateService } from '../api/admission/service.ts';
import { DNS_SERVICE_IP, serviceAllocator } from '../api/service-allocator.ts';
import { seedMetalLB } from '../cluster.ts';
import { ClusterDns } from '../controllers/cluster-dns.ts';
import { EndpointsController } from '../controllers/endpoints.ts';
import { KubeProxy, gatewaySocketPath } from '../controllers/kube-proxy.ts';
import { MetalLB } from '../controllers/metallb.ts';
import type { FaultHandler, FaultName } from '../faults.ts';
import { startNodeGateways } from '../ingress/node-gateways.ts';
import type { SimModule } from './module.ts';

export const services: SimModule = {
  name: 'services',
  summary: 'Services, EndpointSlices, MetalLB, kube-proxy, cluster DNS, node gateways (seed 8.3, 8.4, 8.10, 8.13.1)',
  seed({ registry, settings }) {
    if (settings.externalNet) seedMetalLB(registry, settings.externalNet);
  },
  mutators: (settings) => [serviceAllocator(settings)],
  validators: { '/Service': validateService },
  control(ctx) {
    ctx.endpoints = new EndpointsController(ctx.registry);
    ctx.metallb = ctx.settings.externalNet ? new MetalLB(ctx.registry) : undefined;
    return { controllers: [ctx.endpoints, ...(ctx.metallb ? [ctx.metallb] : [])] };
  },
  async dataPlane({ registry, fabric, stateDir, endpoints, metallb }) {
    const socketFor = (node: string) => gatewaySocketPath(stateDir, node);
    const gateways = await startNodeGateways(stateDir, fabric.nodes.map((n) => n.name), socketFor);
    const proxy = new KubeProxy(registry, fabric, stateDir, socketFor);
    const dns = new ClusterDns(registry, fabric, stateDir, { serviceIP: DNS_SERVICE_IP, node: fabric.nodes[0].name });
    await dns.deploy();
    const faults: Partial<Record<FaultName, FaultHandler>> = {
      'kube-proxy-stale': {
        description: 'kube-proxy stops syncing: Service rules in the nodes stay as they were, whatever Services and endpoints do',
        set: async () => proxy.setStale(true),
        clear: async () => proxy.setStale(false),
      },
      'dns-down': {
        description: 'the cluster DNS server process is killed and not restarted; its pod is NotReady',
        set: () => dns.setDown(true),
        clear: () => dns.setDown(false),
      },
    };
    if (metallb) {
      faults['metallb-stuck'] = {
        description: 'the MetalLB controller stops assigning: new LoadBalancer Services stay without an address (<pending>)',
        set: async () => metallb.setStuck(true),
        clear: async () => metallb.setStuck(false),
      };
    }
    if (endpoints) {
      faults['endpoints-stuck'] = {
        description: 'the endpointslice controller hangs: EndpointSlices stop following Services, pods and VM readiness',
        set: async () => endpoints.setStuck(true),
        clear: async () => endpoints.setStuck(false),
      };
    }
    return {
      controllers: [proxy, dns],
      faults,
      async stop() {
        proxy.stop();
        gateways.close();
        await dns.close();
      },
    };
  },
};
