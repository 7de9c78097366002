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
import { NodeMigration } from './virt/node-migration.ts';
import { VirtOperator } from './controllers/virt-operator.ts';
import type { MigrationPlan, NodeSide } from './virt/node-side.ts';

/** The cluster DNS service address (the 10th of the service network, as OpenShift does it). */
export const CLUSTER_DNS_IP = '172.30.0.10';

/** The data plane, and its node side of live migration for the control plane's migration controller. */
export interface NodeDataPlane extends DataPlane {
  nodeSide: NodeSide;
}

export async function startDataPlane(cluster: SimCluster, stateDir: string, control: { endpoints?: EndpointsController; metallb?: MetalLB; scheduler?: KubeScheduler; faults?: (faults: Faults) => void } = {}): Promise<NodeDataPlane> {
  const s = cluster.settings;
  const fabric = await Fabric.create({ nodes: s.nodes, mtu: s.mtu, dualStack: s.dualStack });
  await shapeNodeNics(fabric, s.nicRateGbps);
  const api = cluster.registry;
  const faults = new Faults();
  registerPodNetworkFaults(faults, fabric);
  // Control-plane components' faults, reached through the same admin socket.
  control.faults?.(faults);
  const multus = new Multus(api);
  const handler = new VirtHandler(api, fabric, stateDir, { dnsIP: CLUSTER_DNS_IP, clusterDomain: 'cluster.local' }, faults, multus);
  const services = await startServiceNetwork(cluster, fabric, stateDir, faults, control, CLUSTER_DNS_IP);
  const sriov = await installSriov(api, fabric, multus, faults);
  // virt-handler's own pods (the DaemonSet): migration streams run between them.
  const operator = new VirtOperator(api, fabric, multus);
  const nodeSide = new NodeMigration(api, fabric, handler, faults, operator);
  const admin = await serveAdmin(stateDir, faults, { '/node-side/migrate': (body) => migrateForTest(nodeSide, body as MigrationPlan) });
  // The scheduler runs in the control plane; SR-IOV capacity is a filter only the fabric can answer.
  control.scheduler?.addFilter(sriov.schedulerFilter);
  cluster.use(handler).use(operator);
  for (const c of sriov.controllers) cluster.use(c);
  for (const c of startSecondaryNetworks(api, fabric, multus, faults)) cluster.use(c);
  return {
    nodeSide,
    subresources: new VirtApi(api, handler, (netns, host, port) => fabric.dial(netns, host, port)),
    async stop() {
      admin.close();
      await services.stop();
      await handler.stopAll();
      await fabric.destroy();
    },
  };
}

/**
 * The node side alone, for self-tests (admin socket only): prepare the target, copy, cut over, as
 * the migration controller's stages would; a failure undoes the target and is the answer.
 */
async function migrateForTest(nodeSide: NodeSide, plan: MigrationPlan): Promise<unknown> {
  const started = Date.now();
  const { targetNodeAddress } = await nodeSide.prepareTarget(plan);
  const progress: { t: number; processed: number }[] = [];
  try {
    await nodeSide.migrate(plan, targetNodeAddress, (p) => progress.push({ t: Date.now() - started, processed: p.dataProcessedBytes }), new AbortController().signal);
    return { ok: true, targetNodeAddress, ms: Date.now() - started, progress };
  } catch (e) {
    await nodeSide.abortTarget(plan);
    return { ok: false, reason: (e as Error).message, targetNodeAddress, ms: Date.now() - started, progress };
  }
}
