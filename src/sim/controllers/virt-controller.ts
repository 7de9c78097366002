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
import { nadRef, networkResourceRequests } from './network-resources.ts';
import {
  CREATED_BY_LABEL, VMI_FINALIZER, VM_LABEL, now, type VmiSpec, type VmiStatus,
} from './kubevirt-types.ts';

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

export class VirtController extends Controller {
  /** Failed renders per VMI key, for the backoff; forgotten on success. */
  private readonly failures = new Map<string, number>();

  constructor(api: Registry) {
    super(api, 'virt-controller');
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
    const err = this.reconcileVmi(ns as string, name);
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

  private patchVmStatus(stale: KObject, patch: Record<string, unknown>): void {
    const vm = this.api.tryGet(VM, stale.metadata.namespace, stale.metadata.name as string);
    if (!vm) return;
    const cur = (vm.status ?? {}) as Record<string, unknown>;
    const next = { ...cur, ...patch };
    // Transition times only move when the status does.
    const same = (a: unknown, b: unknown) => JSON.stringify(a, (k, v) => (k === 'lastTransitionTime' ? undefined : v)) === JSON.stringify(b, (k, v) => (k === 'lastTransitionTime' ? undefined : v));
    if (same(cur, next)) return;
    vm.status = next;
    this.api.update(VM, vm.metadata.namespace, vm.metadata.name as string, vm, { subresource: 'status' });
  }

  /** Returns the sync error that asks for a retry with backoff (upstream's SyncError with RequiresRequeue). */
  private reconcileVmi(ns: string, name: string): Error | undefined {
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
    if (!status.phase) {
      this.setVmiStatus(vmi, { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False', reason: 'PodNotExists', message: 'virt-launcher pod has not yet been scheduled', lastProbeTime: now(), lastTransitionTime: now() }] });
      return;
    }
    if (status.phase === 'Pending' && !pods.length) {
      let devices: Record<string, string>;
      try {
        devices = networkResourceRequests(this.api, ns, (vmi.spec as VmiSpec).networks ?? []);
      } catch (e) {
        const err = new Error(`failed to render launch manifest: ${(e as Error).message}`);
        // CheckFailure: the condition is replaced only when its reason changes; no event is recorded.
        const cur = status.conditions?.find((c) => c.type === 'Synchronized');
        if (cur?.status !== 'False' || cur.reason !== 'FailedCreate') {
          this.setVmiStatus(vmi, { conditions: [{ type: 'Synchronized', status: 'False', reason: 'FailedCreate', message: err.message, lastProbeTime: null, lastTransitionTime: now() }] });
        }
        return err;
      }
      this.createLauncherPod(vmi, devices);
      const created = this.api.get(VMI, ns, name);
      const st = (created.status ?? {}) as VmiStatus;
      if (st.conditions?.some((c) => c.type === 'Synchronized')) created.status = { ...st, conditions: st.conditions.filter((c) => c.type !== 'Synchronized') };
      this.setVmiStatus(created, { phase: 'Scheduling', conditions: [{ type: 'Ready', status: 'False', reason: 'GuestNotRunning', message: 'Guest VM is not reported as running', lastProbeTime: now(), lastTransitionTime: now() }] });
      return;
    }
    const pod = pods[0];
    if (!pod) return;
    const podSpec = pod.spec as { nodeName?: string };
    const podConds = ((pod.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] })?.conditions ?? []);
    if (status.phase === 'Scheduling') {
      if (podSpec.nodeName) {
        vmi.metadata.labels = { ...vmi.metadata.labels, 'kubevirt.io/nodeName': podSpec.nodeName };
        this.api.update(VMI, ns, name, vmi);
        this.setVmiStatus(this.api.get(VMI, ns, name), {
          phase: 'Scheduled', nodeName: podSpec.nodeName, activePods: { [pod.metadata.uid as string]: podSpec.nodeName },
          conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() }],
        });
        return;
      }
      const unsched = podConds.find((c) => c.type === 'PodScheduled' && c.status === 'False');
      if (unsched && !status.conditions?.some((c) => c.type === 'PodScheduled' && c.message === unsched.message)) {
        this.setVmiStatus(vmi, { conditions: [{ type: 'PodScheduled', status: 'False', reason: unsched.reason ?? 'Unschedulable', message: unsched.message, lastProbeTime: null, lastTransitionTime: now() }] });
      }
    }
  }

  private launcherPods(vmi: KObject): KObject[] {
    return this.api.store.list(POD, vmi.metadata.namespace).filter((p) => p.metadata.labels?.[CREATED_BY_LABEL] === vmi.metadata.uid);
  }

  private createLauncherPod(vmi: KObject, networkDevices: Record<string, string>): void {
    const spec = vmi.spec as VmiSpec;
    const ns = vmi.metadata.namespace as string;
    const name = `virt-launcher-${vmi.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    // The networks annotation names each NAD by namespace and name, as KubeVirt splits `ns/name`.
    const multus = (spec.networks ?? []).flatMap((n) => {
      if (!n.multus) return [];
      const ref = nadRef(ns, n.multus.networkName);
      return [{ name: ref.name, namespace: ref.namespace, interface: `pod${hashName(n.name)}` }];
    });
    const devices = { 'devices.kubevirt.io/kvm': '1', 'devices.kubevirt.io/tun': '1', 'devices.kubevirt.io/vhost-net': '1', ...networkDevices };
    const pod = this.api.create(POD, ns, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, namespace: ns,
        labels: { ...vmi.metadata.labels, 'kubevirt.io': 'virt-launcher', [CREATED_BY_LABEL]: vmi.metadata.uid as string, 'vm.kubevirt.io/name': vmi.metadata.name as string },
        annotations: {
          'kubevirt.io/domain': vmi.metadata.name as string,
          ...(multus.length ? { 'k8s.v1.cni.cncf.io/networks': JSON.stringify(multus) } : {}),
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

  private setVmiStatus(vmi: KObject, patch: Partial<VmiStatus>): void {
    const cur = (vmi.status ?? {}) as VmiStatus;
    const conditions = patch.conditions ? mergeConditions(cur.conditions ?? [], patch.conditions) : cur.conditions;
    vmi.status = { ...cur, ...patch, ...(conditions ? { conditions } : {}) };
    this.api.update(VMI, vmi.metadata.namespace, vmi.metadata.name as string, vmi, { subresource: 'status' });
  }
}

export function mergeConditions<T extends { type: string }>(cur: T[], updates: T[]): T[] {
  const out = cur.filter((c) => !updates.some((u) => u.type === c.type));
  return [...out, ...updates];
}

/** Multus pod interface names KubeVirt derives from the network name (pod<hash>). */
function hashName(s: string): string {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0').slice(0, 11);
}

function pick(o: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => keys.includes(k)));
}
