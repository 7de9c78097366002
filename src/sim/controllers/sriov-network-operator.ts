// The SR-IOV Network Operator's controllers: SriovNetworkNodePolicies → the desired
// `spec.interfaces` of each node's SriovNetworkNodeState (the config daemon applies them), and
// SriovNetwork → a NetworkAttachmentDefinition of type `sriov` in `spec.networkNamespace`.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import { matchesLabelSelectorObject } from '../api/selectors.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller } from './controller.ts';
import { RESOURCE_PREFIX, type DeviceType } from './sriov-device-plugin.ts';

export const OPERATOR_NAMESPACE = 'openshift-sriov-network-operator';
export const CAPABLE_LABEL = 'feature.node.kubernetes.io/network-sriov.capable';
export const RESOURCE_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';
export const OWNER_ANNOTATION = 'sriovnetwork.openshift.io/owner-ref';

export const POLICY = kindOf('sriovnetwork.openshift.io/v1', 'SriovNetworkNodePolicy') as Kind;
export const NETWORK = kindOf('sriovnetwork.openshift.io/v1', 'SriovNetwork') as Kind;
export const NODE_STATE = kindOf('sriovnetwork.openshift.io/v1', 'SriovNetworkNodeState') as Kind;
const NODE = kindOf('v1', 'Node') as Kind;
const NAMESPACE = kindOf('v1', 'Namespace') as Kind;
const NAD = kindOf('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition') as Kind;

/** A PF as the config daemon reports it in `status.interfaces`. */
export interface DiscoveredPf {
  name: string;
  vendor: string;
  deviceID: string;
  pciAddress: string;
  totalvfs: number;
  mtu: number;
  linkSpeed: string;
  driver: string;
  mac?: string;
  linkType?: string;
  numVfs?: number;
  Vfs?: Record<string, unknown>[];
}

export interface VfGroup {
  resourceName: string;
  deviceType: DeviceType;
  /** `first-last` VF indices. */
  vfRange: string;
  policyName: string;
  mtu?: number;
  isRdma?: boolean;
}

/** One entry of SriovNetworkNodeState `spec.interfaces`. */
export interface DesiredPf {
  pciAddress: string;
  name: string;
  numVfs: number;
  mtu?: number;
  vfGroups: VfGroup[];
}

interface PolicySpec {
  resourceName: string;
  nodeSelector?: Record<string, string>;
  priority?: number;
  mtu?: number;
  numVfs: number;
  nicSelector?: { vendor?: string; deviceID?: string; pfNames?: string[]; rootDevices?: string[] };
  deviceType?: DeviceType;
  isRdma?: boolean;
}

/** `ens1f0#2-3` → name and range (the operator's VF partitioning syntax). */
function splitPfName(p: string): { name: string; range?: [number, number] } {
  const m = /^(.+)#(\d+)-(\d+)$/.exec(p);
  return m ? { name: m[1], range: [Number(m[2]), Number(m[3])] } : { name: p };
}

/** Whether a policy selects a PF on a node: every nicSelector field given must match. */
export function policySelects(spec: PolicySpec, nodeLabels: Record<string, string>, pf: DiscoveredPf): { range: [number, number] } | undefined {
  if (!matchesLabelSelectorObject({ matchLabels: spec.nodeSelector ?? {} }, nodeLabels)) return undefined;
  const sel = spec.nicSelector ?? {};
  if (sel.vendor !== undefined && sel.vendor.toLowerCase() !== pf.vendor) return undefined;
  if (sel.deviceID !== undefined && sel.deviceID.toLowerCase() !== pf.deviceID) return undefined;
  if (sel.rootDevices?.length && !sel.rootDevices.includes(pf.pciAddress)) return undefined;
  let range: [number, number] = [0, spec.numVfs - 1];
  if (sel.pfNames?.length) {
    const hit = sel.pfNames.map(splitPfName).find((p) => p.name === pf.name);
    if (!hit) return undefined;
    if (hit.range) range = hit.range;
  }
  return { range };
}

/**
 * The desired state of one node. Policies go highest priority first (lowest number, then name);
 * a policy's VF range on a PF is taken only where no higher-priority policy already has it.
 */
export function desiredInterfaces(policies: KObject[], nodeLabels: Record<string, string>, pfs: DiscoveredPf[]): DesiredPf[] {
  const ordered = [...policies].filter((p) => !p.metadata.deletionTimestamp)
    .sort((a, b) => ((a.spec as PolicySpec).priority ?? 99) - ((b.spec as PolicySpec).priority ?? 99) || String(a.metadata.name).localeCompare(String(b.metadata.name)));
  const out: DesiredPf[] = [];
  for (const pf of pfs) {
    let entry: DesiredPf | undefined;
    const taken: Array<[number, number]> = [];
    for (const pol of ordered) {
      const spec = pol.spec as PolicySpec;
      const hit = policySelects(spec, nodeLabels, pf);
      if (!hit) continue;
      const [lo, hi] = hit.range;
      if (taken.some(([a, b]) => lo <= b && a <= hi)) continue; // overlapped by a higher priority
      taken.push([lo, hi]);
      entry ??= { pciAddress: pf.pciAddress, name: pf.name, numVfs: spec.numVfs, ...(spec.mtu ? { mtu: spec.mtu } : {}), vfGroups: [] };
      entry.numVfs = Math.max(entry.numVfs, spec.numVfs, hi + 1);
      entry.vfGroups.push({ resourceName: spec.resourceName, deviceType: spec.deviceType ?? 'netdevice', vfRange: `${lo}-${hi}`, policyName: pol.metadata.name as string, ...(spec.mtu ? { mtu: spec.mtu } : {}), isRdma: spec.isRdma ?? false });
    }
    if (entry) out.push(entry);
  }
  return out;
}

interface SriovNetworkSpec {
  resourceName: string;
  networkNamespace?: string;
  vlan?: number;
  vlanQoS?: number;
  spoofChk?: string;
  trust?: string;
  linkState?: string;
  maxTxRate?: number;
  minTxRate?: number;
  ipam?: string;
  capabilities?: string;
  metaPlugins?: string;
}

/** The CNI config the operator renders for a SriovNetwork (its `sriov` template). */
export function renderSriovCniConfig(name: string, spec: SriovNetworkSpec): string {
  const cfg: Record<string, unknown> = {
    cniVersion: '1.0.0', name, type: 'sriov',
    vlan: spec.vlan ?? 0, vlanQoS: spec.vlanQoS ?? 0,
    ...(spec.spoofChk ? { spoofchk: spec.spoofChk } : {}),
    ...(spec.trust ? { trust: spec.trust } : {}),
    ...(spec.linkState ? { link_state: spec.linkState } : {}),
    ...(spec.maxTxRate !== undefined ? { max_tx_rate: spec.maxTxRate } : {}),
    ...(spec.minTxRate !== undefined ? { min_tx_rate: spec.minTxRate } : {}),
    ...(spec.capabilities ? { capabilities: JSON.parse(spec.capabilities) as unknown } : {}),
    logLevel: 'info',
    ipam: spec.ipam ? JSON.parse(spec.ipam) as unknown : {},
  };
  return JSON.stringify(cfg);
}

export class SriovNetworkOperator extends Controller {
  constructor(api: Registry) {
    super(api, 'sriov-network-operator');
  }

  protected keysFor(e: StoreEvent): string[] {
    // Node states too: the daemon's discovery report is what policies are matched against.
    if (e.kind === POLICY || e.kind === NODE || e.kind === NODE_STATE) return ['states'];
    if (e.kind === NETWORK) return [`net:${e.object.metadata.name}`];
    if (e.kind === NAD) {
      const owner = e.object.metadata.annotations?.[OWNER_ANNOTATION];
      return owner ? [`net:${owner.split('/').pop()}`] : [];
    }
    // A target namespace created after its SriovNetwork.
    if (e.kind === NAMESPACE && e.type === 'ADDED') return this.api.store.list(NETWORK, OPERATOR_NAMESPACE).filter((n) => (n.spec as SriovNetworkSpec).networkNamespace === e.object.metadata.name).map((n) => `net:${n.metadata.name}`);
    return [];
  }

  protected override resync(): void {
    this.enqueue('states');
    for (const n of this.api.store.list(NETWORK, OPERATOR_NAMESPACE)) this.enqueue(`net:${n.metadata.name}`);
  }

  protected async reconcile(key: string): Promise<void> {
    if (key === 'states') this.reconcileStates();
    else this.reconcileNetwork(key.slice(4));
  }

  private reconcileStates(): void {
    const policies = this.api.store.list(POLICY, OPERATOR_NAMESPACE);
    for (const node of this.api.store.list(NODE)) {
      const labels = node.metadata.labels ?? {};
      if (labels[CAPABLE_LABEL] !== 'true') continue;
      const name = node.metadata.name as string;
      let state = this.api.tryGet(NODE_STATE, OPERATOR_NAMESPACE, name);
      if (!state) {
        state = this.api.create(NODE_STATE, OPERATOR_NAMESPACE, {
          apiVersion: 'sriovnetwork.openshift.io/v1', kind: 'SriovNetworkNodeState',
          metadata: { name, namespace: OPERATOR_NAMESPACE, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid as string }] },
          spec: { interfaces: [] },
        });
      }
      const pfs = ((state.status as { interfaces?: DiscoveredPf[] } | undefined)?.interfaces ?? []);
      if (!pfs.length) continue; // the daemon has not reported its hardware yet
      const interfaces = desiredInterfaces(policies, labels, pfs);
      if (JSON.stringify(interfaces) === JSON.stringify((state.spec as { interfaces?: unknown })?.interfaces ?? [])) continue;
      state.spec = { ...(state.spec as object), interfaces };
      this.api.update(NODE_STATE, OPERATOR_NAMESPACE, name, state);
    }
  }

  private reconcileNetwork(name: string): void {
    const sn = this.api.tryGet(NETWORK, OPERATOR_NAMESPACE, name);
    const ownerRef = `SriovNetwork.sriovnetwork.openshift.io/${OPERATOR_NAMESPACE}/${name}`;
    const owned = this.api.store.list(NAD).filter((n) => n.metadata.annotations?.[OWNER_ANNOTATION] === ownerRef);
    const spec = sn?.spec as SriovNetworkSpec | undefined;
    const targetNs = spec?.networkNamespace || OPERATOR_NAMESPACE;
    // Gone, or moved to another namespace: its NADs go (cross-namespace, so no ownerReference GC).
    for (const nad of owned) {
      if (!sn || sn.metadata.deletionTimestamp || nad.metadata.namespace !== targetNs) this.api.delete(NAD, nad.metadata.namespace, nad.metadata.name as string);
    }
    if (!sn || !spec || sn.metadata.deletionTimestamp) return;
    const ns = this.api.tryGet(NAMESPACE, undefined, targetNs);
    if (!ns || ns.metadata.deletionTimestamp) return; // a later ADDED event brings us back
    const config = renderSriovCniConfig(name, spec);
    const annotations = { [RESOURCE_ANNOTATION]: `${RESOURCE_PREFIX}${spec.resourceName}`, [OWNER_ANNOTATION]: ownerRef };
    const cur = this.api.tryGet(NAD, targetNs, name);
    if (!cur) {
      this.api.create(NAD, targetNs, { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: targetNs, annotations }, spec: { config } });
      return;
    }
    const curSpec = cur.spec as { config?: string };
    if (curSpec?.config === config && cur.metadata.annotations?.[RESOURCE_ANNOTATION] === annotations[RESOURCE_ANNOTATION] && cur.metadata.annotations?.[OWNER_ANNOTATION] === ownerRef) return;
    cur.metadata.annotations = { ...cur.metadata.annotations, ...annotations };
    cur.spec = { ...(cur.spec as object), config };
    this.api.update(NAD, targetNs, name, cur);
  }
}
