// The node side of a live migration (contract: node-side.ts), as the virt-handlers on the source
// and target nodes do it: the target prepares the launcher pod's sandbox and every NIC and listens
// for the memory stream (pkg/virt-handler/migration-target.go sets targetNodeAddress once its
// proxy listens); the source streams the memory, then the guest is cut over NIC by NIC and the
// source launcher released. The guest netns and its processes never move: only launchers swap.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { VirtHandler } from '../controllers/virt-handler.ts';
import { NftTable } from '../fabric/nft-table.ts';
import { MACHINE_NETNS, type Fabric } from '../fabric/topo.ts';
import type { Faults } from '../faults.ts';
import { domainMigratable, type Domain } from './domain.ts';
import { openPortForward, startLauncher } from './launcher.ts';
import { copyMemory, MemoryReceiver } from './memory-copy.ts';
import type { MigrationPlan, MigrationProgress, NodeSide } from './node-side.ts';

const POD = kindOf('v1', 'Pod') as Kind;
/** The target proxies' ports (virt-handler's migration proxy takes free ports; the sim counts through a range). */
const PORT_FIRST = 41000;
const PORT_COUNT = 1000;
const NETWORK_DOWN_TABLE = 'kvnet_migration_down';

export class NodeMigration implements NodeSide {
  private readonly receivers = new Map<string, MemoryReceiver>();
  private portSeq = 0;
  private stalled = false;
  private networkDown = false;
  /** How long each cut-over took (ms), by migration uid: the guest's downtime floor. */
  readonly cutOverMs = new Map<string, number>();

  constructor(private readonly api: Registry, private readonly fabric: Fabric, private readonly handler: VirtHandler, faults: Faults) {
    faults.register('migration-stalled', {
      description: 'the migration target stops reading the memory stream: no progress, so migrations fail after progressTimeout and the guest stays on the source',
      set: async () => { this.stalled = true; for (const r of this.receivers.values()) r.setPaused(true); },
      clear: async () => { this.stalled = false; for (const r of this.receivers.values()) r.setPaused(false); },
    });
    faults.register('migration-network-down', {
      description: `the machine-network switch drops migration traffic (TCP ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1} between nodes): migrations make no progress and fail after progressTimeout`,
      set: async () => { this.networkDown = true; await this.downTable().replace(networkDownBody()); },
      clear: async () => { this.networkDown = false; await this.downTable().delete(); },
    });
  }

  private downTable(): NftTable {
    return new NftTable(MACHINE_NETNS, 'bridge', NETWORK_DOWN_TABLE);
  }

  /** The address a node's virt-handler receives migrations on: its machine-network IP (a dedicated migration network's migration0 address, later). */
  migrationAddress(node: string): string {
    return this.fabric.node(node).underlayIp;
  }

  private domain(plan: MigrationPlan): Domain {
    const d = this.handler.runningDomain(plan.namespace, plan.vmiName);
    if (!d || d.vmiUid !== plan.vmiUid) throw new Error(`VMI ${plan.namespace}/${plan.vmiName} (${plan.vmiUid}) is not running on ${plan.sourceNode}`);
    return d;
  }

  async prepareTarget(plan: MigrationPlan): Promise<{ targetNodeAddress: string }> {
    const dom = this.domain(plan);
    if (dom.target) throw new Error(`VMI ${plan.vmiName} already has a migration target (${dom.target.migrationUid})`);
    const podObj = this.api.get(POD, plan.namespace, plan.targetPod);
    const vmi = this.api.get(kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind, plan.namespace, plan.vmiName);
    const launcher = await startLauncher(this.fabric, podObj, plan.targetNode);
    const target = { migrationUid: plan.migrationUid, launcher, prepared: new Map<string, unknown>() };
    dom.target = target;
    try {
      // Everything the guest will need on the target is made now, so the cut-over only hands NICs over.
      for (const [ifName, p] of dom.nics) target.prepared.set(ifName, await p.binding.prepare(launcher, p.nic, vmi, p.prepared));
      if (dom.guestIP) openPortForward(this.fabric, launcher, dom.guestIP, `${plan.namespace}/${plan.vmiName} (target)`);
      this.handler.markPodRunning(podObj, launcher);
      const address = this.migrationAddress(plan.targetNode);
      const rx = await MemoryReceiver.listen(plan.targetNode, address, PORT_FIRST + (this.portSeq++ % PORT_COUNT));
      if (this.stalled) rx.setPaused(true);
      this.receivers.set(plan.migrationUid, rx);
      return { targetNodeAddress: address };
    } catch (e) {
      await this.handler.dropTarget(dom).catch(() => undefined);
      throw e;
    }
  }

  async migrate(plan: MigrationPlan, targetNodeAddress: string, onProgress: (p: MigrationProgress) => void, signal: AbortSignal): Promise<void> {
    const dom = this.domain(plan);
    const rx = this.receivers.get(plan.migrationUid);
    if (!rx || dom.target?.migrationUid !== plan.migrationUid) throw new Error(`migration ${plan.migrationUid}: the target is not prepared`);
    const started = Date.now();
    const path = () => (this.networkDown ? `migration traffic ${this.migrationAddress(plan.sourceNode)} -> ${targetNodeAddress}:${rx.port} is dropped on the machine network` : undefined);
    try {
      await copyMemory(plan.sourceNode, targetNodeAddress, rx, plan, onProgress, signal, path);
    } finally {
      this.receivers.delete(plan.migrationUid);
      rx.close();
    }
    const copied = Date.now() - started;
    const ms = await this.handler.cutOver(dom, plan.migrationUid);
    this.cutOverMs.set(plan.migrationUid, ms);
    console.error(`virt-handler: migration ${plan.migrationUid} of ${plan.namespace}/${plan.vmiName} ${plan.sourceNode} -> ${plan.targetNode}: ${plan.memoryBytes} bytes in ${copied} ms, cut-over ${ms} ms`);
  }

  async abortTarget(plan: MigrationPlan): Promise<void> {
    const rx = this.receivers.get(plan.migrationUid);
    this.receivers.delete(plan.migrationUid);
    rx?.close();
    const dom = this.handler.runningDomain(plan.namespace, plan.vmiName);
    if (dom?.target?.migrationUid === plan.migrationUid) await this.handler.dropTarget(dom);
  }

  migratable(namespace: string, vmiName: string): true | string {
    const d = this.handler.runningDomain(namespace, vmiName);
    return d ? domainMigratable(d) : `VMI ${namespace}/${vmiName} is not running`;
  }
}

function networkDownBody(): string {
  return `  chain forward {\n    type filter hook forward priority -10; policy accept;\n    ether type ip tcp dport ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1} counter drop\n  }`;
}
