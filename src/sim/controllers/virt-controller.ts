// KubeVirt's virt-controller: VM → VMI (by running / runStrategy), VMI → virt-launcher Pod,
// and the VMI phase up to Scheduled once the scheduler has bound the pod. A launcher pod that
// cannot be rendered (a NAD not there yet) leaves the VMI Pending with `Synchronized` False,
// reason FailedCreate, and is retried with the workqueue's per-item exponential backoff, as
// kubevirt/kubevirt pkg/virt-controller/watch/vmi (sync → updateStatus → AddRateLimited) does.
import { randomBytes } from 'node:crypto';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller, keyOf, splitKey, type ReconcileResult } from './controller.ts';
import { recordEvent } from './events.ts';
import { multusNetworksAnnotation, NETWORKS_ANNOTATION, networkResourceRequests } from './network-resources.ts';
import {
  CREATED_BY_LABEL, VMI_FINALIZER, VM_LABEL, now, type VmiSpec, type VmiStatus,
} from './kubevirt-types.ts';
import { type Stage, StageEngine } from '../stages/engine.ts';
import { type Condition, type StatusPatch, StatusWriter } from '../virt/status-writer.ts';
import { dynamicInterfaceRequests } from '../virt/vm-interfaces.ts';

/** virt-handler still imports the merge from here. */

const VM = kindOf('kubevirt.io/v1', 'VirtualMachine') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const COMPONENT = 'virtualmachine-controller';
/** client-go's DefaultControllerRateLimiter, per item: 5 ms doubling to 1000 s. */
const BACKOFF_BASE_MS = 5;
const BACKOFF_MAX_MS = 1000_000;
/** Conditions the VM does not copy from its VMI (kubevirt pkg/virt-controller/watch/vm syncConditions). */
const VM_OWN_CONDITIONS = ['Ready', 'Failure', 'RestartRequired', 'Initialized'];

interface VmSpec {
  running?: boolean;
  runStrategy?: 'Always' | 'RerunOnFailure' | 'Manual' | 'Halted' | 'Once';
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: VmiSpec };
}

/** Whether the VM wants a VMI now. */
export function wantsRunning(vm: KObject, hasVmi: boolean): boolean {
  const spec = vm.spec as VmSpec;
  if (spec.running !== undefined) return spec.running;
  switch (spec.runStrategy) {
    case 'Always': case 'RerunOnFailure': return true;
    case 'Halted': return false;
    case 'Once': return !((vm.status as { ranOnce?: boolean })?.ranOnce) || hasVmi;
    default: { // Manual: the start and stop subresources leave requests in status
      const req = ((vm.status as { stateChangeRequests?: { action: string }[] })?.stateChangeRequests ?? []).at(-1)?.action;
      return req === 'Start' ? true : req === 'Stop' ? false : hasVmi;
    }
  }
}

interface VmiStageContext { pods: KObject[]; controller: VirtController }
type VmiStagePatch = StatusPatch & { dropConditions?: string[] };

/** A launcher pod that cannot be rendered yet (a NAD not there): FailedCreate, retried with backoff. */
class RenderError extends Error {}

const podScheduled = (pod: KObject | undefined) => ((pod?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === 'PodScheduled');
const vmiStatus = (vmi: KObject) => (vmi.status ?? {}) as VmiStatus;

/**
 * The VMI phases virt-controller owns (kubevirt pkg/virt-controller/watch/vmi: sync and updateStatus);
 * virt-handler takes a Scheduled VMI on to Running.
 */
export const VMI_STAGES: readonly Stage<KObject, VmiStageContext, VmiStagePatch>[] = [
  {
    name: 'accept', from: '', to: 'Pending', when: () => true,
    run: async () => ({ conditions: [{ type: 'Ready', status: 'False', reason: 'PodNotExists', message: 'virt-launcher pod has not yet been scheduled', lastProbeTime: now(), lastTransitionTime: now() }] }),
  },
  {
    name: 'create-launcher-pod', from: 'Pending', to: 'Scheduling',
    when: (_vmi, { pods }) => (pods.length ? 'a launcher pod exists' : true),
    run: async (vmi, { controller }) => {
      controller.createLauncher(vmi);
      return { dropConditions: ['Synchronized'], conditions: [{ type: 'Ready', status: 'False', reason: 'GuestNotRunning', message: 'Guest VM is not reported as running', lastProbeTime: now(), lastTransitionTime: now() }] };
    },
  },
  {
    name: 'pod-bound', from: 'Scheduling', to: 'Scheduled',
    when: (_vmi, { pods }) => ((pods[0]?.spec as { nodeName?: string } | undefined)?.nodeName ? true : 'the launcher pod is not bound to a node'),
    run: async (vmi, { pods, controller }) => {
      const pod = pods[0];
      const node = (pod.spec as { nodeName: string }).nodeName;
      controller.labelNode(vmi, node);
      return { nodeName: node, activePods: { [pod.metadata.uid as string]: node }, conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() }] };
    },
  },
  {
    // The scheduler's verdict, mirrored once per message.
    name: 'pod-unschedulable', from: 'Scheduling', to: 'Scheduling',
    when: (vmi, { pods }) => {
      const c = podScheduled(pods[0]);
      if (c?.status !== 'False') return 'the scheduler has not refused the launcher pod';
      return vmiStatus(vmi).conditions?.some((v) => v.type === 'PodScheduled' && v.message === c.message) ? 'already reported' : true;
    },
    run: async (_vmi, { pods }) => {
      const c = podScheduled(pods[0]) as Condition;
      return { conditions: [{ type: 'PodScheduled', status: 'False', reason: c.reason ?? 'Unschedulable', message: c.message, lastProbeTime: null, lastTransitionTime: now() }] };
    },
  },
];

export class VirtController extends Controller {
  /** Failed renders per VMI key, for the backoff; forgotten on success. */
  private readonly failures = new Map<string, number>();
  private readonly status: StatusWriter;
  private readonly vmiPhases: StageEngine<KObject, VmiStageContext, VmiStagePatch>;

  constructor(api: Registry) {
    super(api, 'virt-controller');
    this.status = new StatusWriter(api);
    this.vmiPhases = new StageEngine(VMI_STAGES, {
      phaseOf: (vmi) => vmiStatus(vmi).phase ?? '',
      enteredAt: () => undefined,
      commit: (vmi, phase, patch) => {
        const { dropConditions, ...rest } = patch ?? {};
        this.status.write(VMI, vmi, { ...rest, phase }, { dropConditions });
      },
    });
  }

  protected keysFor(e: StoreEvent): string[] {
    const { namespace, name, labels, ownerReferences } = e.object.metadata;
    if (e.kind === VM) return [`vm:${keyOf(namespace, name)}`];
    if (e.kind === VMI) return [`vmi:${keyOf(namespace, name)}`, ...(ownerReferences?.some((o) => o.kind === 'VirtualMachine') ? [`vm:${keyOf(namespace, name)}`] : [])];
    if (e.kind === POD && labels?.[CREATED_BY_LABEL]) {
      const vmi = labels['vm.kubevirt.io/name'];
      return vmi ? [`vmi:${keyOf(namespace, vmi)}`] : [];
    }
    return [];
  }

  protected override resync(): void {
    for (const vm of this.api.store.list(VM)) this.enqueue(`vm:${keyOf(vm.metadata.namespace, vm.metadata.name)}`);
  }

  protected async reconcile(key: string): Promise<ReconcileResult | void> {
    const [type, rest] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const [ns, name] = splitKey(rest);
    if (type === 'vm') return this.reconcileVm(ns as string, name);
    const err = await this.reconcileVmi(ns as string, name);
    if (!err) { this.failures.delete(key); return; }
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return { requeueAfterMs: Math.min(BACKOFF_BASE_MS * 2 ** n, BACKOFF_MAX_MS) };
  }

  private reconcileVm(ns: string, name: string): void {
    const vm = this.api.tryGet(VM, ns, name);
    const vmi = this.api.tryGet(VMI, ns, name);
    if (!vm) return;
    const ownedVmi = vmi && vmi.metadata.ownerReferences?.some((o) => o.uid === vm.metadata.uid) ? vmi : undefined;
    const run = !vm.metadata.deletionTimestamp && wantsRunning(vm, !!ownedVmi && !ownedVmi.metadata.deletionTimestamp);
    const spec = vm.spec as VmSpec;
    if (run && !vmi) {
      const tpl = spec.template ?? {};
      this.api.create(VMI, ns, {
        apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance',
        metadata: {
          name, namespace: ns,
          labels: { ...tpl.metadata?.labels, [VM_LABEL]: name },
          annotations: { ...tpl.metadata?.annotations, 'kubevirt.io/vm-generation': String(vm.metadata.generation ?? 1) },
          ownerReferences: [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name, uid: vm.metadata.uid as string, controller: true, blockOwnerDeletion: true }],
          finalizers: [VMI_FINALIZER, 'foregroundDeleteVirtualMachine'],
        },
        spec: structuredClone(tpl.spec ?? { domain: {} }),
      });
      recordEvent(this.api, vm, 'Normal', 'SuccessfulCreate', `Started the virtual machine by creating the new virtual machine instance ${name}`, COMPONENT);
      this.patchVmStatus(vm, { ...(spec.runStrategy === 'Once' ? { ranOnce: true } : {}), stateChangeRequests: undefined });
      return;
    }
    if (run && ownedVmi && !ownedVmi.metadata.deletionTimestamp) {
      const next = dynamicInterfaceRequests(spec.template?.spec ?? { domain: {} }, ownedVmi.spec as VmiSpec);
      if (next) this.api.update(VMI, ns, name, { ...ownedVmi, spec: next });
    }
    if (!run && ownedVmi && !ownedVmi.metadata.deletionTimestamp) {
      this.api.delete(VMI, ns, name);
      this.patchVmStatus(vm, { stateChangeRequests: undefined });
      recordEvent(this.api, vm, 'Normal', 'SuccessfulDelete', `Stopped the virtual machine by deleting the virtual machine instance ${ownedVmi.metadata.uid}`, COMPONENT);
    }
    const phase = (ownedVmi?.status as VmiStatus | undefined)?.phase;
    const ready = phase === 'Running' && (ownedVmi?.status as VmiStatus).conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const vmiConds = ((ownedVmi?.status as VmiStatus | undefined)?.conditions ?? []).filter((c) => !VM_OWN_CONDITIONS.includes(c.type));
    const printableStatus = !ownedVmi ? 'Stopped'
      : ownedVmi.metadata.deletionTimestamp ? 'Stopping'
      : phase === 'Running' ? 'Running'
      : phase === 'Failed' ? 'CrashLoopBackOff'
      : (ownedVmi.status as VmiStatus | undefined)?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False') ? 'ErrorUnschedulable'
      : 'Starting';
    this.patchVmStatus(vm, {
      printableStatus, ready: !!ready, created: !!ownedVmi,
      conditions: [
        { type: 'Ready', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now(), ...(ready ? {} : { reason: ownedVmi ? 'VMINotReady' : 'VMINotExists' }) },
        ...vmiConds,
      ],
    });
  }

  /** The VM's conditions are a whole set each time (Ready plus the VMI's), so they replace, keeping times. */
  private patchVmStatus(stale: KObject, patch: StatusPatch): void {
    this.status.write(VM, stale, patch, { replaceConditions: true });
  }

  /** Returns the sync error that asks for a retry with backoff (upstream's SyncError with RequiresRequeue). */
  private async reconcileVmi(ns: string, name: string): Promise<Error | undefined> {
    const vmi = this.api.tryGet(VMI, ns, name);
    if (!vmi) {
      // A VMI gone for good takes its launcher pods with it (ownerReference GC does the rest).
      return;
    }
    const status = (vmi.status ?? {}) as VmiStatus;
    const pods = this.launcherPods(vmi);
    if (vmi.metadata.deletionTimestamp) {
      for (const p of pods) if (!p.metadata.deletionTimestamp) this.api.delete(POD, ns, p.metadata.name as string);
      // virt-handler removes its finalizer after teardown; ours goes once the pods are gone.
      if (!pods.length && vmi.metadata.finalizers?.includes('foregroundDeleteVirtualMachine')) {
        vmi.metadata.finalizers = vmi.metadata.finalizers.filter((f) => f !== 'foregroundDeleteVirtualMachine');
        if (!status.nodeName) vmi.metadata.finalizers = vmi.metadata.finalizers.filter((f) => f !== VMI_FINALIZER);
        this.api.update(VMI, ns, name, vmi);
      }
      return;
    }
    try {
      await this.vmiPhases.step(vmi, { pods, controller: this });
    } catch (e) {
      if (!(e instanceof RenderError)) throw e;
      // CheckFailure: the condition is replaced only when its reason changes; no event is recorded.
      const cur = status.conditions?.find((c) => c.type === 'Synchronized');
      if (cur?.status !== 'False' || cur.reason !== 'FailedCreate') {
        this.status.write(VMI, vmi, { conditions: [{ type: 'Synchronized', status: 'False', reason: 'FailedCreate', message: e.message, lastProbeTime: null, lastTransitionTime: now() }] });
      }
      return e;
    }
  }

  /** The Pending → Scheduling stage's action: render and create the launcher pod. */
  createLauncher(vmi: KObject): void {
    let devices: Record<string, string>;
    try {
      devices = networkResourceRequests(this.api, vmi.metadata.namespace as string, (vmi.spec as VmiSpec).networks ?? []);
    } catch (e) {
      throw new RenderError(`failed to render launch manifest: ${(e as Error).message}`);
    }
    this.createLauncherPod(vmi, devices);
  }

  /** The Scheduling → Scheduled stage's action: the node label the VMI carries once placed. */
  labelNode(vmi: KObject, node: string): void {
    const cur = this.api.get(VMI, vmi.metadata.namespace, vmi.metadata.name as string);
    cur.metadata.labels = { ...cur.metadata.labels, 'kubevirt.io/nodeName': node };
    this.api.update(VMI, vmi.metadata.namespace, vmi.metadata.name as string, cur);
  }

  private launcherPods(vmi: KObject): KObject[] {
    return this.api.store.list(POD, vmi.metadata.namespace).filter((p) => p.metadata.labels?.[CREATED_BY_LABEL] === vmi.metadata.uid);
  }

  private createLauncherPod(vmi: KObject, networkDevices: Record<string, string>): void {
    const spec = vmi.spec as VmiSpec;
    const ns = vmi.metadata.namespace as string;
    const name = `virt-launcher-${vmi.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const multus = multusNetworksAnnotation(ns, spec);
    const devices = { 'devices.kubevirt.io/kvm': '1', 'devices.kubevirt.io/tun': '1', 'devices.kubevirt.io/vhost-net': '1', ...networkDevices };
    const pod = this.api.create(POD, ns, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, namespace: ns,
        labels: { ...vmi.metadata.labels, 'kubevirt.io': 'virt-launcher', [CREATED_BY_LABEL]: vmi.metadata.uid as string, 'vm.kubevirt.io/name': vmi.metadata.name as string },
        annotations: {
          'kubevirt.io/domain': vmi.metadata.name as string,
          ...(multus ? { [NETWORKS_ANNOTATION]: multus } : {}),
          ...pick(vmi.metadata.annotations, ['sidecar.istio.io/inject']),
        },
        ownerReferences: [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: vmi.metadata.name as string, uid: vmi.metadata.uid as string, controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        ...(spec.hostname ? { hostname: spec.hostname } : { hostname: vmi.metadata.name }),
        ...(spec.subdomain ? { subdomain: spec.subdomain } : {}),
        nodeSelector: { 'kubevirt.io/schedulable': 'true', ...spec.nodeSelector },
        ...(spec.affinity ? { affinity: spec.affinity } : {}),
        containers: [{
          name: 'compute', image: 'registry.redhat.io/container-native-virtualization/virt-launcher-rhel9:v4.17',
          command: ['/usr/bin/virt-launcher-monitor', '--qemu-timeout', '5m', '--name', vmi.metadata.name as string, '--uid', vmi.metadata.uid as string, '--namespace', ns],
          resources: { requests: { ...devices }, limits: { ...devices } },
        }],
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 30,
      },
    });
    recordEvent(this.api, vmi, 'Normal', 'SuccessfulCreate', `Created virtual machine pod ${pod.metadata.name}`, COMPONENT);
  }
}

function pick(o: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => keys.includes(k)));
}
