// One running sim: control plane (registry, admission, controllers, API server) and, when asked,
// the data plane in the sandbox this process runs in.
import { mutateMigration, validate as validateAdmission } from './api/admission/index.ts';
import { ApiServer, type KubevirtSubresources } from './api/server.ts';
import { serviceAllocator } from './api/service-allocator.ts';
import { SimCluster, type SimSettings } from './cluster.ts';
import { EndpointsController } from './controllers/endpoints.ts';
import { HyperConvergedController } from './controllers/hyperconverged.ts';
import { KubeScheduler } from './controllers/kube-scheduler.ts';
import { MetalLB } from './controllers/metallb.ts';
import { VirtApi } from './controllers/virt-api.ts';
import { VirtController } from './controllers/virt-controller.ts';
import { installKubeMacPool, registerKubeMacPoolFaults } from './kubemacpool/index.ts';
import { EvacuationController } from './virt/evacuation-controller.ts';
import { MigrationController } from './virt/migration-controller.ts';
import { podEvictionAdmitter } from './virt/pod-eviction-admitter.ts';
import type { NodeSide } from './virt/node-side.ts';

export interface SimOptions {
  settings: SimSettings;
  token: string;
  tls: { certPem: string; keyPem: string };
  /** TCP port on 127.0.0.1, or a unix socket path. */
  listen: number | string;
  /** A directory for per-run files (guest configs, sockets). */
  stateDir: string;
  /** Build the fabric and run the node-side controllers; needs to run inside the sandbox. */
  dataPlane: boolean;
  /**
   * Run KubeVirt's control loops and the scheduler (default true). The API fidelity self-tests turn
   * them off: they write VM status by hand and count watch events, which a controller would race.
   */
  workloadControllers?: boolean;
}

export interface DataPlane {
  subresources: KubevirtSubresources;
  /** The virt-handlers' side of live migration; without it migrations wait in Scheduled. */
  nodeSide?: NodeSide;
  stop(): Promise<void>;
}

export class Sim {
  private constructor(readonly cluster: SimCluster, readonly api: ApiServer, readonly migrations: MigrationController, private readonly dataPlane?: DataPlane) {}

  static async start(opts: SimOptions): Promise<Sim> {
    const cluster = new SimCluster(opts.settings);
    cluster.registry.mutators.push(serviceAllocator(opts.settings), mutateMigration);
    cluster.registry.validators.push(validateAdmission);
    cluster.seed();
    const kubemacpool = installKubeMacPool(cluster);
    // Service networking's control plane runs with or without packets.
    const endpoints = new EndpointsController(cluster.registry);
    cluster.use(endpoints);
    const metallb = opts.settings.externalNet ? new MetalLB(cluster.registry) : undefined;
    if (metallb) cluster.use(metallb);
    // KubeVirt's and the scheduler's control loops run with or without packets: the stage tests need no fabric.
    const scheduler = new KubeScheduler(cluster.registry);
    const migrations = new MigrationController(cluster.registry, opts.settings);
    if (opts.workloadControllers ?? true) cluster.use(scheduler).use(new VirtController(cluster.registry)).use(migrations).use(new EvacuationController(cluster.registry)).use(new HyperConvergedController(cluster.registry));
    let dataPlane: DataPlane | undefined;
    if (opts.dataPlane) {
      // Loaded lazily: the fabric needs the sandbox, the control plane alone does not.
      const { startDataPlane } = await import('./data-plane.ts');
      dataPlane = await startDataPlane(cluster, opts.stateDir, { endpoints, metallb, scheduler, faults: (f) => registerKubeMacPoolFaults(f, kubemacpool) });
      if (dataPlane.nodeSide) migrations.nodeSide = dataPlane.nodeSide;
    }
    cluster.start();
    const subresources = dataPlane?.subresources ?? new VirtApi(cluster.registry);
    const api = new ApiServer({ registry: cluster.registry, token: opts.token, tls: opts.tls, subresources, evictionWebhooks: [podEvictionAdmitter(cluster.registry)] });
    await api.listen(opts.listen);
    return new Sim(cluster, api, migrations, dataPlane);
  }

  async stop(): Promise<void> {
    this.cluster.stop();
    await this.api.close();
    await this.dataPlane?.stop();
  }
}
