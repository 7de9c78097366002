// KubeMacPool's VirtualMachine mutating webhook (pkg/webhook/virtualmachine, pool-manager's
// AllocateVirtualMachineMac / UpdateMacAddressesForVirtualMachine), called as kube-apiserver calls
// a webhook: only while the MutatingWebhookConfiguration `kubemacpool-mutator` registers it, and only
// for namespaces its namespaceSelector selects (opt-out label `mutatevirtualmachines.kubemacpool.io=ignore`).
import type { Mutator } from '../api/registry.ts';
import { matchesLabelSelectorObject } from '../api/selectors.ts';
import { ApiError } from '../api/status.ts';
import type { AdmissionRequest, KObject, StoreReader } from '../api/types.ts';
import { normalizeMac, type MacPool } from './pool.ts';

export const MUTATOR_CONFIG = 'kubemacpool-mutator';
export const VM_WEBHOOK = 'mutatevirtualmachines.kubemacpool.io';
export const TRANSACTION_ANNOTATION = 'kubemacpool.io/transaction-timestamp';

interface Iface { name?: string; macAddress?: string; masquerade?: unknown; [k: string]: unknown }
interface Net { name?: string; multus?: unknown; [k: string]: unknown }
interface Webhook {
  name?: string;
  namespaceSelector?: Parameters<typeof matchesLabelSelectorObject>[0];
  rules?: { apiGroups?: string[]; apiVersions?: string[]; operations?: string[]; resources?: string[] }[];
}

/** Is the VM webhook registered for this operation on `namespace` (what the apiserver decides before calling it)? */
export function webhookSelects(store: StoreReader, namespace: string, operation?: string): boolean {
  const cfg = store.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, MUTATOR_CONFIG);
  const hook = ((cfg?.webhooks as Webhook[] | undefined) ?? []).find((w) => w.name === VM_WEBHOOK);
  if (!hook) return false;
  const any = (l: string[] | undefined, v: string) => !!l && (l.includes('*') || l.includes(v));
  const ruled = (hook.rules ?? []).some((r) => any(r.apiGroups, 'kubevirt.io') && any(r.apiVersions, 'v1') && any(r.resources, 'virtualmachines') && (!operation || any(r.operations, operation)));
  const ns = store.get('v1', 'Namespace', undefined, namespace);
  return ruled && !!ns && matchesLabelSelectorObject(hook.namespaceSelector, ns.metadata.labels ?? {});
}

export const vmFullName = (o: KObject) => `vm/${o.metadata.namespace}/${o.metadata.name}`;

function templateSpec(o: KObject): { domain?: { devices?: { interfaces?: Iface[] } }; networks?: Net[] } | undefined {
  return (o.spec as { template?: { spec?: never } } | undefined)?.template?.spec;
}
const interfacesOf = (o: KObject | undefined): Iface[] => (o && templateSpec(o)?.domain?.devices?.interfaces) || [];

/** The webhook's answer as kube-apiserver relays a webhook error (admission.Errored, 500). */
function denied(message: string): ApiError {
  return new ApiError(500, '', `admission webhook "${VM_WEBHOOK}" denied the request: ${message}`);
}

/**
 * The mutator, for `Registry.mutators`. `onPending` hears of every recorded allocation, so the
 * controller can release those whose VM never persists. Unparsable MACs and repeated interface
 * names are left to virt-api's validator here (its 422 names the field), where KMP would refuse first.
 */
export function kubeMacPoolMutator(pool: MacPool, onPending: () => void): Mutator {
  return (req: AdmissionRequest) => {
    const vm = req.object;
    if (vm.apiVersion !== 'kubevirt.io/v1' || vm.kind !== 'VirtualMachine') return;
    if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return;
    if (!webhookSelects(req.store, vm.metadata.namespace as string, req.operation)) return;
    if (!templateSpec(vm)) return; // "virtual machine template is nil, ignoring virtual machine"
    const record = !req.dryRun;
    const ifaces = interfacesOf(vm);
    const names = ifaces.map((i) => i.name);
    if (new Set(names).size !== names.length) return;
    const before = req.operation === 'UPDATE' ? req.oldObject : undefined;
    try {
      if (record) intraVmDuplicates(ifaces);
      if (!before) {
        stamp(vm);
        allocate(pool, vm, record);
      } else if (changed(before, vm)) {
        stamp(vm);
        if (JSON.stringify(interfacesOf(before)) !== JSON.stringify(ifaces)) update(pool, before, vm, record);
      }
    } catch (e) {
      const msg = (e as Error).message;
      throw denied(before ? `Failed to update virtual machine allocation error: ${msg}` : `Failed to create virtual machine allocation error: Failed to allocate mac to the vm object: ${msg}`);
    }
    if (record) onPending();
  };
}

function stamp(vm: KObject): void {
  vm.metadata.annotations = { ...vm.metadata.annotations, [TRANSACTION_ANNOTATION]: new Date().toISOString() };
}

/** isVirtualMachineChanged: spec, labels, or annotations other than the transaction timestamp. */
function changed(a: KObject, b: KObject): boolean {
  const notes = (o: KObject) => JSON.stringify(Object.entries(o.metadata.annotations ?? {}).filter(([k]) => k !== TRANSACTION_ANNOTATION).sort());
  return JSON.stringify(a.spec) !== JSON.stringify(b.spec) || JSON.stringify(a.metadata.labels ?? {}) !== JSON.stringify(b.metadata.labels ?? {}) || notes(a) !== notes(b);
}

/** checkIntraVMDuplicateMACs. */
function intraVmDuplicates(ifaces: Iface[]): void {
  const seen = new Map<string, string>();
  for (const i of ifaces) {
    const mac = i.macAddress ? normalizeMac(i.macAddress) : undefined;
    if (!mac) continue;
    const other = seen.get(mac);
    if (other !== undefined) throw new Error(`duplicate MAC address ${mac} found on interfaces: ${other} and ${i.name}`);
    seen.set(mac, i.name as string);
  }
}

/** Holds or allocates one interface's MAC; returns what it recorded, for a revert. */
function take(pool: MacPool, owner: string, i: Iface, record: boolean, done: [string, string][]): void {
  if (i.macAddress) {
    const mac = normalizeMac(i.macAddress);
    if (!mac) return; // virt-api's validator refuses it
    if (record) { pool.hold(mac, owner, i.name as string, true); done.push([mac, i.name as string]); }
    return;
  }
  const mac = pool.next();
  i.macAddress = mac;
  if (record) { pool.hold(mac, owner, i.name as string, true); done.push([mac, i.name as string]); }
}

function revert(pool: MacPool, owner: string, done: [string, string][]): void {
  for (const [mac, iface] of done) pool.release(mac, owner, iface);
}

/** AllocateVirtualMachineMac: masquerade interfaces and those on a Multus network. */
function allocate(pool: MacPool, vm: KObject, record: boolean): void {
  const nets = new Map((templateSpec(vm)?.networks ?? []).map((n) => [n.name, n]));
  const owner = vmFullName(vm);
  const done: [string, string][] = [];
  try {
    for (const i of interfacesOf(vm)) {
      if (i.masquerade === undefined && !nets.get(i.name)?.multus) continue;
      take(pool, owner, i, record, done);
    }
  } catch (e) {
    revert(pool, owner, done);
    throw e;
  }
}

/** UpdateMacAddressesForVirtualMachine: an interface that stays keeps its MAC unless a new one is asked for; a new one gets one. */
function update(pool: MacPool, before: KObject, vm: KObject, record: boolean): void {
  const current = new Map(interfacesOf(before).map((i) => [i.name, i.macAddress ?? '']));
  const owner = vmFullName(vm);
  const done: [string, string][] = [];
  try {
    for (const i of interfacesOf(vm)) {
      const had = current.get(i.name);
      if (had === undefined) take(pool, owner, i, record, done);
      else if (!i.macAddress) { if (had) i.macAddress = had; }
      else if (normalizeMac(i.macAddress) !== had) take(pool, owner, i, record, done);
    }
  } catch (e) {
    revert(pool, owner, done);
    throw e;
  }
}
