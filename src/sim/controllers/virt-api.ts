// KubeVirt's virt-api subresource verbs: start/stop/restart change what the VM asks for and leave
// the work to virt-controller; migrate creates a VirtualMachineInstanceMigration; port-forward opens a
// stream into the guest from its launcher pod (only with a data plane).
import type { Duplex } from 'node:stream';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { KubevirtSubresources } from '../api/server.ts';
import { ApiError, errors } from '../api/status.ts';
import type { KObject } from '../api/types.ts';
import type { VmiStatus } from './kubevirt-types.ts';
import type { VirtHandler } from './virt-handler.ts';

const VM = kindOf('kubevirt.io/v1', 'VirtualMachine') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const VMIM = kindOf('kubevirt.io/v1', 'VirtualMachineInstanceMigration') as Kind;

interface VmSpec { running?: boolean; runStrategy?: string }

export class VirtApi implements KubevirtSubresources {
  constructor(private readonly api: Registry, private readonly handler?: VirtHandler, private readonly connect?: (netns: string, host: string, port: number) => Duplex) {}

  async vmAction(action: 'start' | 'stop' | 'restart' | 'migrate', ns: string, name: string, body?: unknown): Promise<void> {
    const vm = this.api.get(VM, ns, name);
    const spec = vm.spec as VmSpec;
    const vmi = this.api.tryGet(VMI, ns, name);
    const conflict = (why: string) => new ApiError(409, 'Conflict', `Operation cannot be fulfilled on virtualmachine.kubevirt.io "${name}": ${why}`);
    if (action === 'start') {
      if (vmi && !vmi.metadata.deletionTimestamp) throw conflict('VM is already running');
      this.setRunning(vm, true);
    } else if (action === 'stop') {
      if (!vmi && spec.runStrategy !== 'Always' && !spec.running) throw conflict('VM is not running');
      this.setRunning(vm, false);
    } else if (action === 'restart') {
      if (!vmi || (vmi.status as VmiStatus | undefined)?.phase !== 'Running') throw conflict('VM is not running');
      // Deleting the VMI is the restart: the VM still wants to run, so virt-controller makes a new one.
      this.api.delete(VMI, ns, name);
    } else {
      this.migrate(ns, name, vmi, body, conflict);
    }
  }

  /**
   * MigrateVMRequestHandler (pkg/virt-api/rest/lifecycle.go): 409 unless the VMI runs, else a VMIM
   * named kubevirt-migrate-vm-*; a refusal by the VMIM admission comes back as an internal error.
   */
  private migrate(ns: string, name: string, vmi: KObject | undefined, body: unknown, conflict: (why: string) => ApiError): void {
    if (!vmi || (vmi.status as VmiStatus | undefined)?.phase !== 'Running') throw conflict('VM is not running');
    const opts = (body ?? {}) as { addedNodeSelector?: Record<string, string>; dryRun?: string[] };
    try {
      this.api.create(VMIM, ns, {
        apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration',
        metadata: { generateName: 'kubevirt-migrate-vm-', namespace: ns },
        spec: { vmiName: name, ...(opts.addedNodeSelector ? { addedNodeSelector: opts.addedNodeSelector } : {}) },
      }, { dryRun: !!opts.dryRun?.length });
    } catch (e) {
      if (e instanceof ApiError) throw new ApiError(500, 'InternalError', `Internal error occurred: ${e.message}`);
      throw e;
    }
  }

  private setRunning(vm: KObject, run: boolean): void {
    const spec = vm.spec as VmSpec;
    if (spec.running !== undefined || !spec.runStrategy) spec.running = run;
    else if (spec.runStrategy === 'Manual') {
      vm.status = { ...(vm.status as object), stateChangeRequests: [{ action: run ? 'Start' : 'Stop' }] };
      this.api.update(VM, vm.metadata.namespace, vm.metadata.name as string, vm, { subresource: 'status' });
      return;
    } else spec.runStrategy = run ? 'Always' : 'Halted';
    this.api.update(VM, vm.metadata.namespace, vm.metadata.name as string, vm);
  }

  async portForward(ns: string, name: string, port: number, protocol: 'tcp' | 'udp'): Promise<Duplex> {
    const vmi = this.api.tryGet(VMI, ns, name);
    if (!vmi) throw errors.notFound('virtualmachineinstances', 'kubevirt.io', name);
    if (!this.handler || !this.connect) throw new ApiError(503, 'InternalError', 'port-forward needs the data plane: this sim runs its control plane only');
    const dom = this.handler.domain(ns, name);
    if ((vmi.status as VmiStatus | undefined)?.phase !== 'Running' || !dom) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "${name}": VMI is not running`);
    }
    if (protocol !== 'tcp') throw errors.badRequest('only tcp port-forward is supported');
    // Without a pod network there is no address behind the launcher; reach the domain from inside, as the launcher's socket does.
    return dom.guestIP ? this.connect(dom.pod.netns, dom.guestIP, port) : this.connect(dom.guestNetns, '127.0.0.1', port);
  }
}
