// The node side of the sim: the fabric, and the controllers that need it.
import type { SimCluster } from './cluster.ts';
import type { KubeScheduler } from './controllers/kube-scheduler.ts';
import { VirtApi } from './controllers/virt-api.ts';
import { VirtHandler } from './controllers/virt-handler.ts';
import { Fabric } from './fabric/topo.ts';
import { shapeNodeNics } from './fabric/shape.ts';
import { serveAdmin } from './admin.ts';
import { Faults, registerPodNetworkFaults } from './faults.ts';
import { Multus } from './cni/multus.ts';
import type { DataPlane } from './sim.ts';
import type { EndpointsController } from './controllers/endpoints.ts';
import type { MetalLB } from './controllers/metallb.ts';
import { startServiceNetwork } from './service-network.ts';
import { installSriov } from './controllers/sriov-install.ts';
import { startSecondaryNetworks } from './secondary-networks.ts';

/** The cluster DNS service address (the 10th of the service network, as OpenShift does it). */
export const CLUSTER_DNS_IP = '172.30.0.10';

export async function startDataPlane(cluster: SimCluster, stateDir: string, control: { endpoints?: EndpointsController; metallb?: MetalLB; scheduler?: KubeScheduler } = {}): Promise<DataPlane> {
  const s = cluster.settings;
  const fabric = await Fabric.create({ nodes: s.nodes, mtu: s.mtu, dualStack: s.dualStack });
  await shapeNodeNics(fabric, s.nicRateGbps);
  const api = cluster.registry;
  const faults = new Faults();
  registerPodNetworkFaults(faults, fabric);
  const multus = new Multus(api);
  const handler = new VirtHandler(api, fabric, stateDir, { dnsIP: CLUSTER_DNS_IP, clusterDomain: 'cluster.local' }, faults, multus);
  const services = await startServiceNetwork(cluster, fabric, stateDir, faults, control, CLUSTER_DNS_IP);
  const sriov = await installSriov(api, fabric, multus, faults);
  const admin = await serveAdmin(stateDir, faults);
  // The scheduler runs in the control plane; SR-IOV capacity is a filter only the fabric can answer.
  control.scheduler?.addFilter(sriov.schedulerFilter);
  cluster.use(handler);
  for (const c of sriov.controllers) cluster.use(c);
  for (const c of startSecondaryNetworks(api, fabric, multus, faults)) cluster.use(c);
  return {
    subresources: new VirtApi(api, handler, (netns, host, port) => fabric.dial(netns, host, port)),
    async stop() {
      admin.close();
      await services.stop();
      await handler.stopAll();
      await fabric.destroy();
    },
  };
}
