// KubeVirt's virt-handler, for every node at once: it plumbs a scheduled VMI's interfaces by
// their binding, boots the guest (the agent process in the guest netns), reports
// `status.interfaces` as the guest agent would, and tears everything down on deletion.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { libvirtMac } from '../fabric/ipam.ts';
import { Netns } from '../fabric/netns.ts';
import type { Fabric, PodInfo, PreparedLauncher } from '../fabric/topo.ts';
import { selects, type FaultSelector, type Faults } from '../faults.ts';
import { bundleGuestAgent } from '../guest/bundle.ts';
import { GuestPool, type AgentProcess } from '../guest/pool.ts';
import { Spawner } from '../spawner.ts';
import { parseUserData } from '../guest/cloud-init.ts';
import type { GuestConfig, GuestInterfaceStatus, GuestUser } from '../guest/config.ts';
import type { AttachContext } from '../cni/plugin.ts';
import { CniAddError, type Multus, type ResolvedNetwork } from '../cni/multus.ts';
import { reportSandboxFailure, sandboxRetryDelayMs } from '../cni/pod-sandbox.ts';
import { Controller, keyOf, splitKey } from './controller.ts';
import { recordEvent } from './events.ts';
import {
  CREATED_BY_LABEL, VMI_FINALIZER, guestAgentEnabled, now, podNetwork, type CloudInitSource, type VmiInterface, type VmiInterfaceStatus, type VmiNetwork, type VmiSpec, type VmiStatus,
} from './kubevirt-types.ts';
import { mergeConditions } from './virt-controller.ts';

const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const SECRET = kindOf('v1', 'Secret') as Kind;
const COMPONENT = 'virt-handler';
const BOOT_TIMEOUT_MS = 30_000;

export interface ClusterNetwork {
  /** The cluster DNS service address guests resolve through. */
  dnsIP: string;
  clusterDomain: string;
}

/** What the handler keeps per running VMI. */
interface Domain {
  uid: string;
  pod: PodInfo;
  guestNetns: string;
  /** Where port-forward connects from inside the launcher: the guest's address behind the binding (none without a pod network). */
  guestIP?: string;
  /** Secondary interfaces, for status and teardown. */
  attached: AttachContext[];
  masq?: { name: string; mac: string };
  agent: AgentProcess;
  /** The guest agent's last interface report (its stdout, as the virtio-serial channel). */
  guestReport: GuestInterfaceStatus[];
  interfaces: VmiInterfaceStatus[];
  stopping?: boolean;
}

export class VirtHandler extends Controller {
  private readonly domains = new Map<string, Domain>();
  private readonly booting = new Map<string, Promise<void>>();
  /** When kubelet may retry a pod sandbox whose CNI ADD failed (per VMI key). */
  private readonly sandboxRetryAt = new Map<string, number>();

  private readonly pool: GuestPool<PreparedLauncher>;
  private readonly spawner: Spawner;

  private readonly refresher: NodeJS.Timeout;

  constructor(api: Registry, private readonly fabric: Fabric, private readonly stateDir: string, private readonly net: ClusterNetwork, private readonly faults: Faults, private readonly multus: Multus) {
    super(api, 'virt-handler');
    this.spawner = new Spawner(stateDir);
    this.pool = new GuestPool(bundleGuestAgent(stateDir), (cmd, env) => this.spawner.spawn(cmd, env), 3, { prepare: (g) => fabric.prepareLauncher(g), discard: (l) => fabric.discardLauncher(l) });
    this.pool.start();
    this.refresher = setInterval(() => this.refreshInterfaces(), 1000);
    faults.register('guest-agent-down', {
      description: 'the QEMU guest agent of the selected VMs stops answering: status.interfaces keeps only what the domain knows (no guest-reported addresses) (selector: namespace, vm, node)',
      scopes: ['namespace', 'vm', 'node'],
      set: async (spec) => { this.agentDown = spec.selector ?? {}; },
      clear: async () => { this.agentDown = undefined; },
    });
  }

  /** The guest-agent-down fault's scope, while it is set. */
  private agentDown: FaultSelector | undefined;

  /** Whether virt-handler hears from this VMI's guest agent. */
  private agentAnswers(vmi: KObject, dom: Domain): boolean {
    if (!guestAgentEnabled(vmi)) return false;
    const [namespace, vm] = [vmi.metadata.namespace as string, vmi.metadata.name as string];
    return !(this.agentDown && selects(this.agentDown, { namespace, vm, node: dom.pod.node, netns: dom.guestNetns }));
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === VMI ? [keyOf(e.object.metadata.namespace, e.object.metadata.name)] : [];
  }

  /** The running domain of a VMI, for port-forward. */
  domain(ns: string, name: string): Domain | undefined {
    return this.domains.get(keyOf(ns, name));
  }

  protected async reconcile(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const vmi = this.api.tryGet(VMI, ns, name);
    const dom = this.domains.get(key);
    if (!vmi || vmi.metadata.deletionTimestamp || (dom && dom.uid !== vmi.metadata.uid)) {
      this.sandboxRetryAt.delete(key);
      await this.booting.get(key);
      await this.teardown(key);
      if (vmi?.metadata.deletionTimestamp && vmi.metadata.finalizers?.includes(VMI_FINALIZER)) {
        vmi.metadata.finalizers = vmi.metadata.finalizers.filter((f) => f !== VMI_FINALIZER);
        this.api.update(VMI, ns, name, vmi);
      }
      return;
    }
    const status = (vmi.status ?? {}) as VmiStatus;
    if (status.phase === 'Scheduled' && status.nodeName && !dom && !this.booting.has(key)) {
      const wait = (this.sandboxRetryAt.get(key) ?? 0) - Date.now();
      if (wait > 0) { this.enqueue(key, wait); return; }
      // Boots run concurrently: a node agent does not wait for one VM before starting the next.
      const p = this.boot(key, vmi)
        .then(() => { this.sandboxRetryAt.delete(key); })
        .catch((err: Error) => (err instanceof CniAddError ? this.sandboxFailed(key, vmi, err) : this.fail(vmi, err)))
        .finally(() => this.booting.delete(key));
      this.booting.set(key, p);
    }
  }

  private async boot(key: string, vmi: KObject): Promise<void> {
    const ns = vmi.metadata.namespace as string;
    const name = vmi.metadata.name as string;
    const spec = vmi.spec as VmiSpec;
    const status = vmi.status as VmiStatus;
    const podObj = this.api.store.list(POD, ns).find((p) => p.metadata.labels?.[CREATED_BY_LABEL] === vmi.metadata.uid);
    if (!podObj) throw new Error('virt-launcher pod not found');
    const node = status.nodeName as string;
    const podKey = `${ns}.${podObj.metadata.name}`;
    const ifaces = spec.domain.devices?.interfaces ?? [];
    const podNet = podNetwork(spec);
    const masq = ifaces.find((i) => podNet && i.name === podNet.name && i.masquerade);
    if (!masq && podNet) throw new Error(`interface ${podNet.name}: only the masquerade binding is supported on the pod network by this sim`);
    // Multus loads every delegate before any is added: a missing NAD fails the sandbox at once, and costs no guest.
    const secondaries = this.resolveAttachments(ns, spec);
    const warm = await this.pool.take();
    // The guest's prepared launcher is plumbed for masquerade; a VM without it gets a plain pod.
    if (!masq && warm.prepared) await this.fabric.discardLauncher(warm.prepared);
    const pod = await this.fabric.addPod(node, podKey, { launcher: masq ? warm.prepared : undefined }).catch(async (e: Error) => {
      warm.agent.kill('SIGKILL');
      if (masq && warm.prepared) await this.fabric.discardLauncher(warm.prepared).catch(() => undefined);
      await new Netns(warm.netns).delete().catch(() => undefined);
      throw e;
    });
    const guestNetns = warm.netns;
    const leases: GuestConfig['dhcpLeases'] = {};
    const nics: GuestConfig['defaultInterfaces'] = [];
    // Guest NICs are named in interface order (eth0, eth1, ...), as virtio devices enumerate.
    const ifName = (i: VmiInterface) => `eth${ifaces.indexOf(i)}`;
    let guestIP: string | undefined;
    let launcherGateway: string | undefined;
    if (masq) {
      const mac = masq.macAddress ?? warm.prepared?.plan.mac ?? libvirtMac();
      const plan = await this.fabric.plumbMasquerade(pod, {
        netns: guestNetns, mac, precreated: true,
        ports: masq.ports?.map((p) => p.port),
        vmCidr4: podNet?.pod?.vmNetworkCIDR, vmCidr6: podNet?.pod?.vmIPv6NetworkCIDR,
      });
      leases[ifName(masq)] = { address: plan.guest.ipv4, gateway: plan.guest.gw4, mtu: this.fabric.mtu };
      nics.push({ name: ifName(masq), mac });
      guestIP = plan.guest.ipv4.split('/')[0];
      launcherGateway = plan.guest.gw4;
      // Every VM is reached by SSH first: have the port-forward listener up by then.
      this.fabric.openDial(pod.netns, guestIP, 22).catch((e: Error) => console.error(`virt-handler: port-forward listener for ${key}: ${e.message}`));
    }
    await this.faults.guestPlumbed({ namespace: ns, vm: name, node, netns: guestNetns, pod: masq ? pod : undefined, launcherGateway });
    const attached: AttachContext[] = [];
    const dom: Domain = { uid: vmi.metadata.uid as string, pod, guestNetns, guestIP, agent: warm.agent, guestReport: [], interfaces: [], attached, masq: masq && { name: masq.name, mac: nics[0].mac } };
    this.domains.set(key, dom);
    for (const { iface, network, resolved: { nad, plugin, config } } of secondaries) {
      const ctx: AttachContext = { vmi, iface, network, nad, config, node, pod, guestNetns, guestIfName: ifName(iface), mac: iface.macAddress ?? libvirtMac(), index: ifaces.indexOf(iface) };
      const r = await this.multus.attach(ctx, plugin);
      attached.push(ctx);
      if (r.dhcpLease) leases[ctx.guestIfName] = r.dhcpLease;
      nics.push({ name: ctx.guestIfName, mac: ctx.mac });
    }
    // The sandbox (with every CNI ADD) is up: kubelet starts the containers.
    this.setPodRunning(podObj, pod, node);
    const cfg = this.guestConfig(vmi, leases, nics);
    const agent = warm.agent;
    let booted!: () => void;
    const ready = new Promise<void>((resolve) => { booted = resolve; });
    warm.onReport((r) => {
      if (r.t === 'status') dom.guestReport = r.interfaces;
      else booted();
    });
    warm.boot(cfg);
    agent.on('exit', (code, sig) => {
      if (dom.stopping) return;
      const cur = this.api.tryGet(VMI, ns, name);
      if (cur && cur.metadata.uid === dom.uid && !cur.metadata.deletionTimestamp) {
        this.setVmiStatus(cur, { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'GuestCrashed', message: `guest exited (${sig ?? code}): ${warm.stderr().trim().split('\n').at(-1) ?? ''}`, lastProbeTime: null, lastTransitionTime: now() }] });
      }
    });
    await waitForBoot(ready, agent, BOOT_TIMEOUT_MS, () => warm.stderr().trim());

    dom.interfaces = this.interfaceStatus(vmi, dom);
    const fresh = this.api.tryGet(VMI, ns, name);
    if (!fresh || fresh.metadata.uid !== dom.uid) return;
    const agentOn = guestAgentEnabled(vmi);
    this.setVmiStatus(fresh, {
      phase: 'Running', interfaces: dom.interfaces,
      ...(agentOn ? { guestOSInfo: { id: 'fedora', name: 'Fedora Linux', prettyName: 'Fedora Linux (kvnet sim guest)', kernelRelease: 'kvnet' } } : {}),
      migrationMethod: 'BlockMigration', qosClass: 'Burstable', launcherContainerImageVersion: 'registry.redhat.io/container-native-virtualization/virt-launcher-rhel9:v4.17',
      conditions: [
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: now() },
        ...(agentOn ? [{ type: 'AgentConnected', status: 'True', lastProbeTime: null, lastTransitionTime: now() }] : []),
        { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: now() },
      ],
    });
    recordEvent(this.api, fresh, 'Normal', 'Started', 'VirtualMachineInstance started.', COMPONENT);
  }

  /** The VM's secondary networks, resolved by Multus in interface order (hot-unplugged ones skipped). */
  private resolveAttachments(ns: string, spec: VmiSpec): { iface: VmiInterface; network: VmiNetwork; resolved: ResolvedNetwork }[] {
    const out: { iface: VmiInterface; network: VmiNetwork; resolved: ResolvedNetwork }[] = [];
    for (const iface of spec.domain.devices?.interfaces ?? []) {
      const network = spec.networks?.find((n) => n.name === iface.name);
      if (!network?.multus || iface.state === 'absent') continue;
      const resolved = this.multus.resolve(ns, network.multus.networkName);
      // The binding is virt-handler's to set up once the pod runs; a VF without the sriov binding fails the VMI there.
      if (resolved.config.type === 'sriov' && !iface.sriov) throw new Error(`interface ${iface.name}: network ${network.multus.networkName} is an SR-IOV network and needs the sriov binding (sriov: {})`);
      out.push({ iface, network, resolved });
    }
    return out;
  }

  /** A failed CNI ADD: undo what was plumbed, let kubelet report it on the pod, and retry after its backoff. */
  private async sandboxFailed(key: string, vmi: KObject, err: CniAddError): Promise<void> {
    const dom = this.domains.get(key);
    await this.teardown(key);
    if (dom) await new Netns(dom.guestNetns).delete().catch(() => undefined);
    const podObj = this.api.store.list(POD, vmi.metadata.namespace).find((p) => p.metadata.labels?.[CREATED_BY_LABEL] === vmi.metadata.uid);
    const node = (vmi.status as VmiStatus).nodeName as string;
    const hostIP = ((this.api.tryGet(kindOf('v1', 'Node') as Kind, undefined, node)?.status as { addresses?: { type: string; address: string }[] })?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address;
    if (podObj) reportSandboxFailure(this.api, podObj, err, hostIP);
    const delay = sandboxRetryDelayMs();
    this.sandboxRetryAt.set(key, Date.now() + delay);
    this.enqueue(key, delay);
  }

  /**
   * `status.interfaces` as KubeVirt reports it: the pod interface with the pod IPs (no guest agent
   * needed), secondary interfaces with the addresses the guest agent sees, when there is one.
   */
  private interfaceStatus(vmi: KObject, dom: Domain): VmiInterfaceStatus[] {
    const agentOn = this.agentAnswers(vmi, dom);
    const report = agentOn ? dom.guestReport : [];
    const out: VmiInterfaceStatus[] = [];
    if (dom.masq) {
      const ips = [dom.pod.ipv4, ...(dom.pod.ipv6 ? [dom.pod.ipv6] : [])];
      out.push({ name: dom.masq.name, interfaceName: 'eth0', mac: dom.masq.mac, ipAddress: ips[0], ipAddresses: ips, infoSource: agentOn ? 'domain, guest-agent' : 'domain', queueCount: 1 });
    }
    for (const a of dom.attached) {
      const seen = report.find((r) => r.interfaceName === a.guestIfName);
      const ips = seen?.ipAddresses.map((c) => c.split('/')[0]) ?? [];
      out.push({
        name: a.iface.name, interfaceName: a.guestIfName, mac: seen?.mac || a.mac,
        ...(ips.length ? { ipAddress: ips[0], ipAddresses: ips } : {}),
        infoSource: agentOn ? 'domain, guest-agent, multus-status' : 'domain, multus-status', queueCount: 1,
      });
    }
    return out;
  }

  /** The guest agent's view changes (DHCP, hot plug, a user's `ip addr`): follow it into the VMI status. */
  private refreshInterfaces(): void {
    for (const [key, dom] of this.domains) {
      if (dom.stopping || !dom.attached.length) continue;
      const [ns, name] = splitKey(key);
      const vmi = this.api.tryGet(VMI, ns, name);
      if (!vmi || vmi.metadata.uid !== dom.uid || (vmi.status as VmiStatus | undefined)?.phase !== 'Running') continue;
      const next = this.interfaceStatus(vmi, dom);
      if (JSON.stringify(next) === JSON.stringify((vmi.status as VmiStatus).interfaces)) continue;
      dom.interfaces = next;
      this.setVmiStatus(vmi, { interfaces: next });
    }
  }

  private guestConfig(vmi: KObject, dhcpLeases: GuestConfig['dhcpLeases'], defaultInterfaces: GuestConfig['defaultInterfaces']): GuestConfig {
    const ns = vmi.metadata.namespace as string;
    const spec = vmi.spec as VmiSpec;
    const cloudInit = spec.volumes?.map((v) => v.cloudInitNoCloud ?? v.cloudInitConfigDrive).find(Boolean);
    const userData = this.cloudInitText(ns, cloudInit, 'userData');
    const networkData = this.cloudInitText(ns, cloudInit, 'networkData');
    const parsed = parseUserData(userData);
    // accessCredentials, as KubeVirt propagates them: noCloud/configDrive put the keys in the
    // datasource's public-keys, which cloud-init gives the default user; qemuGuestAgent writes them
    // into the authorized_keys of each listed user.
    const keys = [...parsed.authorizedKeys];
    const users: GuestUser[] = parsed.users.map((u) => ({ ...u }));
    for (const cred of spec.accessCredentials ?? []) {
      const secretName = cred.sshPublicKey?.source?.secret?.secretName;
      if (!secretName) continue;
      const secret = this.api.tryGet(SECRET, ns, secretName);
      const lines: string[] = [];
      for (const v of Object.values((secret?.data ?? {}) as Record<string, string>)) {
        lines.push(...Buffer.from(v, 'base64').toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean));
      }
      const agentUsers = cred.sshPublicKey?.propagationMethod?.qemuGuestAgent?.users;
      if (!agentUsers) { keys.push(...lines); continue; }
      for (const name of agentUsers) {
        let u = users.find((x) => x.name === name);
        if (!u) users.push(u = { name });
        u.authorizedKeys = [...(u.authorizedKeys ?? []), ...lines];
      }
    }
    const hostname = spec.hostname ?? (vmi.metadata.name as string);
    return {
      name: vmi.metadata.name as string, namespace: ns, hostname, sshPort: 22, sshListen: '::',
      authorizedKeys: keys, defaultUser: parsed.defaultUser, users,
      passwordAuth: parsed.sshPwauth ?? false, disableRoot: parsed.disableRoot,
      networkData, dhcpLeases, defaultInterfaces,
      resolvConf: `search ${ns}.svc.${this.net.clusterDomain} svc.${this.net.clusterDomain} ${this.net.clusterDomain}\nnameserver ${this.net.dnsIP}\noptions ndots:5\n`,
    };
  }

  private cloudInitText(ns: string, src: CloudInitSource | undefined, field: 'userData' | 'networkData'): string | undefined {
    if (!src) return undefined;
    if (src[field]) return src[field];
    const b64 = src[`${field}Base64`];
    if (b64) return Buffer.from(b64, 'base64').toString('utf8');
    const ref = field === 'userData' ? src.secretRef : src.networkDataSecretRef;
    if (!ref) return undefined;
    const data = (this.api.tryGet(SECRET, ns, ref.name)?.data ?? {}) as Record<string, string>;
    const v = data[field] ?? data[field.toLowerCase()];
    return v ? Buffer.from(v, 'base64').toString('utf8') : undefined;
  }

  private setPodRunning(podObj: KObject, pod: PodInfo, node: string): void {
    const cur = this.api.get(POD, podObj.metadata.namespace, podObj.metadata.name as string);
    const t = now();
    const hostIP = ((this.api.tryGet(kindOf('v1', 'Node') as Kind, undefined, node)?.status as { addresses?: { type: string; address: string }[] })?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address;
    cur.status = {
      phase: 'Running', hostIP, podIP: pod.ipv4, podIPs: [{ ip: pod.ipv4 }, ...(pod.ipv6 ? [{ ip: pod.ipv6 }] : [])], startTime: t,
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: t })),
      containerStatuses: [{ name: 'compute', ready: true, started: true, restartCount: 0, image: 'virt-launcher', imageID: 'virt-launcher', state: { running: { startedAt: t } } }],
    };
    this.api.update(POD, cur.metadata.namespace, cur.metadata.name as string, cur, { subresource: 'status' });
  }

  private fail(vmi: KObject, err: Error): void {
    const cur = this.api.tryGet(VMI, vmi.metadata.namespace, vmi.metadata.name as string);
    if (!cur || cur.metadata.uid !== vmi.metadata.uid || cur.metadata.deletionTimestamp) return;
    this.setVmiStatus(cur, { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'SyncFailed', message: err.message, lastProbeTime: null, lastTransitionTime: now() }] });
    recordEvent(this.api, cur, 'Warning', 'SyncFailed', err.message, COMPONENT);
  }

  private async teardown(key: string): Promise<void> {
    const dom = this.domains.get(key);
    if (!dom) return;
    this.domains.delete(key);
    this.faults.guestGone(dom.guestNetns);
    dom.stopping = true;
    if (dom.agent.exitCode === null && dom.agent.signalCode === null) {
      const exited = new Promise((r) => dom.agent.once('exit', r));
      // The guest's `unshare` ignores SIGTERM; its death sends SIGTERM to the guest's init (root.ts).
      dom.agent.kill('SIGKILL');
      await exited;
    }
    for (const a of dom.attached) await this.multus.detach(a).catch((e: Error) => console.error(`virt-handler: detach ${a.guestIfName}: ${e.message}`));
    await this.fabric.removePod(dom.pod.name);
  }

  private setVmiStatus(vmi: KObject, patch: Partial<VmiStatus>): void {
    const cur = (vmi.status ?? {}) as VmiStatus;
    const conditions = patch.conditions ? mergeConditions(cur.conditions ?? [], patch.conditions) : cur.conditions;
    vmi.status = { ...cur, ...patch, ...(conditions ? { conditions } : {}) };
    this.api.update(VMI, vmi.metadata.namespace, vmi.metadata.name as string, vmi, { subresource: 'status' });
  }

  async stopAll(): Promise<void> {
    this.stop();
    clearInterval(this.refresher);
    await this.pool.close();
    await Promise.all([...this.domains.keys()].map((k) => this.teardown(k).catch(() => undefined)));
    this.spawner.close();
  }
}

/** The agent's ready report, or why there will be none. */
async function waitForBoot(ready: Promise<void>, agent: AgentProcess, timeoutMs: number, stderr: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onExit: (() => void) | undefined;
  try {
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        onExit = () => reject(new Error(`guest agent exited: ${stderr()}`));
        if (agent.exitCode !== null || agent.signalCode !== null) onExit();
        agent.once('exit', onExit);
      }),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`guest did not boot within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
