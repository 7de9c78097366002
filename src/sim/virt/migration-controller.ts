// virt-controller's migration controller (kubevirt pkg/virt-controller/watch/migration/migration.go):
// a VirtualMachineInstanceMigration's phases as a stage table, the target launcher pod, the hand-off
// that tells the node side where the VMI goes, the cluster and per-node parallel limits, and the
// garbage collection of finalized migrations. The node side (the source and target virt-handlers) is a
// NodeSide; the writes a virt-handler makes to VMI status.migrationState are made here when its calls
// settle, so the stages read them back exactly as upstream's controller reads virt-handler's.
import { randomBytes } from 'node:crypto';
import { type Kind, kindOf } from '../api/kinds.ts';
import { parseQuantity } from '../api/quantity.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller, keyOf, splitKey, type ReconcileResult } from '../controllers/controller.ts';
import { recordEvent } from '../controllers/events.ts';
import { CREATED_BY_LABEL, type VmiSpec, type VmiStatus } from '../controllers/kubevirt-types.ts';
import { multusNetworksAnnotation, NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION, networkResourceRequests, podMultusNetworks } from '../controllers/network-resources.ts';
import { type Stage, StageEngine, type Step } from '../stages/engine.ts';
import type { MigrationState } from '../../kube/migration-state.ts';
import type { MigrationPlan, MigrationProgress, NodeSide } from './node-side.ts';
import { type Condition, type PhaseTransition, StatusWriter, now } from './status-writer.ts';

const VMIM = kindOf('kubevirt.io/v1', 'VirtualMachineInstanceMigration') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const KUBEVIRT = kindOf('kubevirt.io/v1', 'KubeVirt') as Kind;
const COMPONENT = 'migration-controller';

/** virtv1.EvacuationMigrationAnnotation and WorkloadUpdateMigrationAnnotation: the migrations that back off after failures. */
const EVACUATION_ANNOTATION = 'kubevirt.io/evacuationMigration';
const WORKLOAD_UPDATE_ANNOTATION = 'kubevirt.io/workloadUpdateMigration';
/** The target pod's label naming its migration (virtv1.MigrationJobLabel). */
export const MIGRATION_JOB_LABEL = 'kubevirt.io/migrationJobUID';
/** The VMI label that wakes the target virt-handler (virtv1.MigrationTargetNodeNameLabel). */
export const MIGRATION_TARGET_NODE_LABEL = 'kubevirt.io/migrationTargetNodeName';
/** Per-migration override of the pending target pod timeout (virtv1.MigrationPendingPodTimeoutSecondsAnnotation). */
export const PENDING_POD_TIMEOUT_ANNOTATION = 'kubevirt.io/migrationPendingPodTimeoutSeconds';
/** defaultUnschedulablePendingTimeoutSeconds. */
const UNSCHEDULABLE_TIMEOUT_S = 300;
/** defaultFinalizedMigrationGarbageCollectionBuffer. */
const FINALIZED_KEPT = 5;
/** Phases IsRunning() counts (a non-decentralized migration). */
const ACTIVE = ['Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady', 'Running'] as const;
const FINAL = ['Succeeded', 'Failed'];
/** Where the VMI's installed KubeVirt CR lives (HCO names it). */
export const KUBEVIRT_CR = { namespace: 'openshift-cnv', name: 'kubevirt-kubevirt-hyperconverged' };

/** spec.configuration.migrations of the KubeVirt CR, the parts the sim acts on. */
export interface MigrationConfig {
  parallelMigrationsPerCluster: number;
  parallelOutboundMigrationsPerNode: number;
  /** A quantity in bytes/s; "0Mi" is unlimited. */
  bandwidthPerMigration: string;
  progressTimeout: number;
  completionTimeoutPerGiB: number;
  network?: string;
}

/** pkg/virt-config/virt-config.go defaults at the sim's KubeVirt release (v1.3: 800 s per GiB). */
export const MIGRATION_DEFAULTS: MigrationConfig = {
  parallelMigrationsPerCluster: 5, parallelOutboundMigrationsPerNode: 2, bandwidthPerMigration: '0Mi', progressTimeout: 150, completionTimeoutPerGiB: 800,
};

export type { MigrationState };

interface Ctx { vmi?: KObject; sourcePod?: KObject; targetPod?: KObject; c: MigrationController }
type Patch = Record<string, unknown>;

const phaseOf = (o: KObject | undefined) => ((o?.status as { phase?: string } | undefined)?.phase ?? '');
const vmiNameOf = (m: KObject) => (m.spec as { vmiName?: string }).vmiName as string;
const nodeOf = (p: KObject | undefined) => (p?.spec as { nodeName?: string } | undefined)?.nodeName;
/** The VMI's migration state when it is this migration's. */
function stateOf(m: KObject, vmi: KObject | undefined): MigrationState | undefined {
  const s = (vmi?.status as VmiStatus | undefined)?.migrationState as MigrationState | undefined;
  return s?.migrationUid === m.metadata.uid ? s : undefined;
}

/**
 * The VMIM phases, as processMigrationPhase walks them. Within a phase the first stage whose `when`
 * holds runs, so the failure stages come first.
 */
export const MIGRATION_STAGES: readonly Stage<KObject, Ctx, Patch>[] = [
  {
    name: 'vmi-missing', from: ['', 'Pending', ...ACTIVE], to: 'Failed',
    when: (_m, { vmi }) => (vmi ? 'the VMI exists' : true),
    run: async (m, { c }) => c.fail(m, 'Migration failed because vmi does not exist.'),
  },
  {
    name: 'vmi-shutdown', from: ['Pending', ...ACTIVE], to: 'Failed',
    when: (_m, { vmi }) => (vmi?.metadata.deletionTimestamp || FINAL.includes(phaseOf(vmi)) ? true : 'the VMI runs'),
    run: async (m, { c }) => c.fail(m, 'Migration failed vmi shutdown during migration.'),
  },
  {
    name: 'another-in-progress', from: '', to: 'Failed',
    when: (m, { c }) => (c.otherInFlight(m) ? true : 'no other migration of the VMI is in flight'),
    run: async (m, { c }) => c.fail(m, 'VMI is not eligible for migration because another migration job is in progress.'),
  },
  { name: 'accept', from: '', to: 'Pending', when: () => true },
  {
    name: 'create-target-pod', from: 'Pending', to: 'Scheduling',
    when: (m, { vmi, sourcePod, c }) => (phaseOf(vmi) !== 'Running' ? 'the VMI is not Running' : !sourcePod ? 'the VMI has no source pod'
      : c.rolledOut() !== true ? c.rolledOut() : c.backoff(m, vmi as KObject) !== true ? c.backoff(m, vmi as KObject) : c.capacity(m, vmi as KObject)),
    run: async (m, { vmi, sourcePod, c }) => { c.createTargetPod(m, vmi as KObject, sourcePod as KObject); },
  },
  {
    name: 'target-pod-gone', from: ['Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady', 'Running'], to: 'Failed',
    when: (_m, { targetPod }) => (targetPod && !targetPod.metadata.deletionTimestamp ? 'the target pod exists' : true),
    run: async (m, { c }) => c.fail(m, 'Migration target pod was removed during active migration.'),
  },
  {
    name: 'node-side-failed', from: ['PreparingTarget', 'TargetReady', 'Running'], to: 'Failed',
    when: (m, { vmi }) => (stateOf(m, vmi)?.failed ? true : 'the node side reports no failure'),
    run: async (m, { vmi, c }) => c.fail(m, `source node reported migration failed: ${stateOf(m, vmi)?.failureReason ?? 'unknown reason'}`),
  },
  {
    name: 'target-pod-bound', from: 'Scheduling', to: 'Scheduled',
    when: (_m, { targetPod }) => (nodeOf(targetPod) ? true : 'the target pod is not bound to a node'),
    timeoutMs: (m) => 1000 * (Number(m.metadata.annotations?.[PENDING_POD_TIMEOUT_ANNOTATION]) || UNSCHEDULABLE_TIMEOUT_S),
    onTimeout: { to: 'Failed', reason: 'unschedulable pod timeout period exceeded' },
  },
  {
    // Reported once per scheduler message, as an event on the migration.
    name: 'target-pod-unschedulable', from: 'Scheduling', to: 'Scheduling',
    when: (m, { targetPod, c }) => c.newUnschedulable(m, targetPod),
    run: async (m, { vmi, c }) => { c.event(m, 'Warning', 'MigrationTargetPodUnschedulable', `Migration target pod for VMI [${m.metadata.namespace}/${vmi?.metadata.name}] is currently unschedulable.`); },
  },
  {
    name: 'hand-off', from: 'Scheduled', to: 'PreparingTarget',
    when: (_m, { c }) => (c.nodeSide ? true : 'no node side: this sim runs its control plane without a data plane'),
    run: async (m, ctx) => { ctx.c.handOff(m, ctx.vmi as KObject, ctx.sourcePod as KObject, ctx.targetPod as KObject); },
  },
  {
    name: 'target-ready', from: 'PreparingTarget', to: 'TargetReady',
    when: (m, { vmi }) => (stateOf(m, vmi)?.targetNode && stateOf(m, vmi)?.targetNodeAddress ? true : 'the target virt-handler has not reported its address'),
  },
  {
    name: 'start', from: 'TargetReady', to: 'Running',
    when: (m, { vmi }) => (stateOf(m, vmi)?.startTimestamp ? true : 'the source virt-handler has not started the migration'),
  },
  {
    name: 'completed', from: 'Running', to: 'Succeeded',
    when: (m, { vmi }) => (stateOf(m, vmi)?.completed && !stateOf(m, vmi)?.failed ? true : 'the source node has not reported completion'),
    run: async (m, ctx) => { ctx.c.finish(m, ctx.vmi as KObject, ctx.sourcePod, ctx.targetPod as KObject); },
  },
];

interface Inflight { plan: MigrationPlan; abort: AbortController; prepared: boolean; progress?: MigrationProgress }

export class MigrationController extends Controller {
  private readonly status: StatusWriter;
  private readonly engine: StageEngine<KObject, Ctx, Patch>;
  private readonly inflight = new Map<string, Inflight>();
  /** Scheduler messages already reported per migration uid. */
  private readonly reported = new Map<string, string>();
  /** Why each waiting migration waits (its stages' reasons), by namespace/name. */
  private readonly waits = new Map<string, string[]>();
  /** Migrations deleted while in flight, by uid, until their cancel is reconciled. */
  private readonly deleted = new Map<string, KObject>();
  nodeSide?: NodeSide;

  constructor(api: Registry, private readonly settings: { migrationMemoryScale?: number } = {}, nodeSide?: NodeSide) {
    super(api, 'migration-controller');
    this.nodeSide = nodeSide;
    this.status = new StatusWriter(api);
    this.engine = new StageEngine(MIGRATION_STAGES, {
      phaseOf: (m) => phaseOf(m),
      enteredAt: (m) => {
        const t = ((m.status as { phaseTransitionTimestamps?: PhaseTransition[] } | undefined)?.phaseTransitionTimestamps ?? []).at(-1);
        return t ? Date.parse(t.phaseTransitionTimestamp) : undefined;
      },
      commit: (m, phase, patch, timeout) => {
        if (timeout) this.fail(m, timeout.reason);
        const vmi = this.api.tryGet(VMI, m.metadata.namespace, vmiNameOf(m));
        const state = stateOf(m, vmi);
        this.status.write(VMIM, m, { ...patch, phase, ...(state ? { migrationState: state } : {}) });
      },
    });
  }

  /** The data plane's virt-handlers; until one is set, migrations wait in Scheduled. */
  setNodeSide(n: NodeSide): void {
    this.nodeSide = n;
    this.resync();
  }

  /** Why a migration waits in its phase, as its stages last said; undefined when it is not waiting. */
  waiting(namespace: string, name: string): string[] | undefined {
    return this.waits.get(keyOf(namespace, name));
  }

  /** The last progress the source reported for a migration, by VMIM uid. */
  progress(migrationUid: string): MigrationProgress | undefined {
    return this.inflight.get(migrationUid)?.progress;
  }

  override stop(): void {
    super.stop();
    for (const f of this.inflight.values()) f.abort.abort(new Error('the sim is stopping'));
  }

  protected keysFor(e: StoreEvent): string[] {
    const { namespace, name, labels } = e.object.metadata;
    if (e.kind === VMIM) {
      if (e.type === 'DELETED') {
        if (!this.inflight.has(e.object.metadata.uid as string)) return this.pendingKeys();
        this.deleted.set(e.object.metadata.uid as string, e.object);
        return [`cancel:${e.object.metadata.uid}`, ...this.pendingKeys()];
      }
      // A finished migration frees a slot for the pending ones.
      return [`vmim:${keyOf(namespace, name)}`, ...(FINAL.includes(phaseOf(e.object)) ? this.pendingKeys() : [])];
    }
    if (e.kind === VMI) return [`vmi:${keyOf(namespace, name)}`, ...this.migrationsOf(namespace as string, name as string).map((m) => `vmim:${keyOf(namespace, m.metadata.name)}`)];
    if (e.kind === POD && labels?.[MIGRATION_JOB_LABEL]) {
      const m = this.api.store.list(VMIM, namespace).find((x) => x.metadata.uid === labels[MIGRATION_JOB_LABEL]);
      return m ? [`vmim:${keyOf(namespace, m.metadata.name)}`] : [];
    }
    if (e.kind === KUBEVIRT) return this.pendingKeys();
    return [];
  }

  protected override resync(): void {
    for (const m of this.api.store.list(VMIM)) this.enqueue(`vmim:${keyOf(m.metadata.namespace, m.metadata.name)}`);
    for (const v of this.api.store.list(VMI)) this.enqueue(`vmi:${keyOf(v.metadata.namespace, v.metadata.name)}`);
  }

  private pendingKeys(): string[] {
    return this.api.store.list(VMIM).filter((m) => ['', 'Pending'].includes(phaseOf(m))).map((m) => `vmim:${keyOf(m.metadata.namespace, m.metadata.name)}`);
  }

  private migrationsOf(ns: string, vmi: string): KObject[] {
    return this.api.store.list(VMIM, ns).filter((m) => vmiNameOf(m) === vmi);
  }

  protected async reconcile(key: string): Promise<ReconcileResult | void> {
    const type = key.slice(0, key.indexOf(':'));
    const [ns, name] = splitKey(key.slice(key.indexOf(':') + 1));
    if (type === 'vmi') return this.syncMigratable(ns as string, name);
    if (type === 'cancel') return this.cancel(key.slice(key.indexOf(':') + 1));
    const m = this.api.tryGet(VMIM, ns, name);
    if (!m) return;
    if (FINAL.includes(phaseOf(m))) { this.collect(ns as string, vmiNameOf(m)); return; }
    const vmi = this.api.tryGet(VMI, ns, vmiNameOf(m));
    const pods = vmi ? this.api.store.list(POD, ns).filter((p) => p.metadata.labels?.[CREATED_BY_LABEL] === vmi.metadata.uid) : [];
    const targetPod = pods.find((p) => p.metadata.labels?.[MIGRATION_JOB_LABEL] === m.metadata.uid);
    const activeNode = (vmi?.status as VmiStatus | undefined)?.nodeName;
    const sourcePod = pods.find((p) => p !== targetPod && nodeOf(p) === activeNode && !p.metadata.deletionTimestamp);
    const step: Step<Patch> = await this.engine.step(m, { vmi, sourcePod, targetPod, c: this });
    if (step.type === 'waiting') this.waits.set(keyOf(ns, name), step.reasons);
    else this.waits.delete(keyOf(ns, name));
    // A stage that keeps the phase writes nothing new, so no event comes back: look again at once.
    if (step.type === 'moved') this.enqueue(key);
    if (step.type === 'waiting' && step.retryAfterMs !== undefined) return { requeueAfterMs: Math.max(step.retryAfterMs, 10) };
  }

  // ---- what the stages call ------------------------------------------------------------

  /** The KubeVirt CR's migration settings over the defaults (HCO's liveMigrationConfig lands there). */
  config(): MigrationConfig {
    const kv = this.api.store.get(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name);
    const set = ((kv?.spec as { configuration?: { migrations?: Partial<MigrationConfig> } } | undefined)?.configuration?.migrations ?? {});
    return { ...MIGRATION_DEFAULTS, ...Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined && v !== null)) };
  }

  /**
   * Migrations wait while virt-operator rolls out virt-handler (the KubeVirt CR Progressing). This is
   * issue 12's model of the stalled rollout, not an upstream check: upstream only the workload-updater
   * stops (execute() in workload-updater.go) and a target on a node without a handler never gets ready.
   */
  rolledOut(): true | string {
    const kv = this.api.store.get(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name);
    const p = ((kv?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((x) => x.type === 'Progressing');
    return p?.status === 'True' ? `virt-handler rollout in progress (KubeVirt ${KUBEVIRT_CR.name} Progressing: ${p.reason ?? ''})` : true;
  }

  /**
   * canMigrateVMI (migration.go): another migration holds the VMI when its migrationState names an
   * unfinished one; migrations still Pending (queued, backing off) hold nothing.
   */
  otherInFlight(m: KObject): boolean {
    const vmi = this.api.tryGet(VMI, m.metadata.namespace, vmiNameOf(m));
    const uid = ((vmi?.status as VmiStatus | undefined)?.migrationState as MigrationState | undefined)?.migrationUid;
    if (!uid || uid === m.metadata.uid) return false;
    const holder = this.migrationsOf(m.metadata.namespace as string, vmiNameOf(m)).find((o) => o.metadata.uid === uid);
    return !!holder && !FINAL.includes(phaseOf(holder));
  }

  /**
   * handleMigrationBackoff (migration.go): an evacuation (or workload-update) migration after failed ones
   * of the same VMI waits 20 s after the last failure, doubling per failure since the last success.
   */
  backoff(m: KObject, vmi: KObject): true | string {
    const eligible = (o: KObject) => EVACUATION_ANNOTATION in (o.metadata.annotations ?? {}) || WORKLOAD_UPDATE_ANNOTATION in (o.metadata.annotations ?? {});
    if (!eligible(m)) return true;
    const created = (o: KObject) => Date.parse(o.metadata.creationTimestamp ?? '') || 0;
    // listBackoffEligibleMigrations: only the VMI's evacuation and workload-update migrations count.
    const mine = this.migrationsOf(m.metadata.namespace as string, vmi.metadata.name as string).filter(eligible).sort((a, b) => created(b) - created(a) || String(b.metadata.name).localeCompare(String(a.metadata.name)));
    if (mine.length < 2 || mine[0].metadata.uid !== m.metadata.uid) return true;
    let backoffMs = 0;
    for (const o of mine.slice(1)) {
      if (phaseOf(o) === 'Succeeded') break;
      if (o.metadata.deletionTimestamp) continue;
      if (phaseOf(o) === 'Failed') backoffMs = backoffMs === 0 ? 20_000 : backoffMs * 2;
    }
    if (backoffMs === 0) return true;
    const failedAt = Date.parse(((mine[1].status as { phaseTransitionTimestamps?: { phase: string; phaseTransitionTimestamp: string }[] } | undefined)?.phaseTransitionTimestamps ?? []).find((t) => t.phase === 'Failed')?.phaseTransitionTimestamp ?? '') || 0;
    const left = failedAt + backoffMs - Date.now();
    if (left <= 0) return true;
    const key = `vmim:${keyOf(m.metadata.namespace, m.metadata.name)}`;
    if (!this.backingOff.has(key)) {
      this.backingOff.add(key);
      this.event(vmi, 'Warning', 'MigrationBackoff', `vmi in migration backoff, re-enqueueing after ${Math.ceil(left / 1000)}s`);
      setTimeout(() => { this.backingOff.delete(key); this.enqueue(key); }, left + 10).unref();
    }
    return `MigrationBackoff: the last migration of vmi ${vmi.metadata.namespace}/${vmi.metadata.name} failed; retrying in ${Math.ceil(left / 1000)} s`;
  }

  private readonly backingOff = new Set<string>();

  /** true when the limits leave room (handleTargetPodCreation), else the log line upstream writes while it waits. */
  capacity(m: KObject, vmi: KObject): true | string {
    const cfg = this.config();
    const running = this.api.store.list(VMIM).filter((o) => o.metadata.uid !== m.metadata.uid && !FINAL.includes(phaseOf(o))
      && ((ACTIVE as readonly string[]).includes(phaseOf(o)) || this.api.store.list(POD, o.metadata.namespace).some((p) => p.metadata.labels?.[MIGRATION_JOB_LABEL] === o.metadata.uid)));
    const who = `${vmi.metadata.namespace}/${vmi.metadata.name}`;
    if (running.length >= cfg.parallelMigrationsPerCluster) {
      return `Waiting to schedule target pod for vmi [${who}] migration because total running parallel migration count [${running.length}] is currently at the global cluster limit.`;
    }
    const node = (vmi.status as VmiStatus).nodeName;
    const outbound = running.filter((o) => (this.api.store.get(VMI, o.metadata.namespace, vmiNameOf(o))?.status as VmiStatus | undefined)?.nodeName === node).length;
    if (outbound >= cfg.parallelOutboundMigrationsPerNode) {
      return `Waiting to schedule target pod for vmi [${who}] migration because total running parallel outbound migrations on target node [${outbound}] has hit outbound migrations per node limit.`;
    }
    return true;
  }

  /**
   * The target launcher pod: the source pod's manifest under a new name, labelled with the migration,
   * and kept off the source node by a required anti-affinity to the VMI's own pods (createTargetPod);
   * the VM's own affinity stays, and spec.addedNodeSelector narrows the nodes.
   */
  createTargetPod(m: KObject, vmi: KObject, source: KObject): void {
    const spec = structuredClone(source.spec) as Record<string, unknown> & { nodeName?: string; nodeSelector?: Record<string, string>; affinity?: { podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: unknown[] } } };
    delete spec.nodeName;
    const added = (m.spec as { addedNodeSelector?: Record<string, string> }).addedNodeSelector;
    // Upstream renders the target pod from the VMI (RenderMigrationManifest): a pin an earlier migration added to the source pod does not carry over.
    spec.nodeSelector = { 'kubevirt.io/schedulable': 'true', ...(vmi.spec as { nodeSelector?: Record<string, string> }).nodeSelector, ...added };
    const term = { labelSelector: { matchLabels: { [CREATED_BY_LABEL]: vmi.metadata.uid as string } }, topologyKey: 'kubernetes.io/hostname' };
    spec.affinity = { ...spec.affinity, podAntiAffinity: { ...spec.affinity?.podAntiAffinity, requiredDuringSchedulingIgnoredDuringExecution: [...(spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []), term] } };
    const name = `virt-launcher-${vmi.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    // The networks come from the VMI spec as it is now (§8.9: NICs hot-plugged since the boot join,
    // unplugged ones leave), and so do their device resources; Multus writes network-status anew.
    const ns = vmi.metadata.namespace as string;
    const vmiSpec = vmi.spec as VmiSpec;
    const { [NETWORKS_ANNOTATION]: _n, [NETWORK_STATUS_ANNOTATION]: _s, ...annotations } = source.metadata.annotations ?? {};
    const networks = multusNetworksAnnotation(ns, vmiSpec);
    const devices = networkResourceRequests(this.api, ns, podMultusNetworks(vmiSpec));
    const containers = (spec.containers as { name: string; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[] | undefined) ?? [];
    // The source's network device resources (openshift.io/…, bridge.network.kubevirt.io/…) give way to the VMI's.
    const keep = (r: Record<string, string> | undefined) => Object.fromEntries(Object.entries(r ?? {}).filter(([k]) => !k.includes('/') || k.startsWith('devices.kubevirt.io/')));
    for (const c of containers.filter((x) => x.name === 'compute')) {
      c.resources = { ...c.resources, requests: { ...keep(c.resources?.requests), ...devices }, limits: { ...keep(c.resources?.limits), ...devices } };
    }
    const pod = this.api.create(POD, vmi.metadata.namespace, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, namespace: vmi.metadata.namespace,
        labels: { ...source.metadata.labels, [MIGRATION_JOB_LABEL]: m.metadata.uid as string },
        annotations: { ...annotations, ...(networks ? { [NETWORKS_ANNOTATION]: networks } : {}), 'kubevirt.io/migrationJobName': m.metadata.name as string },
        ownerReferences: source.metadata.ownerReferences,
      },
      spec,
    });
    this.event(vmi, 'Normal', 'SuccessfulCreate', `Created migration target pod ${vmi.metadata.namespace}/${pod.metadata.name} with uuid ${pod.metadata.uid} for migration ${m.metadata.name} with uuid ${m.metadata.uid}`);
  }

  /** true when the scheduler's refusal of the target pod is news. */
  newUnschedulable(m: KObject, targetPod: KObject | undefined): true | string {
    const c = ((targetPod?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((x) => x.type === 'PodScheduled');
    if (c?.status !== 'False') return 'the scheduler has not refused the target pod';
    if (this.reported.get(m.metadata.uid as string) === c.message) return 'already reported';
    this.reported.set(m.metadata.uid as string, c.message ?? '');
    return true;
  }

  /**
   * handleTargetPodHandoff: the VMI's migrationState names both sides, the target node label wakes the
   * target virt-handler; here the node side's calls stand in for the virt-handlers' own loops.
   */
  handOff(m: KObject, vmi: KObject, source: KObject, target: KObject): void {
    const plan = this.plan(m, vmi, source, target);
    const state: MigrationState = {
      migrationUid: plan.migrationUid, sourceNode: plan.sourceNode, sourcePod: plan.sourcePod, targetNode: plan.targetNode, targetPod: plan.targetPod,
    };
    const cur = this.api.get(VMI, vmi.metadata.namespace, vmi.metadata.name as string);
    cur.metadata.labels = { ...cur.metadata.labels, [MIGRATION_TARGET_NODE_LABEL]: plan.targetNode };
    this.api.update(VMI, cur.metadata.namespace, cur.metadata.name as string, cur);
    this.status.write(VMI, cur, { migrationState: state });
    const flight: Inflight = { plan, abort: new AbortController(), prepared: false };
    this.inflight.set(plan.migrationUid, flight);
    const side = this.nodeSide as NodeSide;
    side.prepareTarget(plan).then(({ targetNodeAddress }) => {
      if (flight.abort.signal.aborted) return;
      flight.prepared = true;
      this.event(vmi, 'Normal', 'PreparingTarget', `Migration Target is listening at ${targetNodeAddress}`);
      this.writeState(plan, { targetNodeAddress });
      // The source virt-handler starts once the target listens (migration-source.go).
      this.writeState(plan, { startTimestamp: now(), mode: 'PreCopy' });
      side.migrate(plan, targetNodeAddress, (p) => { flight.progress = p; }, flight.abort.signal).then(
        () => this.writeState(plan, { completed: true, endTimestamp: now() }),
        (err: Error) => this.writeState(plan, { completed: true, failed: true, failureReason: err.message, endTimestamp: now() }),
      );
    }, (err: Error) => this.writeState(plan, { completed: true, failed: true, failureReason: `target preparation failed: ${err.message}`, endTimestamp: now() }));
  }

  /** Succeeded: the VMI runs behind the target pod on the target node; the source pod goes. */
  finish(m: KObject, vmi: KObject, source: KObject | undefined, target: KObject): void {
    const node = nodeOf(target) as string;
    const cur = this.api.get(VMI, vmi.metadata.namespace, vmi.metadata.name as string);
    const { [MIGRATION_TARGET_NODE_LABEL]: _t, ...labels } = cur.metadata.labels ?? {};
    cur.metadata.labels = { ...labels, 'kubevirt.io/nodeName': node };
    this.api.update(VMI, cur.metadata.namespace, cur.metadata.name as string, cur);
    this.status.write(VMI, cur, { nodeName: node, activePods: { [target.metadata.uid as string]: node } });
    if (source && !source.metadata.deletionTimestamp) this.api.delete(POD, source.metadata.namespace, source.metadata.name as string);
    this.inflight.delete(m.metadata.uid as string);
    this.event(m, 'Normal', 'SucceededMigration', 'Source node reported migration succeeded');
  }

  /** A failed migration: the event, the node side told to stop, and the target pod removed. */
  fail(m: KObject, reason: string): void {
    this.event(m, 'Warning', 'FailedMigration', reason);
    const flight = this.inflight.get(m.metadata.uid as string);
    this.inflight.delete(m.metadata.uid as string);
    if (flight) {
      flight.abort.abort(new Error(reason));
      if (!this.isFinished(flight.plan)) this.writeState(flight.plan, { completed: true, failed: true, failureReason: reason, endTimestamp: now() });
      this.nodeSide?.abortTarget(flight.plan).catch((e: Error) => console.error(`migration-controller: abortTarget ${flight.plan.targetPod}: ${e.message}`));
    }
    const vmi = this.api.tryGet(VMI, m.metadata.namespace, vmiNameOf(m));
    const target = this.api.store.list(POD, m.metadata.namespace).find((p) => p.metadata.labels?.[MIGRATION_JOB_LABEL] === m.metadata.uid);
    if (target && !target.metadata.deletionTimestamp) this.api.delete(POD, target.metadata.namespace, target.metadata.name as string);
    if (vmi?.metadata.labels?.[MIGRATION_TARGET_NODE_LABEL]) {
      const { [MIGRATION_TARGET_NODE_LABEL]: _t, ...labels } = vmi.metadata.labels;
      vmi.metadata.labels = labels;
      this.api.update(VMI, vmi.metadata.namespace, vmi.metadata.name as string, vmi);
    }
  }

  event(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    recordEvent(this.api, obj, type, reason, message, COMPONENT);
  }

  // ---- internals ------------------------------------------------------------------------

  private plan(m: KObject, vmi: KObject, source: KObject, target: KObject): MigrationPlan {
    const cfg = this.config();
    const domain = (vmi.spec as VmiSpec).domain as { memory?: { guest?: string }; resources?: { requests?: { memory?: string } } };
    const memory = parseQuantity(domain.memory?.guest ?? domain.resources?.requests?.memory) ?? 0;
    return {
      migrationUid: m.metadata.uid as string, namespace: vmi.metadata.namespace as string, vmiName: vmi.metadata.name as string, vmiUid: vmi.metadata.uid as string,
      sourcePod: source.metadata.name as string, targetPod: target.metadata.name as string, sourceNode: nodeOf(source) as string, targetNode: nodeOf(target) as string,
      memoryBytes: Math.round(memory * (this.settings.migrationMemoryScale ?? 1 / 64)),
      bandwidthBytesPerSec: parseQuantity(cfg.bandwidthPerMigration) ?? 0,
      progressTimeoutS: cfg.progressTimeout, completionTimeoutPerGiB: cfg.completionTimeoutPerGiB,
    };
  }

  private isFinished(plan: MigrationPlan): boolean {
    const vmi = this.api.store.get(VMI, plan.namespace, plan.vmiName);
    const s = (vmi?.status as VmiStatus | undefined)?.migrationState as MigrationState | undefined;
    return s?.migrationUid !== plan.migrationUid || !!s.completed;
  }

  /** A virt-handler's write to the VMI's migrationState, when the state is still this migration's. */
  private writeState(plan: MigrationPlan, patch: MigrationState): void {
    const vmi = this.api.tryGet(VMI, plan.namespace, plan.vmiName);
    if (!vmi || vmi.metadata.uid !== plan.vmiUid) return;
    const cur = (vmi.status as VmiStatus).migrationState as MigrationState | undefined;
    if (cur?.migrationUid !== plan.migrationUid) return;
    this.status.write(VMI, vmi, { migrationState: { ...cur, ...patch } });
  }

  /** A VMIM deleted before it finished is a cancel: the node side stops, the target goes. */
  private cancel(uid: string): void {
    const m = this.deleted.get(uid);
    this.deleted.delete(uid);
    const flight = this.inflight.get(uid);
    if (!m || !flight) return;
    this.writeState(flight.plan, { abortRequested: true, abortStatus: 'Succeeded' });
    this.fail(m, 'Migration failed due to being canceled');
  }

  /** garbageCollectFinalizedMigrations: the newest few finished migrations of a VMI are kept. */
  private collect(ns: string, vmi: string): void {
    const done = this.migrationsOf(ns, vmi).filter((o) => FINAL.includes(phaseOf(o)))
      .sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    for (const o of done.slice(0, Math.max(0, done.length - FINALIZED_KEPT))) this.api.delete(VMIM, ns, o.metadata.name as string);
  }

  /** The LiveMigratable condition, from the node side's bindings (virt-handler's calculateLiveMigrationCondition). */
  private syncMigratable(ns: string, name: string): void {
    if (!this.nodeSide) return;
    const vmi = this.api.tryGet(VMI, ns, name);
    if (!vmi || phaseOf(vmi) !== 'Running' || vmi.metadata.deletionTimestamp) return;
    const ok = this.nodeSide.migratable(ns, name);
    const cond: Condition = ok === true
      ? { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: now() }
      : { type: 'LiveMigratable', status: 'False', reason: 'InterfaceNotLiveMigratable', message: ok, lastProbeTime: null, lastTransitionTime: now() };
    this.status.write(VMI, vmi, { conditions: [cond] });
  }
}
