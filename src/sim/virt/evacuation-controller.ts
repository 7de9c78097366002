// virt-controller's evacuation controller (kubevirt pkg/virt-controller/watch/drain/evacuation/evacuation.go):
// per node, the VMIs that must leave it get a migration. Those are the VMIs the eviction webhook
// marked with status.evacuationNodeName that have not moved yet or, on a node tainted
// `<nodeDrainTaintKey>:NoSchedule` (the deprecated method), every VMI on it. A VMI is skipped when it
// is shutting down, its eviction strategy does not ask to migrate, it is not LiveMigratable, a
// migration of it is unfinished, or it still has more than one active pod. Cordon alone does nothing.
// Once the VMI runs on another node the mark is cleared, as the target virt-handler does when it
// acknowledges the migration (pkg/virt-handler/migration-target.go ackMigrationCompletion).
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller, keyOf, splitKey } from '../controllers/controller.ts';
import { recordEvent } from '../controllers/events.ts';
import { CREATED_BY_LABEL, type VmiStatus } from '../controllers/kubevirt-types.ts';
import { KUBEVIRT_CR, type MigrationState } from './migration-controller.ts';
import { EVICTION_SOURCE_ANNOTATION, evictionStrategyOf, isMigratable } from './pod-eviction-admitter.ts';

const NODE = kindOf('v1', 'Node') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const VMIM = kindOf('kubevirt.io/v1', 'VirtualMachineInstanceMigration') as Kind;
const KUBEVIRT = kindOf('kubevirt.io/v1', 'KubeVirt') as Kind;
const COMPONENT = 'evacuation-controller';
/** virtv1.EvacuationMigrationAnnotation: which node an evacuation migration empties. */
export const EVACUATION_MIGRATION_ANNOTATION = 'kubevirt.io/evacuationMigration';
/** migrations.nodeDrainTaintKey's default. */
const DEFAULT_DRAIN_TAINT_KEY = 'kubevirt.io/drain';
const FINAL = ['Succeeded', 'Failed'];

type Status = VmiStatus & { evacuationNodeName?: string; migrationState?: MigrationState };
const statusOf = (vmi: KObject) => (vmi.status ?? {}) as Status;
const phaseOf = (o: KObject) => (o.status as { phase?: string } | undefined)?.phase ?? '';

export class EvacuationController extends Controller {
  constructor(api: Registry) {
    super(api, 'evacuation-controller');
  }

  protected keysFor(e: StoreEvent): string[] {
    const o = e.object;
    if (e.kind === NODE) return [`node:${o.metadata.name}`];
    if (e.kind === VMI) {
      const s = statusOf(o);
      return [...new Set([s.nodeName, s.evacuationNodeName].filter((n): n is string => !!n))].map((n) => `node:${n}`).concat(`vmi:${keyOf(o.metadata.namespace, o.metadata.name)}`);
    }
    if (e.kind === VMIM) {
      // A finished migration lets the next pass try again.
      const node = o.metadata.annotations?.[EVACUATION_MIGRATION_ANNOTATION]
        ?? (() => { const v = this.api.store.get(VMI, o.metadata.namespace, (o.spec as { vmiName?: string }).vmiName as string); return v && statusOf(v).nodeName; })();
      return node ? [`node:${node}`] : [];
    }
    // A source pod that went lets a VMI that waited on two active pods go.
    if (e.kind === POD && e.type === 'DELETED' && o.metadata.labels?.[CREATED_BY_LABEL]) return this.api.store.list(NODE).map((n) => `node:${n.metadata.name}`);
    return [];
  }

  protected override resync(): void {
    for (const n of this.api.store.list(NODE)) this.enqueue(`node:${n.metadata.name}`);
    for (const v of this.api.store.list(VMI)) this.enqueue(`vmi:${keyOf(v.metadata.namespace, v.metadata.name)}`);
  }

  protected async reconcile(key: string): Promise<void> {
    const rest = key.slice(key.indexOf(':') + 1);
    if (key.startsWith('vmi:')) return this.clearMoved(...splitKey(rest));
    const node = this.api.store.get(NODE, undefined, rest);
    if (node) this.sync(node);
  }

  /** ackMigrationCompletion's part: a VMI that left its evacuation node loses the mark. */
  private clearMoved(ns: string | undefined, name: string): void {
    const vmi = this.api.tryGet(VMI, ns, name);
    if (!vmi) return;
    const s = statusOf(vmi);
    if (!s.evacuationNodeName || s.nodeName === s.evacuationNodeName || !s.migrationState?.completed || s.migrationState.failed) return;
    this.api.patch(VMI, ns, name, 'json', [{ op: 'remove', path: '/status/evacuationNodeName' }], { subresource: 'status' });
    if (vmi.metadata.annotations?.[EVICTION_SOURCE_ANNOTATION]) {
      const cur = this.api.get(VMI, ns, name);
      const { [EVICTION_SOURCE_ANNOTATION]: _s, ...annotations } = cur.metadata.annotations ?? {};
      cur.metadata.annotations = annotations;
      this.api.update(VMI, ns, name, cur);
    }
  }

  private sync(node: KObject): void {
    const name = node.metadata.name as string;
    const onNode = this.api.store.list(VMI).filter((v) => statusOf(v).nodeName === name);
    const unfinished = new Set(this.api.store.list(VMIM).filter((m) => !FINAL.includes(phaseOf(m))).map((m) => keyOf(m.metadata.namespace, (m.spec as { vmiName?: string }).vmiName)));
    const toMigrate = this.tainted(node) ? onNode : onNode.filter((v) => statusOf(v).evacuationNodeName === name && !isMigrating(v));
    for (const vmi of toMigrate) {
      if (FINAL.includes(phaseOf(vmi)) || vmi.metadata.deletionTimestamp) continue;
      if (!this.migratesOnEviction(vmi) || !isMigratable(vmi)) continue;
      if (unfinished.has(keyOf(vmi.metadata.namespace, vmi.metadata.name))) continue;
      if (this.activePods(vmi) > 1) continue;
      this.createMigration(vmi, name);
    }
  }

  /** migrations.VMIMigratableOnEviction. */
  private migratesOnEviction(vmi: KObject): boolean {
    const s = evictionStrategyOf(this.api, vmi);
    return s === 'LiveMigrate' || (s === 'LiveMigrateIfPossible' && isMigratable(vmi));
  }

  private tainted(node: KObject): boolean {
    const kv = this.api.store.get(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name);
    const key = (kv?.spec as { configuration?: { migrations?: { nodeDrainTaintKey?: string } } } | undefined)?.configuration?.migrations?.nodeDrainTaintKey || DEFAULT_DRAIN_TAINT_KEY;
    return ((node.spec as { taints?: { key: string; effect: string }[] } | undefined)?.taints ?? []).some((t) => t.key === key && t.effect === 'NoSchedule');
  }

  /** controller.VMIActivePodsCount: the VMI's pods that have not terminated. */
  private activePods(vmi: KObject): number {
    return this.api.store.list(POD, vmi.metadata.namespace).filter((p) => p.metadata.ownerReferences?.some((r) => r.controller && r.uid === vmi.metadata.uid) && !FINAL.includes(phaseOf(p))).length;
  }

  /** GenerateNewMigration, and the event upstream records on the VMI. */
  private createMigration(vmi: KObject, node: string): void {
    const ns = vmi.metadata.namespace as string;
    const priority = vmi.metadata.annotations?.[EVICTION_SOURCE_ANNOTATION] === 'descheduler' ? 'system-maintenance' : 'system-critical';
    try {
      const m = this.api.create(VMIM, ns, {
        apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration',
        metadata: { generateName: 'kubevirt-evacuation-', namespace: ns, annotations: { [EVACUATION_MIGRATION_ANNOTATION]: node } },
        spec: { vmiName: vmi.metadata.name, priority },
      });
      recordEvent(this.api, vmi, 'Normal', 'SuccessfulCreate', `Created Migration ${m.metadata.name}`, COMPONENT);
    } catch (err) {
      recordEvent(this.api, vmi, 'Warning', 'FailedCreate', `Error creating a Migration: ${(err as Error).message}`, COMPONENT);
    }
  }
}

/** migrations.IsMigrating: a migration started and has not ended. */
function isMigrating(vmi: KObject): boolean {
  const m = statusOf(vmi).migrationState;
  if (!m?.startTimestamp || Date.parse(m.startTimestamp) > Date.now()) return false;
  return !m.endTimestamp || Date.parse(m.endTimestamp) > Date.now();
}
