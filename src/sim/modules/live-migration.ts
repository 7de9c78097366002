// Live migration: VMIM admission and defaulting, the migration and evacuation controllers,
// virt-api's eviction webhook; on the nodes virt-operator's virt-handler pods (the dedicated
// migration network), the node side of a migration and its faults. It offers the migration NIC.
import { mutateMigration, validateMigration } from '../api/admission/virtual-machine-instance-migration.ts';
import { VirtOperator } from '../controllers/virt-operator.ts';
import { EvacuationController } from '../virt/evacuation-controller.ts';
import { MigrationController } from '../virt/migration-controller.ts';
import { NodeMigration } from '../virt/node-migration.ts';
import type { MigrationPlan, NodeSide } from '../virt/node-side.ts';
import { podEvictionAdmitter } from '../virt/pod-eviction-admitter.ts';
import { nicWithRole } from '../topology.ts';
import type { SimModule } from './module.ts';

export const liveMigration: SimModule = {
  name: 'live-migration',
  summary: 'VMIMs, evacuation on drain, virt-handler pods and the dedicated migration network, memory copy (seed 8.11)',
  mutators: () => [mutateMigration],
  validators: { 'kubevirt.io/VirtualMachineInstanceMigration': validateMigration },
  control(ctx) {
    ctx.migrations = new MigrationController(ctx.registry, ctx.settings);
    return { workload: [ctx.migrations, new EvacuationController(ctx.registry)], evictionWebhooks: [podEvictionAdmitter(ctx.registry)] };
  },
  dataPlane({ registry, fabric, multus, handler }) {
    if (!handler) throw new Error('live-migration needs virt-handler: list the kubevirt module before it');
    // virt-handler's own pods (the DaemonSet): migration streams run between them.
    const operator = new VirtOperator(registry, fabric, multus);
    const nodeSide = new NodeMigration(registry, fabric, handler, operator);
    return {
      controllers: [operator],
      nodeSide,
      faults: nodeSide.faultHandlers(),
      admin: { '/node-side/migrate': (body) => migrateForTest(nodeSide, body as MigrationPlan) },
    };
  },
  profile: (t) => ({ migration: { networkNic: nicWithRole('migration', t), networkRange: t.migrationRange } }),
};

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
