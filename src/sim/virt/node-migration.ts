// The node side of a live migration (contract: node-side.ts), as the virt-handlers on the source
// and target nodes do it: the target prepares the launcher pod's sandbox and every NIC and listens
// for the memory stream (pkg/virt-handler/migration-target.go sets targetNodeAddress once its
// proxy listens); the source streams the memory, then the guest is cut over NIC by NIC and the
// source launcher released. The guest netns and its processes never move: only launchers swap.
// The memory stream runs between the two nodes' virt-handler pods (their migrationIpAddress:
// migration0's first global IP with a dedicated migration network, else the pod IP;
// cmd/virt-handler/virt-handler.go, FindMigrationIP in pkg/virt-handler/migration.go), so its bytes
// cross the node NIC that network rides: eth0 and the VXLAN overlay, or the migration NAD's master.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { VirtHandler } from '../controllers/virt-handler.ts';
import type { HandlerEndpoint } from '../controllers/virt-operator.ts';
import { run } from '../fabric/exec.ts';
import { NftTable } from '../fabric/nft-table.ts';
import { MACHINE_NETNS, type Fabric } from '../fabric/topo.ts';
import type { FaultHandler, FaultName } from '../faults.ts';
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
  private shared = false;
  /** migration-network-shared: where each migration prepared under it really sends (the target handler's pod IP). */
  private readonly sharedTo = new Map<string, string>();
  /** How long each cut-over took (ms), by migration uid: the guest's downtime floor. */
  readonly cutOverMs = new Map<string, number>();

  constructor(
    private readonly api: Registry, private readonly fabric: Fabric, private readonly handler: VirtHandler,
    /** The virt-handler pods (virt-operator's DaemonSet): where each node sends and receives migrations. */
    private readonly handlers: { endpoint(node: string): HandlerEndpoint | string },
  ) {}

  /** The node side's faults (registered by the live-migration module). */
  faultHandlers(): Partial<Record<FaultName, FaultHandler>> {
    return {
      'migration-stalled': {
        description: 'the migration target stops reading the memory stream: no progress, so migrations fail after progressTimeout and the guest stays on the source',
        set: async () => { this.stalled = true; for (const r of this.receivers.values()) r.setPaused(true); },
        clear: async () => { this.stalled = false; for (const r of this.receivers.values()) r.setPaused(false); },
      },
      'migration-network-down': {
        description: `migration traffic (TCP ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1} between nodes) is dropped on both paths it can take: the machine-network switch drops it on a dedicated migration network, the nodes drop it before the pod-network overlay; migrations make no progress and fail after progressTimeout`,
        set: async () => { this.networkDown = true; await Promise.all(this.downTables().map((t) => t.table.replace(t.body))); },
        clear: async () => { this.networkDown = false; await Promise.all(this.downTables().map((t) => t.table.delete())); },
      },
      'migration-network-shared': {
        description: 'with a dedicated migration network configured, migrations prepared while set send the memory stream to the target virt-handler pod\'s pod IP, over the pod network (node eth0 and the VXLAN overlay, the link tenant traffic rides), not to its migration0 address; targetNodeAddress still names migration0, as when the migration NAD\'s macvlan master is the primary NIC',
        set: async () => { this.shared = true; },
        clear: async () => { this.shared = false; },
      },
    };
  }

  /**
   * The fault's rules: on the switch (plain frames of the dedicated network's macvlans) and in each
   * node's forward path (pod-network packets before VXLAN hides their ports from the switch).
   */
  private downTables(): { table: NftTable; body: string }[] {
    return [
      { table: new NftTable(MACHINE_NETNS, 'bridge', NETWORK_DOWN_TABLE), body: networkDownBody('ether type ip ') },
      ...this.fabric.nodes.map((n) => ({ table: new NftTable(n.name, 'inet', NETWORK_DOWN_TABLE), body: networkDownBody('') })),
    ];
  }

  /** Where a node's virt-handler sends and receives migrations (its pod netns and migration IP). */
  migrationAddress(node: string): HandlerEndpoint {
    const e = this.handlers.endpoint(node);
    if (typeof e === 'string') throw new Error(e);
    return e;
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
    const target = { migrationUid: plan.migrationUid, launcher, prepared: new Map<string, unknown>(), added: [] };
    dom.target = target;
    try {
      // Everything the guest will need on the target is made now, so the cut-over only hands NICs over.
      await this.handler.prepareTargetNics(dom, vmi);
      if (dom.guestIP) openPortForward(this.fabric, launcher, dom.guestIP, `${plan.namespace}/${plan.vmiName} (target)`);
      this.handler.markPodRunning(podObj, launcher);
      const { netns, address, via } = this.migrationAddress(plan.targetNode);
      const podIp = this.shared && via === 'migration-network' ? await primaryIPv4(netns) : undefined;
      // Under migration-network-shared the proxy also answers on the pod IP, where the stream then goes.
      const rx = await MemoryReceiver.listen(netns, podIp ? '0.0.0.0' : address, PORT_FIRST + (this.portSeq++ % PORT_COUNT));
      if (podIp) this.sharedTo.set(plan.migrationUid, podIp);
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
    const source = this.migrationAddress(plan.sourceNode);
    const sharedTo = this.sharedTo.get(plan.migrationUid);
    const over = source.via === 'pod-network' || sharedTo ? 'the pod network' : 'the migration network';
    const to = sharedTo ?? targetNodeAddress;
    const path = () => (this.networkDown ? `migration traffic ${source.address} -> ${to}:${rx.port} over ${over} is dropped between the nodes` : undefined);
    try {
      await copyMemory(source.netns, to, rx, plan, onProgress, signal, path);
    } finally {
      this.sharedTo.delete(plan.migrationUid);
      this.receivers.delete(plan.migrationUid);
      rx.close();
    }
    const copied = Date.now() - started;
    const ms = await this.handler.cutOver(dom, plan.migrationUid);
    this.cutOverMs.set(plan.migrationUid, ms);
    console.error(`virt-handler: migration ${plan.migrationUid} of ${plan.namespace}/${plan.vmiName} ${plan.sourceNode} -> ${plan.targetNode}: ${plan.memoryBytes} bytes in ${copied} ms, cut-over ${ms} ms`);
  }

  async abortTarget(plan: MigrationPlan): Promise<void> {
    this.sharedTo.delete(plan.migrationUid);
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

/** The pod IP of a virt-handler pod netns (its eth0), where the pod network reaches it. */
async function primaryIPv4(netns: string): Promise<string> {
  const out = (await run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'], { netns })).stdout;
  const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
  if (!ip) throw new Error(`virt-handler pod netns ${netns} has no IPv4 on eth0: ${out.trim()}`);
  return ip;
}

function networkDownBody(match: string): string {
  return `  chain forward {\n    type filter hook forward priority -10; policy accept;\n    ${match}tcp dport ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1} counter drop\n  }`;
}
