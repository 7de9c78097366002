// The SR-IOV Network Operator's config daemon, for every node at once: it reports the node's PFs
// in its SriovNetworkNodeState `status.interfaces`, applies `spec.interfaces` (sriov_numvfs, MTU)
// with syncStatus InProgress → Succeeded | Failed (+ lastSyncError), and hands the resulting VF
// pools to the device plugin. At start it also labels the nodes with SR-IOV PFs, as Node Feature
// Discovery does on a real cluster.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import type { SriovFabric } from '../fabric/sriov.ts';
import { Controller, splitKey } from './controller.ts';
import type { Pool, SriovDevicePlugin } from './sriov-device-plugin.ts';
import { CAPABLE_LABEL, NODE_STATE, OPERATOR_NAMESPACE, type DesiredPf, type DiscoveredPf } from './sriov-network-operator.ts';

const NODE = kindOf('v1', 'Node') as Kind;
/** Stands in for drain and driver time, so InProgress is observable (a real sync takes minutes). */
const SYNC_SETTLE_MS = 300;
const DEFAULT_VF_MTU = 1500;

interface StateStatus {
  interfaces?: DiscoveredPf[];
  syncStatus?: 'InProgress' | 'Succeeded' | 'Failed';
  lastSyncError?: string;
}

export class SriovNetworkConfigDaemon extends Controller {
  /** node → the spec.interfaces last applied (JSON). */
  private readonly applied = new Map<string, string>();

  constructor(api: Registry, private readonly sriov: SriovFabric, private readonly plugin: SriovDevicePlugin) {
    super(api, 'sriov-network-config-daemon');
  }

  protected keysFor(e: StoreEvent): string[] {
    if (e.kind === NODE_STATE && e.object.metadata.namespace === OPERATOR_NAMESPACE) return [`${OPERATOR_NAMESPACE}/${e.object.metadata.name}`];
    return [];
  }

  protected override resync(): void {
    for (const node of this.sriov.nodes()) {
      const n = this.api.tryGet(NODE, undefined, node);
      if (!n || n.metadata.labels?.[CAPABLE_LABEL] === 'true') continue;
      n.metadata.labels = { ...n.metadata.labels, [CAPABLE_LABEL]: 'true' };
      this.api.update(NODE, undefined, node, n);
    }
    for (const s of this.api.store.list(NODE_STATE, OPERATOR_NAMESPACE)) this.enqueue(`${OPERATOR_NAMESPACE}/${s.metadata.name}`);
  }

  protected async reconcile(key: string): Promise<void> {
    const [, node] = splitKey(key);
    if (!this.sriov.nodes().includes(node)) return;
    const state = this.api.tryGet(NODE_STATE, OPERATOR_NAMESPACE, node);
    if (!state) return;
    const status = (state.status ?? {}) as StateStatus;
    if (!status.interfaces?.length) {
      this.setStatus(state, { interfaces: this.discover(node), syncStatus: 'Succeeded' });
      return;
    }
    const desired = ((state.spec as { interfaces?: DesiredPf[] })?.interfaces ?? []);
    const json = JSON.stringify(desired);
    if (this.applied.get(node) === json) return;
    this.applied.set(node, json);
    this.setStatus(state, { syncStatus: 'InProgress', lastSyncError: '' });
    await new Promise((r) => setTimeout(r, SYNC_SETTLE_MS));
    const error = this.check(node, desired);
    if (error) {
      this.setStatus(this.api.get(NODE_STATE, OPERATOR_NAMESPACE, node), { syncStatus: 'Failed', lastSyncError: error });
      return;
    }
    const pools = new Map<string, Pool>();
    for (const pf of this.sriov.pfsOf(node)) {
      const want = desired.find((d) => d.name === pf.name && d.pciAddress === pf.pciAddress);
      await this.sriov.setNumVfs(node, pf.name, want?.numVfs ?? 0, want?.mtu ?? DEFAULT_VF_MTU);
      for (const g of want?.vfGroups ?? []) {
        const [lo, hi] = g.vfRange.split('-').map(Number);
        const p = pools.get(g.resourceName) ?? { deviceType: g.deviceType, vfs: [] };
        for (let i = lo; i <= hi; i++) p.vfs.push({ pf: pf.name, index: i });
        pools.set(g.resourceName, p);
      }
    }
    this.plugin.setPools(node, pools);
    const fresh = this.api.tryGet(NODE_STATE, OPERATOR_NAMESPACE, node);
    if (fresh) this.setStatus(fresh, { interfaces: this.discover(node), syncStatus: 'Succeeded', lastSyncError: '' });
  }

  /** What the daemon refuses before touching the hardware. */
  private check(node: string, desired: DesiredPf[]): string | undefined {
    for (const d of desired) {
      const pf = this.sriov.pfsOf(node).find((p) => p.name === d.name);
      if (!pf) return `interface ${d.name} (${d.pciAddress}) not found on node ${node}`;
      if (d.numVfs > pf.totalvfs) return `failed to configure ${d.name} (${d.pciAddress}): numVfs ${d.numVfs} exceeds the device's sriov_totalvfs ${pf.totalvfs}`;
    }
    return undefined;
  }

  /** `status.interfaces` as the real daemon writes it (Vfs with their PCI addresses and MACs). */
  private discover(node: string): DiscoveredPf[] {
    return this.sriov.pfsOf(node).map((pf) => ({
      name: pf.name, vendor: pf.vendor, deviceID: pf.deviceID, pciAddress: pf.pciAddress, totalvfs: pf.totalvfs,
      mtu: pf.mtu, linkSpeed: pf.linkSpeed, linkType: 'ETH', driver: pf.driver, mac: pf.mac, numVfs: pf.numVfs,
      ...(pf.vfs.length ? {
        Vfs: pf.vfs.map((v) => ({
          vfID: v.index, name: v.guest ? undefined : v.name, pciAddress: v.pciAddress, vendor: pf.vendor, deviceID: pf.vfDeviceID,
          driver: 'iavf', mac: v.guest?.settings.mac ?? v.mac, mtu: v.mtu,
        })),
      } : {}),
    }));
  }

  private setStatus(state: KObject, patch: StateStatus): void {
    state.status = { ...(state.status as object), ...patch };
    this.api.update(NODE_STATE, OPERATOR_NAMESPACE, state.metadata.name as string, state, { subresource: 'status' });
  }
}
