// One running sim: control plane (registry, admission, controllers, API server) and, when asked,
// the data plane in the sandbox this process runs in.
import { validate as validateAdmission } from './api/admission/index.ts';
import { ApiServer, type KubevirtSubresources } from './api/server.ts';
import { serviceAllocator } from './api/service-allocator.ts';
import { SimCluster, type SimSettings } from './cluster.ts';
import { EndpointsController } from './controllers/endpoints.ts';
import { MetalLB } from './controllers/metallb.ts';

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
}

export interface DataPlane {
  subresources: KubevirtSubresources;
  stop(): Promise<void>;
}

export class Sim {
  private constructor(readonly cluster: SimCluster, readonly api: ApiServer, private readonly dataPlane?: DataPlane) {}

  static async start(opts: SimOptions): Promise<Sim> {
    const cluster = new SimCluster(opts.settings);
    cluster.registry.mutators.push(serviceAllocator(opts.settings));
    cluster.registry.validators.push(validateAdmission);
    cluster.seed();
    // Service networking's control plane runs with or without packets.
    const endpoints = new EndpointsController(cluster.registry);
    cluster.use(endpoints);
    const metallb = opts.settings.externalNet ? new MetalLB(cluster.registry) : undefined;
    if (metallb) cluster.use(metallb);
    let dataPlane: DataPlane | undefined;
    if (opts.dataPlane) {
      // Loaded lazily: the fabric needs the sandbox, the control plane alone does not.
      const { startDataPlane } = await import('./data-plane.ts');
      dataPlane = await startDataPlane(cluster, opts.stateDir, { endpoints, metallb });
    }
    cluster.start();
    const api = new ApiServer({ registry: cluster.registry, token: opts.token, tls: opts.tls, subresources: dataPlane?.subresources });
    await api.listen(opts.listen);
    return new Sim(cluster, api, dataPlane);
  }

  async stop(): Promise<void> {
    this.cluster.stop();
    await this.api.close();
    await this.dataPlane?.stop();
  }
}
