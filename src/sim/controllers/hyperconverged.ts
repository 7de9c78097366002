// The HyperConverged operator's part the sim needs: HCO owns the KubeVirt CR it deploys and
// reconciles spec.liveMigrationConfig into its spec.configuration.migrations, unchanged
// (hcLiveMigrationToKv in kubevirt/hyperconverged-cluster-operator controllers/handlers/kubevirt.go).
// An edit made to the KubeVirt CR directly is put back on the next reconcile, as HCO does.
// HCO also mirrors the KubeVirt CR's Progressing/Degraded into its own conditions (reasons
// KubeVirtProgressing / KubeVirtDegraded, "KubeVirt is degraded: …"; controllers/operands/operand.go).
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import { KUBEVIRT_CR } from '../virt/migration-controller.ts';
import { type Condition, StatusWriter, now } from '../virt/status-writer.ts';
import type { KObject } from '../api/types.ts';
import { Controller } from './controller.ts';

const HCO = kindOf('hco.kubevirt.io/v1beta1', 'HyperConverged') as Kind;
const KUBEVIRT = kindOf('kubevirt.io/v1', 'KubeVirt') as Kind;
const HCO_NAME = 'kubevirt-hyperconverged';
/** The liveMigrationConfig fields hcLiveMigrationToKv copies. */
const COPIED = [
  'bandwidthPerMigration', 'completionTimeoutPerGiB', 'parallelMigrationsPerCluster', 'parallelOutboundMigrationsPerNode',
  'progressTimeout', 'network', 'allowAutoConverge', 'allowPostCopy',
] as const;

export class HyperConvergedController extends Controller {
  private readonly status: StatusWriter;

  constructor(api: Registry) {
    super(api, 'hyperconverged-cluster-operator');
    this.status = new StatusWriter(api);
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === HCO || (e.kind === KUBEVIRT && e.object.metadata.name === KUBEVIRT_CR.name) ? ['kubevirt'] : [];
  }

  protected override resync(): void {
    this.enqueue('kubevirt');
  }

  protected async reconcile(): Promise<void> {
    const hco = this.api.store.get(HCO, KUBEVIRT_CR.namespace, HCO_NAME);
    const kv = this.api.tryGet(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name);
    if (!hco || !kv) return;
    this.mirrorConditions(hco, kv);
    const lm = ((hco.spec as { liveMigrationConfig?: Record<string, unknown> } | undefined)?.liveMigrationConfig ?? {});
    const migrations = Object.fromEntries(COPIED.filter((k) => lm[k] !== undefined && lm[k] !== null && lm[k] !== '').map((k) => [k, lm[k]]));
    const spec = (kv.spec ?? {}) as { configuration?: Record<string, unknown> };
    if (JSON.stringify(spec.configuration?.migrations ?? {}) === JSON.stringify(migrations)) return;
    kv.spec = { ...spec, configuration: { ...spec.configuration, migrations } };
    this.api.update(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name, kv);
  }

  /** Only once virt-operator reports Progressing/Degraded (the sim's data plane runs it). */
  private mirrorConditions(hco: KObject, kv: KObject): void {
    const kvc = ((kv.status as { conditions?: Condition[] } | undefined)?.conditions ?? []);
    const progressing = kvc.find((c) => c.type === 'Progressing');
    const degraded = kvc.find((c) => c.type === 'Degraded');
    if (!progressing && !degraded) return;
    const t = now();
    const ok = { reason: 'ReconcileCompleted', message: 'Reconcile completed successfully', lastProbeTime: t, lastTransitionTime: t };
    const p = progressing?.status === 'True';
    const d = degraded?.status === 'True';
    this.status.write(HCO, hco, {
      conditions: [
        { type: 'ReconcileComplete', status: 'True', ...ok },
        { type: 'Available', status: 'True', ...ok },
        p ? { type: 'Progressing', status: 'True', reason: 'KubeVirtProgressing', message: `KubeVirt is progressing: ${progressing?.message ?? ''}`, lastProbeTime: t, lastTransitionTime: t }
          : { type: 'Progressing', status: 'False', ...ok },
        d ? { type: 'Degraded', status: 'True', reason: 'KubeVirtDegraded', message: `KubeVirt is degraded: ${degraded?.message ?? ''}`, lastProbeTime: t, lastTransitionTime: t }
          : { type: 'Degraded', status: 'False', ...ok },
        p ? { type: 'Upgradeable', status: 'False', reason: 'KubeVirtProgressing', message: `KubeVirt is progressing: ${progressing?.message ?? ''}`, lastProbeTime: t, lastTransitionTime: t }
          : { type: 'Upgradeable', status: 'True', ...ok },
      ],
    });
  }
}
