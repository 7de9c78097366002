// kube-scheduler: binds pending pods to a node that passes every filter, preferring the least loaded.
// Filters: nodeSelector, required node affinity, required pod (anti-)affinity on hostname, extended resources.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import { matchesLabelSelectorObject } from '../api/selectors.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { Controller, keyOf, splitKey } from './controller.ts';
import { recordEvent } from './events.ts';

type LabelSelector = Parameters<typeof matchesLabelSelectorObject>[0];
interface Term { labelSelector?: LabelSelector; topologyKey?: string; namespaces?: string[] }
interface PodSpec {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: {
    nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] }[] } };
    podAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: Term[] };
    podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: Term[] };
  };
  containers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
}

const POD = kindOf('v1', 'Pod') as Kind;
const NODE = kindOf('v1', 'Node') as Kind;
/** Resources the sim tracks per node; cpu and memory are plentiful and not modelled. */
const COUNTED = (r: string) => r.includes('/') && !r.startsWith('devices.kubevirt.io/');

/** An out-of-tree Filter plugin: why `node` cannot take `pod`, or undefined. */
export type NodeFilter = (pod: KObject, node: KObject) => string | undefined;

export class KubeScheduler extends Controller {
  private readonly filters: NodeFilter[] = [];

  constructor(api: Registry) {
    super(api, 'kube-scheduler');
  }

  /** Adds a Filter plugin (the scheduler framework's extension point), run after the built-in filters. */
  addFilter(f: NodeFilter): this {
    this.filters.push(f);
    return this;
  }

  protected keysFor(e: StoreEvent): string[] {
    if (e.kind === POD && e.type !== 'DELETED' && !(e.object.spec as PodSpec)?.nodeName) return [keyOf(e.object.metadata.namespace, e.object.metadata.name)];
    // Freed capacity or a new node may let waiting pods in.
    if ((e.kind === POD && e.type === 'DELETED') || e.kind === NODE) return this.pending();
    return [];
  }

  protected override resync(): void {
    this.pending().forEach((k) => this.enqueue(k));
  }

  private pending(): string[] {
    return this.api.store.list(POD).filter((p) => !(p.spec as PodSpec)?.nodeName && !p.metadata.deletionTimestamp).map((p) => keyOf(p.metadata.namespace, p.metadata.name));
  }

  protected async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const [ns, name] = splitKey(key);
    const pod = this.api.tryGet(POD, ns, name);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const spec = pod.spec as PodSpec;
    if (spec.nodeName) return;
    const nodes = this.api.store.list(NODE);
    const reasons: string[] = [];
    const fits = nodes.filter((n) => {
      const why = this.unfit(pod, spec, n);
      if (why) reasons.push(why);
      return !why;
    });
    if (!fits.length) {
      const msg = fitError(nodes.length, reasons);
      const cond = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: msg };
      const conds = ((pod.status as { conditions?: { type: string; message?: string }[] })?.conditions ?? []);
      if (conds.find((c) => c.type === 'PodScheduled')?.message !== msg) {
        pod.status = { ...(pod.status as object), phase: 'Pending', conditions: [cond] };
        this.api.update(POD, ns, name, pod, { subresource: 'status' });
        recordEvent(this.api, pod, 'Warning', 'FailedScheduling', msg, 'default-scheduler');
      }
      return;
    }
    const load = (n: KObject) => this.api.store.list(POD).filter((p) => (p.spec as PodSpec).nodeName === n.metadata.name).length;
    const node = fits.sort((a, b) => load(a) - load(b) || String(a.metadata.name).localeCompare(String(b.metadata.name)))[0];
    spec.nodeName = node.metadata.name;
    this.api.update(POD, ns, name, pod);
    const bound = this.api.get(POD, ns, name);
    bound.status = { ...(bound.status as object), phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] };
    this.api.update(POD, ns, name, bound, { subresource: 'status' });
    recordEvent(this.api, bound, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node.metadata.name}`, 'default-scheduler');
  }

  /** Why `node` cannot take `pod`, or undefined when it can. */
  private unfit(pod: KObject, spec: PodSpec, node: KObject): string | undefined {
    const labels = node.metadata.labels ?? {};
    if ((node.spec as { unschedulable?: boolean })?.unschedulable) return 'node(s) were unschedulable';
    for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return "node(s) didn't match Pod's node affinity/selector";
    const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    if (terms?.length && !terms.some((t) => matchesLabelSelectorObject({ matchExpressions: t.matchExpressions }, labels))) return "node(s) didn't match Pod's node affinity/selector";
    const podsOn = (term: Term) => this.api.store.list(POD).filter((p) =>
      p.metadata.uid !== pod.metadata.uid && !p.metadata.deletionTimestamp
      && (term.namespaces?.length ? term.namespaces.includes(p.metadata.namespace as string) : p.metadata.namespace === pod.metadata.namespace)
      && matchesLabelSelectorObject(term.labelSelector ?? {}, p.metadata.labels ?? {})
      && sameTopology(this.nodeOf(p), node, term.topologyKey));
    for (const t of spec.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) if (!podsOn(t).length) return "node(s) didn't match pod affinity rules";
    for (const t of spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) if (podsOn(t).length) return "node(s) didn't match pod anti-affinity rules";
    // Symmetric, as the InterPodAffinity filter: a placed pod's required anti-affinity also keeps this one off its topology.
    const repelled = this.api.store.list(POD).some((p) => p.metadata.uid !== pod.metadata.uid && !p.metadata.deletionTimestamp
      && ((p.spec as PodSpec).affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).some((t) =>
        (t.namespaces?.length ? t.namespaces.includes(pod.metadata.namespace as string) : p.metadata.namespace === pod.metadata.namespace)
        && matchesLabelSelectorObject(t.labelSelector ?? {}, pod.metadata.labels ?? {})
        && sameTopology(this.nodeOf(p), node, t.topologyKey)));
    if (repelled) return "node(s) didn't satisfy existing pods anti-affinity rules";
    const alloc = ((node.status as { allocatable?: Record<string, string> })?.allocatable ?? {});
    for (const [res, qty] of Object.entries(requests(spec))) {
      if (!COUNTED(res)) continue;
      const used = this.api.store.list(POD).filter((p) => p.metadata.uid !== pod.metadata.uid && (p.spec as PodSpec).nodeName === node.metadata.name)
        .reduce((n, p) => n + (requests(p.spec as PodSpec)[res] ?? 0), 0);
      if (used + qty > Number(alloc[res] ?? 0)) return `Insufficient ${res}`;
    }
    for (const f of this.filters) {
      const why = f(pod, node);
      if (why) return why;
    }
    return undefined;
  }

  private nodeOf(p: KObject): KObject | undefined {
    const n = (p.spec as PodSpec).nodeName;
    return n ? this.api.store.get(NODE, undefined, n) : undefined;
  }
}

function sameTopology(a: KObject | undefined, b: KObject, key = 'kubernetes.io/hostname'): boolean {
  return !!a && (a.metadata.labels ?? {})[key] !== undefined && (a.metadata.labels ?? {})[key] === (b.metadata.labels ?? {})[key];
}

export function requests(spec: PodSpec): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of spec.containers ?? []) {
    for (const [k, v] of Object.entries({ ...c.resources?.limits, ...c.resources?.requests })) if (COUNTED(k)) out[k] = (out[k] ?? 0) + Number(v);
  }
  return out;
}

/** "<n> <reason>" per reason, sorted as strings (kubernetes pkg/scheduler/framework FitError.Error). */
function histogram(reasons: string[]): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${n} ${r}`).sort().join(', ');
}

/**
 * Filters whose failure no eviction can fix return UnschedulableAndUnresolvable; for the rest the
 * DefaultPreemption PostFilter looks for lower-priority victims, and the sim's pods all have
 * priority 0, so there are none. Its verdict follows the filters' (pkg/scheduler/framework/plugins/defaultpreemption).
 */
const RESOLVABLE = (r: string) => r.startsWith('Insufficient ') || r === "node(s) didn't match pod anti-affinity rules";

function fitError(nodes: number, reasons: string[]): string {
  const preemption = reasons.map((r) => (RESOLVABLE(r) ? 'No preemption victims found for incoming pod' : 'Preemption is not helpful for scheduling'));
  return `0/${nodes} nodes are available: ${histogram(reasons)}. preemption: 0/${nodes} nodes are available: ${histogram(preemption)}.`;
}
