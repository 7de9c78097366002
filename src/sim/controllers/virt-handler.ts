// KubeVirt's virt-handler, for every node at once: it plumbs a scheduled VMI's interfaces by
// their binding, boots the guest (the agent process in the guest netns), syncs a running domain
// with its VMI spec (hot unplug), reports `status.interfaces` as the guest agent would, and tears
// everything down on deletion.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { libvirtMac } from '../fabric/ipam.ts';
import { Netns } from '../fabric/netns.ts';
import type { Fabric, PodInfo } from '../fabric/topo.ts';
import { selects, type FaultSelector, type Faults } from '../faults.ts';
import { bundleGuestAgent } from '../guest/bundle.ts';
import { GuestPool, type AgentProcess } from '../guest/pool.ts';
import { Spawner } from '../spawner.ts';
import { parseUserData } from '../guest/cloud-init.ts';
import type { GuestConfig, GuestInterfaceStatus, GuestUser } from '../guest/config.ts';
import { CniAddError, type Multus, type ResolvedNetwork } from '../cni/multus.ts';
import type { Binding, Nic } from '../virt/binding.ts';
import { MasqueradeBinding, masqueradeGuestIP, type MasqueradePrepared } from '../virt/bindings/masquerade.ts';
import { MultusBinding, type MultusPrepared } from '../virt/bindings/multus.ts';
import { domainMigratable, RESERVED_NIC_PORTS, type Domain, type PlumbedNic } from '../virt/domain.ts';
import { openPortForward, startLauncher, stopLauncher, type Launcher } from '../virt/launcher.ts';
import { WarmLaunchers, type WarmLauncher } from '../virt/warm-launcher.ts';
import { reportSandboxFailure, sandboxRetryDelayMs } from '../cni/pod-sandbox.ts';
import { NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION } from './network-resources.ts';
import { Controller, keyOf, splitKey } from './controller.ts';
import { recordEvent } from './events.ts';
import {
  CREATED_BY_LABEL, VMI_FINALIZER, guestAgentEnabled, now, podNetwork, type CloudInitSource, type VmiInterface, type VmiInterfaceStatus, type VmiNetwork, type VmiSpec, type VmiStatus,
} from './kubevirt-types.ts';

type VmiCondition = NonNullable<VmiStatus['conditions']>[number];
import { StatusWriter } from '../virt/status-writer.ts';

const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const SECRET = kindOf('v1', 'Secret') as Kind;
const COMPONENT = 'virt-handler';
const BOOT_TIMEOUT_MS = 30_000;
/** KubeVirt's label on a migration target launcher pod (types.go MigrationJobLabel). */
export const MIGRATION_JOB_LABEL = 'kubevirt.io/migrationJobUID';

export interface ClusterNetwork {
  /** The cluster DNS service address guests resolve through. */
  dnsIP: string;
  clusterDomain: string;
}

export class VirtHandler extends Controller {
  private readonly domains = new Map<string, Domain>();
  private readonly booting = new Map<string, Promise<void>>();
  /** When kubelet may retry a pod sandbox whose CNI ADD failed (per VMI key). */
  private readonly sandboxRetryAt = new Map<string, number>();

  private readonly pool: GuestPool<WarmLauncher>;
  private readonly warmLaunchers: WarmLaunchers;
  private readonly spawner: Spawner;

  private readonly refresher: NodeJS.Timeout;
  private readonly status: StatusWriter;
  private readonly bridgeBinding: MultusBinding;
  private readonly sriovBinding: MultusBinding;

  constructor(api: Registry, private readonly fabric: Fabric, private readonly stateDir: string, private readonly net: ClusterNetwork, private readonly faults: Faults, private readonly multus: Multus, private readonly masquerade: MasqueradeBinding) {
    super(api, 'virt-handler');
    this.status = new StatusWriter(api);
    this.spawner = new Spawner(stateDir);
    this.warmLaunchers = new WarmLaunchers(fabric);
    this.pool = new GuestPool(bundleGuestAgent(stateDir), (cmd, env) => this.spawner.spawn(cmd, env), 3, this.warmLaunchers);
    this.pool.start();
    this.bridgeBinding = new MultusBinding('bridge', multus);
    this.sriovBinding = new MultusBinding('sriov', multus);
    this.refresher = setInterval(() => this.refreshInterfaces(), 1000);
  }

  /** The guest-agent-down fault's scope, while it is set. */
  private agentDown: FaultSelector | undefined;
  /** The hotplug-not-attached fault's scope, while it is set. */
  private notAttached: FaultSelector | undefined;

  /** The hotplug-not-attached fault (modules/kubevirt.ts): a migration leaves NICs added to the selected VMs' specs in the pod, out of the guest. */
  setHotplugNotAttached(sel: FaultSelector | undefined): void {
    this.notAttached = sel;
  }

  /** The guest-agent-down fault (modules/kubevirt.ts): the selected VMs' agents go silent; undefined: they answer. */
  setAgentDown(sel: FaultSelector | undefined): void {
    this.agentDown = sel;
  }

  /** Whether virt-handler hears from this VMI's guest agent. */
  private agentAnswers(vmi: KObject, dom: Domain): boolean {
    if (!guestAgentEnabled(vmi)) return false;
    const [namespace, vm] = [vmi.metadata.namespace as string, vmi.metadata.name as string];
    return !(this.agentDown && selects(this.agentDown, { namespace, vm, node: dom.active.pod.node, netns: dom.guestNetns }));
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === VMI ? [keyOf(e.object.metadata.namespace, e.object.metadata.name)] : [];
  }

  /** Where a VMI's port-forward goes: its active launcher's netns and the guest behind it. */
  domain(ns: string, name: string): { pod: PodInfo; guestIP?: string; guestNetns: string } | undefined {
    const d = this.domains.get(keyOf(ns, name));
    return d && { pod: d.active.pod, guestIP: d.guestIP, guestNetns: d.guestNetns };
  }

  /** The running domain of a VMI (the node side of a migration acts on it). */
  runningDomain(ns: string, name: string): Domain | undefined {
    const d = this.domains.get(keyOf(ns, name));
    return d && !d.stopping ? d : undefined;
  }

  protected async reconcile(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const vmi = this.api.tryGet(VMI, ns, name);
    const dom = this.domains.get(key);
    if (!vmi || vmi.metadata.deletionTimestamp || (dom && dom.vmiUid !== vmi.metadata.uid)) {
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
    // A migration in flight owns the domain's NICs; its cut-over writes the status, which brings the sync back.
    if (dom && status.phase === 'Running' && !dom.stopping && !dom.target && !this.booting.has(key)) {
      await this.sync(vmi, dom);
      return;
    }
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
    const podObj = this.launcherPod(vmi);
    if (!podObj) throw new Error('virt-launcher pod not found');
    const node = status.nodeName as string;
    const podNet = podNetwork(spec);
    const masq = this.podNic(spec);
    if (!masq && podNet) throw new Error(`interface ${podNet.name}: only the masquerade binding is supported on the pod network by this sim`);
    // Multus loads every delegate before any is added: a missing NAD fails the sandbox at once, and costs no guest.
    const secondaries = this.resolveAttachments(ns, spec);
    const warm = await this.pool.take();
    // The guest's prepared launcher is plumbed for masquerade; a VM without it gets a plain pod.
    if (!masq && warm.prepared) await this.warmLaunchers.discard(warm.prepared);
    const launcher = await startLauncher(this.fabric, podObj, node, masq ? warm.prepared : undefined).catch(async (e: Error) => {
      warm.agent.kill('SIGKILL');
      if (masq && warm.prepared) await this.warmLaunchers.discard(warm.prepared).catch(() => undefined);
      await new Netns(warm.netns).delete().catch(() => undefined);
      throw e;
    });
    const guestNetns = warm.netns;
    const leases: GuestConfig['dhcpLeases'] = {};
    const defaults: GuestConfig['defaultInterfaces'] = [];
    const dom: Domain = { vmiUid: vmi.metadata.uid as string, active: launcher, guestNetns, agent: warm.agent, guestReport: [], interfaces: [], nics: new Map(), unplugged: new Map(), pending: new Map(), nicPorts: 0 };
    this.domains.set(key, dom);
    // Boot: prepare every NIC on the launcher, then connect each into the guest (interface order).
    const nics = this.nicsOf(spec, masq ? [masq.iface, ...secondaries.map((x) => x.iface)] : secondaries.map((x) => x.iface), masq?.mac ?? warm.prepared?.plan.mac);
    dom.nicPorts = Math.max(RESERVED_NIC_PORTS, nics.length);
    const plumbed: PlumbedNic[] = [];
    for (const nic of nics) {
      const binding = this.bindingOf(nic);
      plumbed.push({ nic, binding, prepared: await binding.prepare(launcher, nic, vmi) });
    }
    let launcherGateway: string | undefined;
    for (const p of plumbed) {
      const c = await p.binding.connect(p.prepared, guestNetns);
      dom.nics.set(p.nic.ifName, p);
      if (c.lease) leases[p.nic.ifName] = c.lease;
      defaults.push({ name: p.nic.ifName, mac: p.nic.mac });
      if (p.binding === this.masquerade) {
        dom.guestIP = masqueradeGuestIP(p.prepared as MasqueradePrepared);
        dom.podNic = { name: p.nic.iface.name, mac: p.nic.mac };
        launcherGateway = c.lease?.gateway;
        // Every VM is reached by SSH first: have the port-forward listener up by then.
        if (dom.guestIP) openPortForward(this.fabric, launcher, dom.guestIP, key);
        await this.faults.guestPlumbed({ namespace: ns, vm: name, node, netns: guestNetns, pod: launcher.pod, launcherGateway });
      }
    }
    if (!masq) await this.faults.guestPlumbed({ namespace: ns, vm: name, node, netns: guestNetns });
    // The sandbox (with every CNI ADD) is up: kubelet starts the containers.
    this.setPodRunning(podObj, launcher);
    const cfg = this.guestConfig(vmi, leases, defaults);
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
      if (cur && cur.metadata.uid === dom.vmiUid && !cur.metadata.deletionTimestamp) {
        this.status.write(VMI, cur, { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'GuestCrashed', message: `guest exited (${sig ?? code}): ${warm.stderr().trim().split('\n').at(-1) ?? ''}`, lastProbeTime: null, lastTransitionTime: now() }] });
      }
    });
    await waitForBoot(ready, agent, BOOT_TIMEOUT_MS, () => warm.stderr().trim());

    dom.interfaces = this.interfaceStatus(vmi, dom);
    const fresh = this.api.tryGet(VMI, ns, name);
    if (!fresh || fresh.metadata.uid !== dom.vmiUid) return;
    const agentOn = guestAgentEnabled(vmi);
    this.status.write(VMI, fresh, {
      phase: 'Running', interfaces: dom.interfaces,
      ...(agentOn ? { guestOSInfo: { id: 'fedora', name: 'Fedora Linux', prettyName: 'Fedora Linux (kvnet sim guest)', kernelRelease: 'kvnet' } } : {}),
      migrationMethod: 'BlockMigration', qosClass: 'Burstable', launcherContainerImageVersion: 'registry.redhat.io/container-native-virtualization/virt-launcher-rhel9:v4.17',
      conditions: this.conditions(vmi, dom),
    });
    recordEvent(this.api, fresh, 'Normal', 'Started', 'VirtualMachineInstance started.', COMPONENT);
  }

  /** virt-handler's conditions on a running VMI, computed on every sync as upstream's updateVMIStatus does. */
  private conditions(vmi: KObject, dom: Domain): VmiCondition[] {
    const migratable = domainMigratable(dom);
    const t = now();
    return [
      { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: t },
      ...(guestAgentEnabled(vmi) ? [{ type: 'AgentConnected', status: 'True', lastProbeTime: null, lastTransitionTime: t }] : []),
      migratable === true
        ? { type: 'LiveMigratable', status: 'True', lastProbeTime: null, lastTransitionTime: t }
        : { type: 'LiveMigratable', status: 'False', reason: 'InterfaceNotLiveMigratable', message: migratable, lastProbeTime: null, lastTransitionTime: t },
    ];
  }

  /**
   * The spec changed on a running domain: a NIC now `state: absent` whose binding can be
   * hot-unplugged leaves the guest at once and stays prepared in its launcher until a migration
   * releases it with the source; an interface added to the spec waits for the next migration
   * (prepareTargetNics). A binding that cannot be hot-unplugged is left alone. Then the status:
   * what the guest has, and the conditions (their times move only when their status does).
   */
  private async sync(vmi: KObject, dom: Domain): Promise<void> {
    const ifaces = (vmi.spec as VmiSpec).domain.devices?.interfaces ?? [];
    for (const [ifName, p] of dom.nics) {
      if (p.binding.hotUnplug !== true || ifaces.find((i) => i.name === p.nic.iface.name)?.state !== 'absent') continue;
      await p.binding.disconnect(p.prepared, dom.guestNetns);
      dom.nics.delete(ifName);
      dom.unplugged.set(ifName, p);
    }
    dom.interfaces = this.interfaceStatus(vmi, dom);
    this.status.write(VMI, vmi, { interfaces: dom.interfaces, conditions: this.conditions(vmi, dom) });
  }

  /** A migration target gets every NIC the guest has, and the Multus ones added to the spec since (again, those the last one could not attach); not the unplugged ones. */
  async prepareTargetNics(dom: Domain, vmi: KObject): Promise<void> {
    const t = dom.target;
    if (!t) throw new Error('no migration target is prepared');
    for (const [ifName, p] of dom.nics) t.prepared.set(ifName, await p.binding.prepare(t.launcher, p.nic, vmi, p.prepared));
    const spec = vmi.spec as VmiSpec;
    const known = new Set([...dom.nics.values(), ...dom.unplugged.values()].map((p) => p.nic.iface.name));
    const added = (spec.domain.devices?.interfaces ?? []).filter((i) => !known.has(i.name) && i.state !== 'absent' && spec.networks?.some((n) => n.name === i.name && n.multus));
    for (const nic of this.nicsOf(spec, added)) {
      const binding = this.bindingOf(nic);
      t.added.push({ nic, binding, prepared: await binding.prepare(t.launcher, nic, vmi) });
    }
  }

  /** The VMI's first (boot) launcher pod: the one virt-controller made for it that is no migration target. */
  private launcherPod(vmi: KObject): KObject | undefined {
    return this.api.store.list(POD, vmi.metadata.namespace).find((p) => p.metadata.labels?.[CREATED_BY_LABEL] === vmi.metadata.uid && !p.metadata.labels?.[MIGRATION_JOB_LABEL]);
  }

  /** The pod-network interface when it has the masquerade binding. */
  private podNic(spec: VmiSpec): { iface: VmiInterface; mac?: string } | undefined {
    const podNet = podNetwork(spec);
    const iface = (spec.domain.devices?.interfaces ?? []).find((i) => podNet && i.name === podNet.name && i.masquerade);
    return iface && { iface, mac: iface.macAddress };
  }

  /** The NICs in interface order, named as the guest enumerates them (eth0, eth1, ...). */
  private nicsOf(spec: VmiSpec, ifaces: VmiInterface[], podMac?: string): Nic[] {
    const all = spec.domain.devices?.interfaces ?? [];
    return ifaces.map((iface) => {
      const index = all.indexOf(iface);
      const network = spec.networks?.find((n) => n.name === iface.name) as VmiNetwork;
      const mac = iface.macAddress ?? (network.pod ? podMac : undefined) ?? libvirtMac();
      return { iface, network, ifName: `eth${index}`, mac, index };
    });
  }

  private bindingOf(nic: Nic): Binding {
    if (nic.network.pod) return this.masquerade as Binding;
    return (nic.iface.sriov ? this.sriovBinding : this.bridgeBinding) as Binding;
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
    if (dom.podNic) {
      const pod = dom.active.pod;
      const ips = [pod.ipv4, ...(pod.ipv6 ? [pod.ipv6] : [])];
      out.push({ name: dom.podNic.name, interfaceName: 'eth0', mac: dom.podNic.mac, ipAddress: ips[0], ipAddresses: ips, infoSource: agentOn ? 'domain, guest-agent' : 'domain', queueCount: 1 });
    }
    for (const { nic } of secondaryNics(dom)) {
      const seen = report.find((r) => r.interfaceName === nic.ifName);
      const ips = seen?.ipAddresses.map((c) => c.split('/')[0]) ?? [];
      out.push({
        name: nic.iface.name, interfaceName: nic.ifName, mac: seen?.mac || nic.mac,
        ...(ips.length ? { ipAddress: ips[0], ipAddresses: ips } : {}),
        // guest-agent once the agent has reported the NIC (a hot-plugged one shows domain first).
        infoSource: seen ? 'domain, guest-agent, multus-status' : 'domain, multus-status', queueCount: 1,
      });
    }
    // Hot-unplugged (out of the domain) or hot-plugged without a port (never in it): in the pod only.
    for (const { nic } of [...dom.unplugged.values(), ...dom.pending.values()].sort((a, b) => a.nic.index - b.nic.index)) out.push({ name: nic.iface.name, infoSource: 'multus-status' });
    return out;
  }

  /** The guest agent's view changes (DHCP, hot plug, a user's `ip addr`): follow it into the VMI status. */
  private refreshInterfaces(): void {
    for (const [key, dom] of this.domains) {
      if (dom.stopping || !secondaryNics(dom).length) continue;
      const [ns, name] = splitKey(key);
      const vmi = this.api.tryGet(VMI, ns, name);
      if (!vmi || vmi.metadata.uid !== dom.vmiUid || (vmi.status as VmiStatus | undefined)?.phase !== 'Running') continue;
      const next = this.interfaceStatus(vmi, dom);
      if (JSON.stringify(next) === JSON.stringify((vmi.status as VmiStatus).interfaces)) continue;
      dom.interfaces = next;
      this.status.write(VMI, vmi, { interfaces: next });
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

  private setPodRunning(podObj: KObject, launcher: Launcher): void {
    const { pod, node } = launcher;
    this.writeNetworkStatus(podObj, pod);
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

  /**
   * Multus's network-status on the launcher pod once its sandbox is up: the cluster network, then
   * each attachment its networks annotation asked for, with the pod interface (pod<hash>).
   */
  private writeNetworkStatus(podObj: KObject, pod: PodInfo): void {
    const cur = this.api.get(POD, podObj.metadata.namespace, podObj.metadata.name as string);
    let asked: { name: string; namespace?: string; interface?: string }[] = [];
    try { asked = JSON.parse(cur.metadata.annotations?.[NETWORKS_ANNOTATION] ?? '[]') as typeof asked; } catch { asked = []; }
    const entries = [
      { name: 'ovn-kubernetes', interface: 'eth0', ips: [pod.ipv4, ...(pod.ipv6 ? [pod.ipv6] : [])], default: true, dns: {} },
      ...asked.map((a) => ({ name: `${a.namespace ?? cur.metadata.namespace}/${a.name}`, interface: a.interface, dns: {} })),
    ];
    cur.metadata.annotations = { ...cur.metadata.annotations, [NETWORK_STATUS_ANNOTATION]: JSON.stringify(entries, null, 2) };
    this.api.update(POD, cur.metadata.namespace, cur.metadata.name as string, cur);
  }

  private fail(vmi: KObject, err: Error): void {
    const cur = this.api.tryGet(VMI, vmi.metadata.namespace, vmi.metadata.name as string);
    if (!cur || cur.metadata.uid !== vmi.metadata.uid || cur.metadata.deletionTimestamp) return;
    this.status.write(VMI, cur, { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'SyncFailed', message: err.message, lastProbeTime: null, lastTransitionTime: now() }] });
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
    if (dom.target) await this.dropTarget(dom).catch((e: Error) => console.error(`virt-handler: migration target of ${key}: ${e.message}`));
    for (const p of dom.nics.values()) {
      await p.binding.disconnect(p.prepared, dom.guestNetns).catch((e: Error) => console.error(`virt-handler: detach ${p.nic.ifName}: ${e.message}`));
    }
    for (const p of [...dom.unplugged.values(), ...dom.pending.values()]) await p.binding.release(p.prepared).catch(() => undefined);
    await stopLauncher(this.fabric, dom.active);
    // The guest netns outlives its launchers (a migration swaps them): it goes with the domain.
    await new Netns(dom.guestNetns).delete().catch(() => undefined);
  }

  /** The target launcher's sandbox is up: kubelet reports the pod Running (a migration's target). */
  markPodRunning(podObj: KObject, launcher: Launcher): void {
    this.setPodRunning(podObj, launcher);
  }

  /**
   * A migration's cut-over: every NIC is handed over to the prepared target launcher, which becomes
   * the active one; then the source launcher is released with the NICs unplugged there, and NICs
   * added to the spec since the boot are connected. Returns how long the hand-overs took (ms), the
   * part of the guest's downtime the node side adds.
   */
  async cutOver(dom: Domain, migrationUid: string): Promise<number> {
    const t = dom.target;
    if (!t || t.migrationUid !== migrationUid) throw new Error(`migration ${migrationUid}: no prepared target`);
    const source = dom.active;
    const started = performance.now();
    for (const [ifName, p] of dom.nics) {
      const to = t.prepared.get(ifName);
      await p.binding.handover(p.prepared, to, dom.guestNetns);
      dom.nics.set(ifName, { ...p, prepared: to });
      // The source side is released once the NIC runs through the target.
      t.prepared.set(ifName, p.prepared);
    }
    const ms = Math.round(performance.now() - started);
    dom.active = t.launcher;
    dom.target = undefined;
    for (const [ifName, old] of t.prepared) await dom.nics.get(ifName)?.binding.release(old).catch(() => undefined);
    for (const p of [...dom.unplugged.values(), ...dom.pending.values()]) await p.binding.release(p.prepared).catch(() => undefined);
    dom.unplugged.clear();
    dom.pending.clear();
    await stopLauncher(this.fabric, source);
    const vmi = this.api.tryGet(VMI, source.namespace, this.vmiName(dom));
    const current = vmi && vmi.metadata.uid === dom.vmiUid ? vmi : undefined;
    // The added NICs are in the target pod (multus-status) before the guest has them.
    for (const p of t.added) dom.pending.set(p.nic.ifName, p);
    if (current && t.added.length) this.writeInterfaces(current, dom);
    if (current) await this.hotplug(current, dom, migrationUid);
    if (current) {
      const [ns, name] = [current.metadata.namespace as string, current.metadata.name as string];
      this.faults.guestGone(dom.guestNetns);
      await this.faults.guestPlumbed({ namespace: ns, vm: name, node: dom.active.node, netns: dom.guestNetns, pod: dom.podNic ? dom.active.pod : undefined, launcherGateway: dom.podNic ? this.launcherGateway(dom) : undefined });
      this.writeInterfaces(current, dom);
    }
    return ms;
  }

  /**
   * The guest gets the NICs its pod has and it lacks (their MAC, eth<index>), each on a free PCI
   * port; without one, libvirt's attach fails and virt-handler reports the sync error as a Warning
   * event (SyncFailed, pkg/virt-handler/vm.go), and the NIC stays in the pod only.
   */
  private async hotplug(vmi: KObject, dom: Domain, migrationUid: string): Promise<void> {
    const [namespace, vm] = [vmi.metadata.namespace as string, vmi.metadata.name as string];
    if (this.notAttached && selects(this.notAttached, { namespace, vm, node: dom.active.node, netns: dom.guestNetns })) return;
    for (const [ifName, p] of [...dom.pending].sort((a, b) => a[1].nic.index - b[1].nic.index)) {
      if (dom.nics.size >= dom.nicPorts) {
        recordEvent(this.api, vmi, 'Warning', 'SyncFailed', `failed to hot plug interface ${p.nic.iface.name}: libvirt failed to attach interface ${p.nic.iface.name}: internal error: No more available PCI slots`, COMPONENT);
        continue;
      }
      try {
        await p.binding.connect(p.prepared, dom.guestNetns);
        dom.pending.delete(ifName);
        dom.nics.set(ifName, p);
      } catch (e) {
        console.error(`virt-handler: hot plug ${ifName} after migration ${migrationUid}: ${(e as Error).message}`);
      }
    }
  }

  private writeInterfaces(vmi: KObject, dom: Domain): void {
    dom.interfaces = this.interfaceStatus(vmi, dom);
    this.status.write(VMI, vmi, { interfaces: dom.interfaces });
  }

  private vmiName(dom: Domain): string {
    for (const [key, d] of this.domains) if (d === dom) return splitKey(key)[1];
    throw new Error('domain not found');
  }

  private launcherGateway(dom: Domain): string | undefined {
    const pod = [...dom.nics.values()].find((n) => n.binding === this.masquerade);
    return (pod?.prepared as MasqueradePrepared | undefined)?.plan?.guest.gw4;
  }

  /** Release a prepared migration target: its NICs' target side, then its sandbox. */
  async dropTarget(dom: Domain): Promise<void> {
    const t = dom.target;
    if (!t) return;
    dom.target = undefined;
    for (const [ifName, prepared] of t.prepared) await dom.nics.get(ifName)?.binding.release(prepared).catch(() => undefined);
    for (const p of t.added) await p.binding.release(p.prepared).catch(() => undefined);
    await stopLauncher(this.fabric, t.launcher);
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

/** The domain's Multus NICs (every one but the pod network's), in interface order. */
function secondaryNics(d: Domain): PlumbedNic[] {
  return [...d.nics.values()].filter((p) => !p.nic.network.pod).sort((a, b) => a.nic.index - b.nic.index);
}
