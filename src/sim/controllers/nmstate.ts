// kubernetes-nmstate: a NodeNetworkConfigurationPolicy's desiredState is applied on every node its
// nodeSelector picks — linux-bridge (and ovs-bridge, modelled as a Linux bridge) interfaces with
// their ports, ethernet up/down/mtu, and `ovn.bridge-mappings` (localnet name → bridge). Each
// node's outcome is a NodeNetworkConfigurationEnactment; the policy is Available, or Degraded
// with the failing nodes' errors. NodeNetworkState reports what each node has.
// Desired state is validated in full before anything changes (nmstate rolls back a failed
// apply); deleting a policy leaves the nodes as they are, as nmstate does.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import { matchesLabelSelectorObject } from '../api/selectors.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { sh } from '../fabric/exec.ts';
import { EXTERNAL_BRIDGE } from '../fabric/machine-network.ts';
import type { NodeBridge } from '../fabric/node-bridges.ts';
import { ipLine } from '../fabric/line.ts';
import type { Fabric } from '../fabric/topo.ts';
import { Controller } from './controller.ts';
import { recordEvent } from './events.ts';
import { now } from './kubevirt-types.ts';

const NNCP = kindOf('nmstate.io/v1', 'NodeNetworkConfigurationPolicy') as Kind;
const NNS = kindOf('nmstate.io/v1beta1', 'NodeNetworkState') as Kind;
const NNCE = kindOf('nmstate.io/v1beta1', 'NodeNetworkConfigurationEnactment') as Kind;
const NODE = kindOf('v1', 'Node') as Kind;
const NMSTATE_VERSION = '2.2.37';
const REFRESH_MS = 5000;

interface DesiredInterface {
  name: string;
  type?: string;
  state?: 'up' | 'down' | 'absent' | 'ignore';
  mtu?: number;
  bridge?: { port?: { name: string }[] };
}
interface DesiredState {
  interfaces?: DesiredInterface[];
  ovn?: { 'bridge-mappings'?: { localnet: string; bridge?: string; state?: 'present' | 'absent' }[] };
}
interface Condition { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string; lastHeartbeatTime: string; lastTransitionTime: string }

export class Nmstate extends Controller {
  private readonly applied = new Map<string, string>();
  private readonly refresher: NodeJS.Timeout;

  constructor(api: Registry, private readonly fabric: Fabric) {
    super(api, 'nmstate');
    this.refresher = setInterval(() => this.fabric.nodes.forEach((n) => this.enqueue(`nns:${n.name}`)), REFRESH_MS);
    this.refresher.unref();
  }

  override stop(): void {
    clearInterval(this.refresher);
    super.stop();
  }

  protected keysFor(e: StoreEvent): string[] {
    if (e.kind === NNCP) return [`nncp:${e.object.metadata.name}`];
    // A new or relabelled node may match policies.
    if (e.kind === NODE && e.type !== 'DELETED') return [`nns:${e.object.metadata.name}`, ...this.api.store.list(NNCP).map((p) => `nncp:${p.metadata.name}`)];
    return [];
  }

  protected override resync(): void {
    for (const n of this.fabric.nodes) this.enqueue(`nns:${n.name}`);
    for (const p of this.api.store.list(NNCP)) this.enqueue(`nncp:${p.metadata.name}`);
  }

  protected async reconcile(key: string): Promise<void> {
    const [type, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (type === 'nns') await this.reportState(name);
    else await this.reconcilePolicy(name);
  }

  private async reconcilePolicy(name: string): Promise<void> {
    const policy = this.api.tryGet(NNCP, undefined, name);
    if (!policy || policy.metadata.deletionTimestamp) {
      this.applied.delete(name);
      return;
    }
    const nodes = this.api.store.list(NODE).filter((n) => matchesLabelSelectorObject({ matchLabels: (policy.spec as { nodeSelector?: Record<string, string> })?.nodeSelector ?? {} }, n.metadata.labels ?? {}));
    const names = nodes.map((n) => n.metadata.name as string).filter((n) => this.fabric.nodes.some((f) => f.name === n)).sort();
    const version = `${policy.metadata.uid}/${policy.metadata.generation ?? 1}/${names.join(',')}`;
    if (this.applied.get(name) === version) return;
    this.applied.set(name, version);
    const desired = ((policy.spec as { desiredState?: DesiredState })?.desiredState ?? {});

    this.setPolicyStatus(name, [cond('Progressing', 'True', 'ConfigurationProgressing', `Policy is progressing 0/${names.length} nodes finished`), cond('Available', 'Unknown', 'ConfigurationProgressing', ''), cond('Degraded', 'Unknown', 'ConfigurationProgressing', '')]);
    const failures: string[] = [];
    await Promise.all(names.map(async (node) => {
      this.setEnactment(policy, node, desired, [cond('Progressing', 'True', 'ConfigurationProgressing', 'Applying desired state'), cond('Available', 'Unknown', 'ConfigurationProgressing', ''), cond('Failing', 'Unknown', 'ConfigurationProgressing', '')]);
      try {
        await this.applyOn(node, desired);
        this.setEnactment(policy, node, desired, [cond('Available', 'True', 'SuccessfullyConfigured', 'successfully reconciled'), cond('Failing', 'False', 'SuccessfullyConfigured', ''), cond('Progressing', 'False', 'SuccessfullyConfigured', '')]);
      } catch (e) {
        const msg = `error reconciling NodeNetworkConfigurationPolicy on node ${node} at desired state apply: ${(e as Error).message}, rolling back desired state configuration`;
        failures.push(`${node}: ${(e as Error).message}`);
        this.setEnactment(policy, node, desired, [cond('Failing', 'True', 'FailedToConfigure', msg), cond('Available', 'False', 'FailedToConfigure', ''), cond('Progressing', 'False', 'FailedToConfigure', '')]);
      }
      await this.reportState(node);
    }));
    const cur = this.api.tryGet(NNCP, undefined, name);
    if (!cur || cur.metadata.uid !== policy.metadata.uid) return;
    if (failures.length) {
      const msg = `${failures.length}/${names.length} nodes failed to configure: ${failures.sort().join('; ')}`;
      this.setPolicyStatus(name, [cond('Degraded', 'True', 'FailedToConfigure', msg), cond('Available', 'False', 'FailedToConfigure', ''), cond('Progressing', 'False', 'FailedToConfigure', '')]);
      recordEvent(this.api, cur, 'Warning', 'ReconcileFailed', msg, 'nmstate-handler');
    } else {
      this.setPolicyStatus(name, [cond('Available', 'True', 'SuccessfullyConfigured', `${names.length}/${names.length} nodes successfully configured`), cond('Degraded', 'False', 'SuccessfullyConfigured', ''), cond('Progressing', 'False', 'SuccessfullyConfigured', '')]);
    }
  }

  /** Validate everything, then apply: a bad port leaves the node untouched. */
  private async applyOn(node: string, ds: DesiredState): Promise<void> {
    const b = this.fabric.bridges;
    const ifaces = ds.interfaces ?? [];
    const willExist = new Set(b.list(node).map((x) => x.name));
    for (const i of ifaces) {
      if (i.state === 'ignore') continue;
      if (i.state === 'absent') { willExist.delete(i.name); continue; }
      if (i.type === 'linux-bridge' || i.type === 'ovs-bridge') {
        const why = await b.missingPort(node, i.name, (i.bridge?.port ?? []).map((p) => p.name));
        if (why) throw new Error(why);
        willExist.add(i.name);
      } else if (i.type === 'ethernet') {
        if (!this.fabric.machineNet.isNic(node, i.name) && i.name !== 'eth0') throw new Error(`ethernet ${i.name}: no such NIC on ${node}`);
      } else {
        throw new Error(`interface ${i.name}: type ${i.type ?? '(none)'} is not supported by this cluster's nmstate (linux-bridge, ovs-bridge, ethernet)`);
      }
    }
    for (const m of ds.ovn?.['bridge-mappings'] ?? []) {
      if (m.state !== 'absent' && !willExist.has(m.bridge as string)) throw new Error(`ovn bridge-mapping ${m.localnet}: bridge ${m.bridge} does not exist on ${node}`);
    }
    for (const i of ifaces) {
      if (i.state === 'ignore') continue;
      if (i.state === 'absent') await b.remove(node, i.name);
      else if (i.type === 'linux-bridge' || i.type === 'ovs-bridge') await b.apply(node, i.name, i.type, (i.bridge?.port ?? []).map((p) => p.name), i.mtu);
      else await sh(`${ipLine`ip -n ${node} link set ${i.name}`}${i.mtu ? ipLine` mtu ${i.mtu}` : ''} ${i.state === 'down' ? 'down' : 'up'}`);
    }
    for (const m of ds.ovn?.['bridge-mappings'] ?? []) b.setMapping(node, m.localnet, m.state === 'absent' ? undefined : m.bridge);
  }

  /** NodeNetworkState: the node's NICs and bridges as nmstate reports them. */
  private async reportState(node: string): Promise<void> {
    if (!this.fabric.nodes.some((n) => n.name === node)) return;
    const links = await readLinks(node);
    const bridges = new Map(this.fabric.bridges.list(node).map((b) => [b.kname, b]));
    const nics = new Set(['eth0', ...this.fabric.machineNet.nodeNics(node).map((n) => n.name)]);
    const interfaces = links.filter((l) => nics.has(l.ifname) || bridges.has(l.ifname)).map((l) => {
      const br: NodeBridge | undefined = bridges.get(l.ifname);
      const v4 = (l.addr_info ?? []).filter((a) => a.family === 'inet');
      return {
        name: br?.name ?? l.ifname,
        type: br ? br.type : 'ethernet',
        state: l.operstate === 'DOWN' || !l.flags?.includes('UP') ? 'down' : 'up',
        mtu: l.mtu,
        'mac-address': (l.address ?? '').toUpperCase(),
        ipv4: v4.length ? { enabled: true, address: v4.map((a) => ({ ip: a.local, 'prefix-length': a.prefixlen })) } : { enabled: false },
        ...(br ? { bridge: { options: { stp: { enabled: false } }, port: br.ports.map((p) => ({ name: p })) } } : {}),
        ...(br?.name === EXTERNAL_BRIDGE ? { description: 'OpenShift external bridge (an OVS bridge on a real node)' } : {}),
      };
    });
    const currentState = { interfaces, ovn: { 'bridge-mappings': this.fabric.bridges.mappingsOf(node) } };
    const cur = this.api.tryGet(NNS, undefined, node);
    if (cur && JSON.stringify((cur.status as { currentState?: unknown })?.currentState) === JSON.stringify(currentState)) return;
    const nodeObj = this.api.tryGet(NODE, undefined, node);
    const obj = cur ?? this.api.create(NNS, undefined, {
      apiVersion: 'nmstate.io/v1beta1', kind: 'NodeNetworkState',
      metadata: { name: node, ...(nodeObj ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: nodeObj.metadata.uid as string }] } : {}) },
    });
    obj.status = { currentState, lastSuccessfulUpdateTime: now(), handlerNmstateVersion: NMSTATE_VERSION, hostNetworkManagerVersion: '1.46.0' };
    this.api.update(NNS, undefined, node, obj, { subresource: 'status' });
  }

  private setPolicyStatus(name: string, conditions: Condition[]): void {
    const p = this.api.tryGet(NNCP, undefined, name);
    if (!p) return;
    const prev = ((p.status as { conditions?: Condition[] })?.conditions ?? []);
    p.status = { ...(p.status as object), conditions: keepTransitions(prev, conditions), lastUnavailableNodeCountUpdate: now() };
    this.api.update(NNCP, undefined, name, p, { subresource: 'status' });
  }

  private setEnactment(policy: KObject, node: string, desired: DesiredState, conditions: Condition[]): void {
    const name = `${node}.${policy.metadata.name}`;
    let e = this.api.tryGet(NNCE, undefined, name);
    if (!e) {
      e = this.api.create(NNCE, undefined, {
        apiVersion: 'nmstate.io/v1beta1', kind: 'NodeNetworkConfigurationEnactment',
        metadata: {
          name, labels: { 'nmstate.io/node': node, 'nmstate.io/policy': policy.metadata.name as string },
          ownerReferences: [{ apiVersion: 'nmstate.io/v1', kind: 'NodeNetworkConfigurationPolicy', name: policy.metadata.name as string, uid: policy.metadata.uid as string }],
        },
      });
    }
    const prev = ((e.status as { conditions?: Condition[] })?.conditions ?? []);
    e.status = { desiredState: desired, policyGeneration: policy.metadata.generation ?? 1, conditions: keepTransitions(prev, conditions) };
    this.api.update(NNCE, undefined, name, e, { subresource: 'status' });
  }
}

function cond(type: string, status: Condition['status'], reason: string, message: string): Condition {
  const t = now();
  return { type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t };
}

/** lastTransitionTime moves only when a condition's status does. */
function keepTransitions(prev: Condition[], next: Condition[]): Condition[] {
  return next.map((c) => {
    const p = prev.find((x) => x.type === c.type);
    return p && p.status === c.status ? { ...c, lastTransitionTime: p.lastTransitionTime } : c;
  });
}

interface IpLink { ifname: string; address?: string; mtu: number; operstate: string; flags?: string[]; addr_info?: { family: string; local: string; prefixlen: number }[] }

async function readLinks(node: string): Promise<IpLink[]> {
  const r = await sh(ipLine`ip -n ${node} -j addr show`);
  return JSON.parse(r.stdout || '[]') as IpLink[];
}
