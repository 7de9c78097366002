// The control loops around the pool: CNAO's NetworkAddonsConfig reconcile for KubeMacPool (validate,
// fill the default range, deploy the range ConfigMap and the webhook configuration), KMP's VM
// controller (commit a persisted transaction, release on delete) and its MAC collision controller
// (pkg/controller/maccollision: Running VMIs sharing a MAC get a Warning `MACCollision` each).
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller } from '../controllers/controller.ts';
import { recordEvent } from '../controllers/events.ts';
import { type Condition, StatusWriter, now } from '../virt/status-writer.ts';
import { MUTATOR_CONFIG, TRANSACTION_ANNOTATION, VM_WEBHOOK, vmFullName, webhookSelects } from './mutator.ts';
import { MacPool, normalizeMac, parseMac, randomDefaultRange, validateRangeConfig } from './pool.ts';

const NAC = kindOf('networkaddonsoperator.network.kubevirt.io/v1', 'NetworkAddonsConfig') as Kind;
const MWC = kindOf('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration') as Kind;
const CONFIGMAP = kindOf('v1', 'ConfigMap') as Kind;
const VM = kindOf('kubevirt.io/v1', 'VirtualMachine') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;

/** CNAO's only NetworkAddonsConfig (names.OperatorConfig). */
export const NAC_NAME = 'cluster';
/** Where CNAO deploys KubeMacPool on OpenShift (its OPERAND_NAMESPACE). */
export const KMP_NAMESPACE = 'openshift-cnv';
export const RANGE_CONFIGMAP = 'kubemacpool-mac-range-config';
/** KMP's --wait-time: allocations of a VM that never persisted are freed after it. */
export const WAIT_TIME_MS = 600_000;

interface KubeMacPoolSpec { rangeStart?: string; rangeEnd?: string }
interface VmiInterface { mac?: string }

/** data/kubemacpool/kubemacpool.yaml's MutatingWebhookConfiguration, as CNAO renders it. */
function webhookConfiguration(namespace: string): KObject {
  const runLevels = [
    { key: 'runlevel', operator: 'NotIn', values: ['0', '1'] },
    { key: 'openshift.io/run-level', operator: 'NotIn', values: ['0', '1'] },
  ];
  const hook = (name: string, path: string, optMode: Record<string, unknown>, rule: Record<string, unknown>) => ({
    admissionReviewVersions: ['v1', 'v1beta1'],
    clientConfig: { service: { name: 'kubemacpool-service', namespace, path } },
    failurePolicy: 'Fail', name, sideEffects: 'NoneOnDryRun',
    namespaceSelector: { matchExpressions: [...runLevels, optMode] },
    rules: [rule],
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: MUTATOR_CONFIG },
    webhooks: [
      hook('mutatepods.kubemacpool.io', '/mutate-pods', { key: 'mutatepods.kubemacpool.io', operator: 'In', values: ['allocate'] },
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }),
      hook(VM_WEBHOOK, '/mutate-virtualmachines', { key: VM_WEBHOOK, operator: 'NotIn', values: ['ignore'] },
        { apiGroups: ['kubevirt.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['virtualmachines'] }),
    ],
  };
}

export class KubeMacPoolController extends Controller {
  private readonly status: StatusWriter;
  /** CNAO's applied configuration (its ConfigMap record): the range reused when the spec leaves it empty. */
  private applied?: { rangeStart: string; rangeEnd: string };
  /** `<vmi uid>|<message>` already reported: an unchanged collision is not reported again. */
  private readonly reported = new Set<string>();

  constructor(api: Registry, readonly pool: MacPool) {
    super(api, 'kubemacpool');
    this.status = new StatusWriter(api);
  }

  protected keysFor(e: StoreEvent): string[] {
    if (e.kind === NAC || e.kind === MWC || (e.kind === CONFIGMAP && e.object.metadata.name === RANGE_CONFIGMAP)) return ['nac'];
    if (e.kind === VM) return [`vm:${e.object.metadata.namespace}/${e.object.metadata.name}`];
    if (e.kind === VMI) return [`vmi:${e.object.metadata.namespace}/${e.object.metadata.name}`];
    return [];
  }

  protected override resync(): void {
    this.enqueue('nac');
  }

  /** Allocations were recorded: look again once the wait time has passed. */
  pending(): void {
    this.enqueue('sweep', WAIT_TIME_MS);
  }

  protected async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    if (key === 'nac') return this.reconcileConfig();
    if (key === 'sweep') return this.sweep();
    const i = key.indexOf('/');
    const ns = key.slice(key.indexOf(':') + 1, i);
    const name = key.slice(i + 1);
    if (key.startsWith('vm:')) this.reconcileVm(ns, name);
    else this.reconcileVmi(ns, name);
  }

  /** CNAO's reconcile, synchronously: the first one runs at install, so the webhook is there before any VM. */
  reconcileConfig(): void {
    const nac = this.api.store.get(NAC, undefined, NAC_NAME);
    const kmp = (nac?.spec as { kubeMacPool?: KubeMacPoolSpec } | undefined)?.kubeMacPool;
    if (!nac || !kmp) {
      this.undeploy();
      if (nac) this.setConditions(nac);
      return;
    }
    const errs = validateRangeConfig(kmp.rangeStart, kmp.rangeEnd);
    if (errs.length) {
      this.setConditions(nac, { reason: 'FailedToValidate', message: `failed to validate NetworkConfig.Spec: invalid configuration:\n${errs.join('\n')}` });
      return;
    }
    // fillDefaultsKubeMacPool: the spec's range, else the one applied before, else a random one.
    const range = kmp.rangeStart && kmp.rangeEnd ? { rangeStart: kmp.rangeStart, rangeEnd: kmp.rangeEnd } : this.applied ?? randomDefaultRange();
    this.deploy(range);
    this.setConditions(nac);
  }

  private deploy(range: { rangeStart: string; rangeEnd: string }): void {
    const wasOff = !this.applied;
    this.applied = range;
    const cm = this.api.store.get(CONFIGMAP, KMP_NAMESPACE, RANGE_CONFIGMAP);
    const data = { RANGE_START: range.rangeStart, RANGE_END: range.rangeEnd };
    const body: KObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: RANGE_CONFIGMAP, namespace: KMP_NAMESPACE, labels: { 'app.kubernetes.io/component': 'network' } }, data };
    if (!cm) this.api.create(CONFIGMAP, KMP_NAMESPACE, body);
    else if (JSON.stringify(cm.data) !== JSON.stringify(data)) this.api.update(CONFIGMAP, KMP_NAMESPACE, RANGE_CONFIGMAP, { ...body, metadata: { ...cm.metadata } });
    if (!this.api.store.get(MWC, undefined, MUTATOR_CONFIG)) this.api.create(MWC, undefined, webhookConfiguration(KMP_NAMESPACE));
    const start = parseMac(range.rangeStart) as number;
    const end = parseMac(range.rangeEnd) as number;
    const cur = this.pool.current;
    if (!cur || cur.start !== start || cur.end !== end) this.pool.setRange({ start, end });
    if (wasOff) this.initFromCluster();
  }

  /** The operator removes a component the spec no longer asks for. */
  private undeploy(): void {
    if (!this.applied) return;
    this.applied = undefined;
    this.pool.setRange(undefined);
    this.pool.clear();
    if (this.api.store.get(MWC, undefined, MUTATOR_CONFIG)) this.api.delete(MWC, undefined, MUTATOR_CONFIG);
    if (this.api.store.get(CONFIGMAP, KMP_NAMESPACE, RANGE_CONFIGMAP)) this.api.delete(CONFIGMAP, KMP_NAMESPACE, RANGE_CONFIGMAP);
  }

  /** initMacMapFromCluster: the MACs of managed VMs' supported interfaces. */
  private initFromCluster(): void {
    this.pool.clear();
    for (const vm of this.api.store.list(VM)) {
      if (!webhookSelects(this.api.reader, vm.metadata.namespace as string)) continue;
      for (const [iface, mac] of specMacs(vm)) this.pool.hold(mac, vmFullName(vm), iface, false);
    }
  }

  private setConditions(nac: KObject, failing?: { reason: string; message: string }): void {
    const t = now();
    const at = { lastTransitionTime: t };
    const conditions: Condition[] = failing
      ? [
        { type: 'Available', status: 'False', reason: failing.reason, message: failing.message, ...at },
        { type: 'Progressing', status: 'False', reason: 'InvalidConfiguration', message: failing.message, ...at },
        { type: 'Degraded', status: 'True', reason: failing.reason, message: failing.message, ...at },
      ]
      : [
        { type: 'Available', status: 'True', reason: '', message: '', ...at },
        { type: 'Progressing', status: 'False', reason: '', message: '', ...at },
        { type: 'Degraded', status: 'False', reason: '', message: '', ...at },
      ];
    this.status.write(NAC, nac, { conditions, observedGeneration: nac.metadata.generation });
  }

  /** KMP's VM controller: a gone (or deleting) VM releases its MACs; a persisted one commits its transaction. */
  private reconcileVm(ns: string, name: string): void {
    const vm = this.api.store.get(VM, ns, name);
    const full = `vm/${ns}/${name}`;
    if (!vm || vm.metadata.deletionTimestamp) { this.pool.releaseVm(full); return; }
    if (!webhookSelects(this.api.reader, ns) || !vm.metadata.annotations?.[TRANSACTION_ANNOTATION]) return;
    this.pool.commit(full, specMacs(vm, true));
  }

  /** Allocations whose VM never persisted, older than the wait time, go back to the pool. */
  private sweep(): { requeueAfterMs?: number } | void {
    let left = false;
    for (const [mac, owners] of this.pool.entries()) {
      for (const o of owners) {
        if (!o.pending) continue;
        const [, ns, name] = o.vm.split('/');
        if (this.api.store.get(VM, ns, name)) continue;
        if (Date.now() - o.at >= WAIT_TIME_MS) this.pool.release(mac, o.vm, o.iface);
        else left = true;
      }
    }
    return left ? { requeueAfterMs: WAIT_TIME_MS } : undefined;
  }

  /** The collision controller: this Running VMI's MACs against every other Running VMI in a managed namespace. */
  private reconcileVmi(ns: string, name: string): void {
    const vmi = this.api.store.get(VMI, ns, name);
    if (!vmi || !running(vmi) || !webhookSelects(this.api.reader, ns)) return;
    const others = this.api.store.list(VMI).filter((v) => v.metadata.uid !== vmi.metadata.uid && running(v) && webhookSelects(this.api.reader, v.metadata.namespace as string));
    for (const mac of statusMacs(vmi)) {
      const colliding = others.filter((v) => statusMacs(v).has(mac));
      if (!colliding.length) continue;
      const all = [vmi, ...colliding].map((v) => `vmi/${v.metadata.namespace}/${v.metadata.name}`).sort();
      const message = `MAC ${mac}: Collision between ${all.join(', ')}`;
      for (const v of [vmi, ...colliding]) {
        const seen = `${v.metadata.uid}|${message}`;
        if (this.reported.has(seen)) continue;
        this.reported.add(seen);
        recordEvent(this.api, v, 'Warning', 'MACCollision', message, 'kubemacpool');
      }
    }
  }
}

const running = (vmi: KObject) => (vmi.status as { phase?: string } | undefined)?.phase === 'Running';

function statusMacs(vmi: KObject): Set<string> {
  const ifaces = ((vmi.status as { interfaces?: VmiInterface[] } | undefined)?.interfaces ?? []);
  return new Set(ifaces.flatMap((i) => { const m = i.mac ? normalizeMac(i.mac) : undefined; return m ? [m] : []; }));
}

/** Interface name → normalised MAC: of the interfaces KMP allocates for (masquerade, or on a Multus network), or of all. */
function specMacs(vm: KObject, all = false): Map<string, string> {
  const spec = (vm.spec as { template?: { spec?: { domain?: { devices?: { interfaces?: { name: string; macAddress?: string; masquerade?: unknown }[] } }; networks?: { name: string; multus?: unknown }[] } } } | undefined)?.template?.spec;
  const multus = new Set((spec?.networks ?? []).filter((n) => n.multus).map((n) => n.name));
  const out = new Map<string, string>();
  for (const i of spec?.domain?.devices?.interfaces ?? []) {
    const mac = i.macAddress ? normalizeMac(i.macAddress) : undefined;
    if (mac && (all || i.masquerade !== undefined || multus.has(i.name))) out.set(i.name, mac);
  }
  return out;
}
