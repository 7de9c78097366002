// The node side of the sim: the fabric the topology describes, then each module's node-side parts
// in MODULES order (src/sim/modules), the faults they bring, and the admin socket.
import type { SimCluster } from './cluster.ts';
import { Fabric } from './fabric/topo.ts';
import { shapeNodeNics } from './fabric/shape.ts';
import { serveAdmin, type AdminRoutes } from './admin.ts';
import { Faults, type FaultHandler, type FaultName } from './faults.ts';
import { Multus } from './cni/multus.ts';
import type { DataPlane } from './sim.ts';
import { MODULES } from './modules/index.ts';
import type { ControlContext, DataPlaneContext, DataPlaneParts, SimModule } from './modules/module.ts';
import type { KubevirtSubresources } from './api/server.ts';

export async function startDataPlane(cluster: SimCluster, stateDir: string, control: ControlContext, modules: readonly SimModule[] = MODULES): Promise<DataPlane> {
  const s = cluster.settings;
  const fabric = await Fabric.create({ nodes: s.nodes, mtu: s.mtu, dualStack: s.dualStack });
  await shapeNodeNics(fabric, s.nicRateGbps);
  const faults = new Faults();
  const ctx: DataPlaneContext = { ...control, fabric, stateDir, multus: new Multus(cluster.registry), faults };
  const started: DataPlaneParts[] = [];
  const admin: AdminRoutes = {};
  let subresources: KubevirtSubresources | undefined;
  for (const m of modules) {
    const p = m.dataPlane ? await m.dataPlane(ctx) : {};
    started.push(p);
    for (const plugin of p.cni ?? []) ctx.multus.register(plugin);
    // The scheduler runs in the control plane; some of its filters only the fabric can answer.
    for (const f of p.schedulerFilters ?? []) control.scheduler?.addFilter(f);
    for (const [name, h] of Object.entries(p.faults ?? {}) as [FaultName, FaultHandler | undefined][]) if (h) faults.register(name, h);
    for (const c of p.controllers ?? []) cluster.use(c);
    Object.assign(admin, p.admin);
    if (p.subresources) subresources = p.subresources;
    if (p.nodeSide && control.migrations) control.migrations.nodeSide = p.nodeSide;
  }
  const adminServer = await serveAdmin(stateDir, faults, admin);
  return {
    subresources,
    async stop() {
      adminServer.close();
      for (const p of started.reverse()) await p.stop?.();
      await fabric.destroy();
    },
  };
}
