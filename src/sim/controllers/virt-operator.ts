// virt-operator's part the sim needs: the virt-handler DaemonSet in openshift-cnv, one pod per node
// on the pod network, and — with KubeVirt spec.configuration.migrations.network — the Multus
// annotation `<nad>@migration0` on its template (kubevirt/kubevirt
// pkg/virt-operator/resource/generate/components/daemonsets.go). The network is part of the
// deployment ID (pkg/virt-operator/util/config.go), so changing it rolls the pods: one node at a
// time, the next only once the new pod is Ready (a canary with maxUnavailable=1,
// processCanaryUpgrade in pkg/virt-operator/resource/apply/apps.go). This controller is also the
// kubelet of those pods: it makes each sandbox (a real pod netns with its pod IP, migration0 through
// Multus) and writes the pod's status and network-status annotation.
//
// A NAD that does not exist fails the sandbox (Multus NoNetworkFound, kubelet FailedCreatePodSandBox,
// retried with kubelet's backoff): the rollout waits forever, one node without a handler. A
// migration0 without an address makes virt-handler panic at start-up (FindMigrationIP,
// pkg/virt-handler/migration.go): CrashLoopBackOff, and virt-operator's "rollout failed" event.
// The KubeVirt CR's conditions follow pkg/virt-operator/util/client.go (UpdateConditionsAvailable,
// UpdateConditionsUpdating). Not modelled: other components, image versions, node selectors/taints.
import { createHash, randomBytes } from 'node:crypto';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { CniAddError, type Multus, type ResolvedNetwork } from '../cni/multus.ts';
import { isPodCniPlugin, type PodAttachContext, type PodAttachResult } from '../cni/macvlan.ts';
import { reportSandboxFailure, sandboxRetryDelayMs } from '../cni/pod-sandbox.ts';
import type { Fabric, PodInfo } from '../fabric/topo.ts';
import { KUBEVIRT_CR } from '../virt/migration-controller.ts';
import { type Condition, StatusWriter, now } from '../virt/status-writer.ts';
import { KUBEVIRT_VERSION } from '../cluster.ts';
import { Controller } from './controller.ts';
import { recordEvent } from './events.ts';

const POD = kindOf('v1', 'Pod') as Kind;
const NODE = kindOf('v1', 'Node') as Kind;
const DAEMONSET = kindOf('apps/v1', 'DaemonSet') as Kind;
const KUBEVIRT = kindOf('kubevirt.io/v1', 'KubeVirt') as Kind;
const NAD = kindOf('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition') as Kind;
const NS = KUBEVIRT_CR.namespace;
export const VIRT_HANDLER = 'virt-handler';
/** v1.MigrationInterfaceName. */
export const MIGRATION_INTERFACE = 'migration0';
export { NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION } from './network-resources.ts';
import { NETWORKS_ANNOTATION, NETWORK_STATUS_ANNOTATION } from './network-resources.ts';
const HANDLER_LABELS = { 'kubevirt.io': VIRT_HANDLER, 'prometheus.kubevirt.io': 'true' };
const IMAGE = 'registry.redhat.io/container-native-virtualization/virt-handler-rhel9:v4.17';
/** kubelet's container restart backoff: 10 s doubling to 5 min (pkg/kubelet/kubelet.go). */
const CRASH_BACKOFF_MS = 10_000;
const CRASH_BACKOFF_MAX_MS = 300_000;

/** A node's handler as its kubelet runs it. */
interface Handler {
  uid: string;
  name: string;
  node: string;
  /** The sandbox, once made. */
  pod?: PodInfo;
  migration?: { resolved: ResolvedNetwork; ctx: PodAttachContext; result: PodAttachResult };
  state: 'ready' | 'sandbox-failed' | 'crash-loop';
  restarts: number;
}

/** A DaemonSet's pod template, the parts this one sets. */
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Where a node's virt-handler receives (and sends) migrations: its pod netns and its migration IP. */
export interface HandlerEndpoint {
  netns: string;
  address: string;
  /** The NIC of the node the stream rides: eth0 (pod network) or the migration NAD's master. */
  via: 'pod-network' | 'migration-network';
}

export class VirtOperator extends Controller {
  private readonly handlers = new Map<string, Handler>(); // by pod uid
  private readonly status: StatusWriter;

  constructor(api: Registry, private readonly fabric: Fabric, private readonly multus: Multus) {
    super(api, 'virt-operator');
    this.status = new StatusWriter(api);
  }

  protected keysFor(e: StoreEvent): string[] {
    const m = e.object.metadata;
    if (e.kind === KUBEVIRT && m.name === KUBEVIRT_CR.name) return ['install'];
    if (e.kind === NODE) return ['install'];
    if (m.namespace !== NS) return [];
    if (e.kind === DAEMONSET && m.name === VIRT_HANDLER) return ['install'];
    if (e.kind === NAD) return ['install'];
    if (e.kind === POD && m.labels?.['kubevirt.io'] === VIRT_HANDLER && (e.type === 'DELETED' || !!m.deletionTimestamp)) return ['install'];
    return [];
  }

  protected override resync(): void {
    this.enqueue('install');
  }

  /** The migration endpoint of `node`'s ready virt-handler (its migrationIpAddress), or why there is none. */
  endpoint(node: string): HandlerEndpoint | string {
    const h = [...this.handlers.values()].find((x) => x.node === node && x.state === 'ready' && x.pod);
    if (!h?.pod) return `no ready virt-handler pod on node ${node}`;
    const m = h.migration?.result.ips.find((ip) => !ip.includes(':') && !ip.startsWith('169.254.')) ?? h.migration?.result.ips[0];
    return m ? { netns: h.pod.netns, address: m, via: 'migration-network' } : { netns: h.pod.netns, address: h.pod.ipv4, via: 'pod-network' };
  }

  /** The configured migration network (KubeVirt spec.configuration.migrations.network). */
  network(): string | undefined {
    const kv = this.api.store.get(KUBEVIRT, NS, KUBEVIRT_CR.name);
    const n = (kv?.spec as { configuration?: { migrations?: { network?: string } } } | undefined)?.configuration?.migrations?.network;
    return n || undefined;
  }

  protected async reconcile(): Promise<{ requeueAfterMs?: number } | void> {
    const network = this.network();
    const template = handlerTemplate(network);
    const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
    const ds = this.ensureDaemonSet(template);
    if (!ds) return;
    // What the kubelet saw go: a deleted pod's sandbox is torn down.
    for (const [uid, h] of this.handlers) {
      const p = this.api.store.get(POD, NS, h.name);
      if (!p || p.metadata.uid !== uid || p.metadata.deletionTimestamp) await this.teardown(uid, p);
    }
    const nodes = this.fabric.nodes.map((n) => n.name).filter((n) => this.api.store.get(NODE, undefined, n));
    const podOf = (node: string) => this.api.store.list(POD, NS).find((p) => p.metadata.labels?.['kubevirt.io'] === VIRT_HANDLER && (p.spec as { nodeName?: string }).nodeName === node && !p.metadata.deletionTimestamp);
    const current = (p: KObject) => p.metadata.labels?.['controller-revision-hash'] === hash;
    // The rolling update: with every node's handler Ready, the first outdated pod is replaced.
    const ready = (p: KObject | undefined) => !!p && this.handlers.get(p.metadata.uid as string)?.state === 'ready';
    // An outdated pod that is not available goes first, outside maxUnavailable (the DaemonSet
    // controller's rollingUpdate in pkg/controller/daemon/update.go does the same).
    for (const p of nodes.map(podOf)) {
      if (p && !current(p) && !ready(p)) { this.api.delete(POD, NS, p.metadata.name as string); await this.teardown(p.metadata.uid as string, undefined); }
    }
    if (nodes.every((n) => ready(podOf(n)))) {
      const old = nodes.map(podOf).find((p) => p && !current(p));
      if (old) {
        this.api.delete(POD, NS, old.metadata.name as string);
        await this.teardown(old.metadata.uid as string, undefined);
      }
    }
    for (const n of nodes) if (!podOf(n)) this.createPod(ds, template, hash, n);
    // The kubelet: sandboxes for pods that have none yet, retries for failed ones.
    let retry: number | undefined;
    for (const n of nodes) {
      const p = podOf(n) as KObject;
      const h = this.handlers.get(p.metadata.uid as string);
      if (h?.state === 'ready') continue;
      if (h?.state === 'crash-loop') { retry = Math.min(retry ?? Infinity, this.crash(p, h)); continue; }
      const ok = await this.startPod(p, n, network);
      if (!ok) retry = Math.min(retry ?? Infinity, sandboxRetryDelayMs());
    }
    this.writeStatus(ds, nodes, podOf, current);
    if (retry !== undefined) return { requeueAfterMs: retry };
  }

  private ensureDaemonSet(template: PodTemplate): KObject | undefined {
    const have = this.api.store.get(DAEMONSET, NS, VIRT_HANDLER);
    if (!have) {
      return this.api.create(DAEMONSET, NS, {
        apiVersion: 'apps/v1', kind: 'DaemonSet',
        metadata: { name: VIRT_HANDLER, namespace: NS, labels: { 'kubevirt.io': VIRT_HANDLER, 'app.kubernetes.io/managed-by': 'virt-operator' } },
        spec: {
          selector: { matchLabels: { 'kubevirt.io': VIRT_HANDLER } },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
          template,
        },
      });
    }
    // virt-operator owns the spec: an edit is put back (its reconcile of the install strategy).
    if (JSON.stringify((have.spec as { template?: unknown }).template) === JSON.stringify(template)) return have;
    const next = structuredClone(have);
    next.spec = { ...(next.spec as object), template };
    return this.api.update(DAEMONSET, NS, VIRT_HANDLER, next);
  }

  private createPod(ds: KObject, t: PodTemplate, hash: string, node: string): void {
    this.api.create(POD, NS, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: `${VIRT_HANDLER}-${randomBytes(3).toString('hex').slice(0, 5)}`, namespace: NS,
        labels: { ...t.metadata.labels, 'controller-revision-hash': hash, 'pod-template-generation': String(ds.metadata.generation ?? 1) },
        ...(t.metadata.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: VIRT_HANDLER, uid: ds.metadata.uid as string, controller: true, blockOwnerDeletion: true }],
      },
      // The DaemonSet controller pins each pod to its node (it sets nodeName here; a real one uses node affinity).
      spec: { ...t.spec, nodeName: node },
    });
  }

  /** The pod sandbox: netns and pod IP, then migration0 through Multus; false when it failed (retried). */
  private async startPod(podObj: KObject, node: string, network: string | undefined): Promise<boolean> {
    const uid = podObj.metadata.uid as string;
    const name = podObj.metadata.name as string;
    const h: Handler = this.handlers.get(uid) ?? { uid, name, node, state: 'sandbox-failed', restarts: 0 };
    this.handlers.set(uid, h);
    const hostIP = this.fabric.node(node).underlayIp;
    const annotated = parseNetworks(podObj.metadata.annotations?.[NETWORKS_ANNOTATION]);
    let resolved: ResolvedNetwork | undefined;
    try {
      if (annotated) {
        resolved = this.multus.resolve(NS, annotated.network);
        if (!isPodCniPlugin(resolved.plugin)) {
          throw new CniAddError('add', `error adding container to network "${resolved.config.name ?? annotated.network}": the sim's ${resolved.plugin.type} plugin does not plumb pods`, resolved.config.name);
        }
      }
      h.pod = h.pod ?? await this.fabric.addPod(node, name);
      if (annotated && resolved && !h.migration) {
        const ctx: PodAttachContext = { nad: resolved.nad, config: resolved.config, node, netns: h.pod.netns, ifName: annotated.ifName, podRef: `${NS}/${name}`, podUid: uid };
        const plugin = resolved.plugin;
        if (!isPodCniPlugin(plugin)) throw new Error('unreachable');
        const result = await plugin.attachPod(ctx).catch((e: Error) => {
          throw new CniAddError('add', `error adding container to network "${resolved?.config.name ?? annotated.network}": ${e.message}`, resolved?.config.name);
        });
        h.migration = { resolved, ctx, result };
      }
    } catch (e) {
      if (!(e instanceof CniAddError)) throw e;
      // No sandbox without every network: what was made goes, and the kubelet retries.
      if (h.pod) await this.fabric.removePod(name).catch(() => undefined);
      h.pod = undefined;
      h.state = 'sandbox-failed';
      reportSandboxFailure(this.api, podObj, e, hostIP);
      return false;
    }
    this.writeNetworkStatus(podObj, h);
    if (network && h.migration && h.migration.result.ips.length === 0) {
      h.state = 'crash-loop';
      this.crash(podObj, h);
      return true;
    }
    h.state = 'ready';
    this.setRunning(podObj, h.pod, hostIP);
    return true;
  }

  /** virt-handler panics at start-up: the container restarts with kubelet's backoff; returns the wait. */
  private crash(podObj: KObject, h: Handler): number {
    h.restarts++;
    const pod = this.api.tryGet(POD, NS, h.name);
    if (!pod || pod.metadata.uid !== h.uid) return CRASH_BACKOFF_MS;
    const backoff = Math.min(CRASH_BACKOFF_MS * 2 ** (h.restarts - 1), CRASH_BACKOFF_MAX_MS);
    const t = now();
    const why = `migration0 present but doesn't have an IP`;
    const unready = { status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${VIRT_HANDLER}]`, lastProbeTime: null, lastTransitionTime: t };
    pod.status = {
      phase: 'Running', hostIP: this.fabric.node(h.node).underlayIp, podIP: h.pod?.ipv4, podIPs: h.pod ? [{ ip: h.pod.ipv4 }, ...(h.pod.ipv6 ? [{ ip: h.pod.ipv6 }] : [])] : [],
      startTime: (pod.status as { startTime?: string } | undefined)?.startTime ?? t,
      conditions: [{ type: 'Initialized', status: 'True', lastTransitionTime: t }, { type: 'Ready', ...unready }, { type: 'ContainersReady', ...unready }, { type: 'PodScheduled', status: 'True', lastTransitionTime: t }],
      containerStatuses: [{
        name: VIRT_HANDLER, ready: false, started: false, restartCount: h.restarts - 1, image: IMAGE, imageID: IMAGE,
        state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${VIRT_HANDLER} pod=${h.name}_${NS}(${h.uid})` } },
        lastState: { terminated: { exitCode: 2, reason: 'Error', message: why, startedAt: t, finishedAt: t } },
      }],
    };
    this.api.update(POD, NS, h.name, pod, { subresource: 'status' });
    recordEvent(this.api, pod, 'Warning', 'BackOff', `Back-off restarting failed container ${VIRT_HANDLER} in pod ${h.name}_${NS}(${h.uid})`, 'kubelet');
    const kv = this.api.store.get(KUBEVIRT, NS, KUBEVIRT_CR.name);
    // The event's text is virt-operator's; its reason name is the sim's (not verified upstream).
    if (kv && h.restarts === 1) recordEvent(this.api, kv, 'Warning', 'RolloutFailed', `daemonSet ${VIRT_HANDLER} rollout failed`, 'virt-operator');
    return backoff;
  }

  private async teardown(uid: string, pod: KObject | undefined): Promise<void> {
    const h = this.handlers.get(uid);
    if (!h) return;
    this.handlers.delete(uid);
    if (h.migration) {
      const plugin = h.migration.resolved.plugin;
      if (isPodCniPlugin(plugin)) await plugin.detachPod(h.migration.ctx).catch(() => undefined);
    }
    if (h.pod) await this.fabric.removePod(h.name);
    // A pod marked for deletion is gone once its sandbox is (no finalizers on these pods).
    if (pod?.metadata.deletionTimestamp && this.api.store.get(POD, NS, h.name)) this.api.delete(POD, NS, h.name);
  }

  /** Multus's record of the pod's interfaces (the default network first), as virt-operator reads them back. */
  private writeNetworkStatus(podObj: KObject, h: Handler): void {
    const pod = this.api.tryGet(POD, NS, h.name);
    if (!pod || pod.metadata.uid !== h.uid || !h.pod) return;
    const entries: Record<string, unknown>[] = [{ name: 'ovn-kubernetes', interface: 'eth0', ips: [h.pod.ipv4, ...(h.pod.ipv6 ? [h.pod.ipv6] : [])], mac: h.pod.mac, default: true, dns: {} }];
    if (h.migration) {
      const nad = h.migration.resolved.nad.metadata;
      entries.push({ name: `${nad.namespace}/${nad.name}`, interface: h.migration.result.interface, ...(h.migration.result.ips.length ? { ips: h.migration.result.ips } : {}), mac: h.migration.result.mac, dns: {} });
    }
    pod.metadata.annotations = { ...pod.metadata.annotations, [NETWORK_STATUS_ANNOTATION]: JSON.stringify(entries, null, 2) };
    this.api.update(POD, NS, h.name, pod);
    void podObj;
  }

  private setRunning(podObj: KObject, info: PodInfo, hostIP: string): void {
    const pod = this.api.tryGet(POD, NS, podObj.metadata.name as string);
    if (!pod || pod.metadata.uid !== podObj.metadata.uid) return;
    const t = now();
    pod.status = {
      phase: 'Running', hostIP, hostIPs: [{ ip: hostIP }], podIP: info.ipv4, podIPs: [{ ip: info.ipv4 }, ...(info.ipv6 ? [{ ip: info.ipv6 }] : [])], startTime: t, qosClass: 'Burstable',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: t })),
      containerStatuses: [{ name: VIRT_HANDLER, ready: true, started: true, restartCount: 0, image: IMAGE, imageID: IMAGE, state: { running: { startedAt: t } } }],
    };
    this.api.update(POD, NS, pod.metadata.name as string, pod, { subresource: 'status' });
  }

  /** DaemonSet status, and the KubeVirt CR's conditions: Deployed, or an update in progress. */
  private writeStatus(ds: KObject, nodes: string[], podOf: (n: string) => KObject | undefined, current: (p: KObject) => boolean): void {
    const pods = nodes.map(podOf).filter((p): p is KObject => !!p);
    const ready = pods.filter((p) => this.handlers.get(p.metadata.uid as string)?.state === 'ready');
    const updated = pods.filter(current);
    this.status.write(DAEMONSET, ds, {
      currentNumberScheduled: pods.length, desiredNumberScheduled: nodes.length, numberMisscheduled: 0, numberReady: ready.length,
      numberAvailable: ready.length, ...(nodes.length - ready.length ? { numberUnavailable: nodes.length - ready.length } : { numberUnavailable: undefined }),
      updatedNumberScheduled: updated.length, observedGeneration: ds.metadata.generation ?? 1,
    });
    const kv = this.api.store.get(KUBEVIRT, NS, KUBEVIRT_CR.name);
    if (!kv) return;
    const done = ready.length === nodes.length && updated.length === nodes.length;
    const t = now();
    const version = KUBEVIRT_VERSION;
    const registry = 'registry.redhat.io/container-native-virtualization';
    const msg = done ? 'All components are ready.' : `Transitioning from previous version ${version} with registry ${registry} to target version ${version} using registry ${registry}`;
    const reason = done ? 'AllComponentsReady' : 'UpdateInProgress';
    const cond = (type: string, status: boolean): Condition => ({ type, status: status ? 'True' : 'False', reason, message: msg, lastProbeTime: t, lastTransitionTime: t });
    this.status.write(KUBEVIRT, kv, {
      phase: 'Deployed',
      conditions: [cond('Available', true), cond('Progressing', !done), cond('Degraded', !done)],
      ...(done ? { observedDeploymentID: deploymentId(this.network()) } : {}),
      targetDeploymentID: deploymentId(this.network()),
    }, { dropConditions: done ? [] : ['Created'] });
  }
}

/** virt-operator's deployment ID: a hash over the install's additional properties (the migration network among them). */
function deploymentId(network: string | undefined): string {
  return createHash('sha1').update(JSON.stringify({ version: KUBEVIRT_VERSION, migrationNetwork: network ?? '' })).digest('hex').slice(0, 16);
}

/** The virt-handler pod template: the migration network joins it as migration0 (daemonsets.go). */
function handlerTemplate(network: string | undefined): PodTemplate {
  return {
    metadata: {
      labels: { ...HANDLER_LABELS },
      ...(network ? { annotations: { [NETWORKS_ANNOTATION]: `${network}@${MIGRATION_INTERFACE}` } } : {}),
    },
    spec: {
      serviceAccountName: 'kubevirt-handler',
      containers: [{
        name: VIRT_HANDLER, image: IMAGE,
        args: ['--port', '8443', '--hostname-override', '$(NODE_NAME)', '--pod-ip-address', '$(MY_POD_IP)', '--max-metric-requests', '3', '--console-server-port', '8186', '--graceful-shutdown-seconds', '315', '-v', '2'],
      }],
      priorityClassName: 'kubevirt-cluster-critical',
      tolerations: [{ operator: 'Exists', key: 'CriticalAddonsOnly' }],
    },
  };
}

/** `<nad>@<ifName>` (or `ns/nad@ifName`) from a networks annotation; only the form virt-operator writes. */
function parseNetworks(v: string | undefined): { network: string; ifName: string } | undefined {
  if (!v) return undefined;
  const [network, ifName] = v.split('@');
  return network ? { network, ifName: ifName || 'net1' } : undefined;
}
