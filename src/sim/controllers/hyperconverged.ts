// The HyperConverged operator's part the sim needs: HCO owns the KubeVirt CR it deploys and
// reconciles spec.liveMigrationConfig into its spec.configuration.migrations, unchanged
// (hcLiveMigrationToKv in kubevirt/hyperconverged-cluster-operator controllers/handlers/kubevirt.go).
// An edit made to the KubeVirt CR directly is put back on the next reconcile, as HCO does.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import { KUBEVIRT_CR } from '../virt/migration-controller.ts';
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
  constructor(api: Registry) {
    super(api, 'hyperconverged-cluster-operator');
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
    const lm = ((hco.spec as { liveMigrationConfig?: Record<string, unknown> } | undefined)?.liveMigrationConfig ?? {});
    const migrations = Object.fromEntries(COPIED.filter((k) => lm[k] !== undefined && lm[k] !== null && lm[k] !== '').map((k) => [k, lm[k]]));
    const spec = (kv.spec ?? {}) as { configuration?: Record<string, unknown> };
    if (JSON.stringify(spec.configuration?.migrations ?? {}) === JSON.stringify(migrations)) return;
    kv.spec = { ...spec, configuration: { ...spec.configuration, migrations } };
    this.api.update(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name, kv);
  }
}
