// One running sim: control plane (registry, admission, controllers, API server) and, when asked,
// the data plane in the sandbox this process runs in. Both are loops over MODULES (src/sim/modules).
import type { EvictionWebhook } from './api/eviction.ts';
import { ApiServer, type KubevirtSubresources } from './api/server.ts';
import { SimCluster, type SimSettings } from './cluster.ts';
import { admission, MODULES, seedCluster } from './modules/index.ts';
import type { ControlContext } from './modules/module.ts';
import type { MigrationController } from './virt/migration-controller.ts';

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
  /** virt-api's subresources with the node side behind them (port-forward); undefined: the control plane's. */
  subresources?: KubevirtSubresources;
  stop(): Promise<void>;
}

export class Sim {
  private constructor(readonly cluster: SimCluster, readonly api: ApiServer, readonly migrations: MigrationController, private readonly dataPlane?: DataPlane) {}

  static async start(opts: SimOptions): Promise<Sim> {
    const cluster = new SimCluster(opts.settings);
    const { registry, settings } = cluster;
    for (const m of MODULES) registry.mutators.push(...(m.mutators?.(settings) ?? []));
    registry.validators.push(admission(MODULES));
    seedCluster(registry, settings, MODULES);
    // Control loops run with or without packets: the stage tests need no fabric.
    const control: ControlContext = { registry, settings };
    let subresources: KubevirtSubresources | undefined;
    const evictionWebhooks: EvictionWebhook[] = [];
    for (const m of MODULES) {
      const p = m.control?.(control) ?? {};
      for (const c of p.controllers ?? []) cluster.use(c);
      if (opts.workloadControllers ?? true) for (const c of p.workload ?? []) cluster.use(c);
      subresources = p.subresources ?? subresources;
      evictionWebhooks.push(...(p.evictionWebhooks ?? []));
      registry.mutators.push(...(p.mutators ?? []));
    }
    if (!control.migrations) throw new Error('no module made the migration controller (live-migration)');
    let dataPlane: DataPlane | undefined;
    if (opts.dataPlane) {
      // Loaded lazily: the fabric needs the sandbox, the control plane alone does not.
      const { startDataPlane } = await import('./data-plane.ts');
      dataPlane = await startDataPlane(cluster, opts.stateDir, control, MODULES);
    }
    cluster.start();
    const api = new ApiServer({ registry, token: opts.token, tls: opts.tls, subresources: dataPlane?.subresources ?? subresources, evictionWebhooks });
    await api.listen(opts.listen);
    return new Sim(cluster, api, control.migrations, dataPlane);
  }

  async stop(): Promise<void> {
    this.cluster.stop();
    await this.api.close();
    await this.dataPlane?.stop();
  }
}
