// The one writer of KubeVirt object status (VM, VMI, VMIM): a shallow patch over the current status,
// conditions merged by type, and one condition rule: a condition's lastTransitionTime moves only when
// its status changes (as KubeVirt's condition managers and apimachinery's meta.SetStatusCondition do).
// A phase change appends to status.phaseTransitionTimestamps, as virt-controller does for VMIs and VMIMs.
import type { Kind } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { KObject } from '../api/types.ts';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
}

export interface PhaseTransition { phase: string; phaseTransitionTimestamp: string }

/** A status patch: top-level keys replace (undefined removes); `conditions` merge by type. */
export type StatusPatch = Record<string, unknown> & { phase?: string; conditions?: Condition[] };

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** `updates` replace the conditions of their type; an unchanged status keeps its lastTransitionTime. */
export function mergeConditions<T extends { type: string; status?: string; lastTransitionTime?: string }>(cur: T[], updates: T[]): T[] {
  const out = cur.filter((c) => !updates.some((u) => u.type === c.type));
  const merged = updates.map((u) => {
    const old = cur.find((c) => c.type === u.type);
    return old && old.status === u.status && old.lastTransitionTime ? { ...u, lastTransitionTime: old.lastTransitionTime } : u;
  });
  return [...out, ...merged];
}

export interface WriteStatusOptions {
  /** The patch's conditions are the whole set (times still kept by type); default: merge into the current ones. */
  replaceConditions?: boolean;
  /** Condition types to remove. */
  dropConditions?: string[];
}

/** The status `patch` makes of `cur`, without writing it. */
export function patchedStatus(cur: Record<string, unknown>, patch: StatusPatch, opts: WriteStatusOptions = {}): Record<string, unknown> {
  const next: Record<string, unknown> = { ...cur, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
  const base = ((cur.conditions as Condition[] | undefined) ?? []).filter((c) => !opts.dropConditions?.includes(c.type));
  if (patch.conditions) {
    const merged = mergeConditions(base, patch.conditions);
    next.conditions = opts.replaceConditions ? merged.filter((c) => patch.conditions?.some((u) => u.type === c.type)) : merged;
  } else if (opts.dropConditions && cur.conditions) next.conditions = base;
  if (patch.phase && patch.phase !== cur.phase) {
    const seen = (cur.phaseTransitionTimestamps as PhaseTransition[] | undefined) ?? [];
    next.phaseTransitionTimestamps = [...seen, { phase: patch.phase, phaseTransitionTimestamp: now() }];
  }
  return next;
}

/** Equal but for probe times, which a rewrite would bump without saying anything new. */
export function sameStatus(a: unknown, b: unknown): boolean {
  const strip = (k: string, v: unknown) => (k === 'lastProbeTime' ? undefined : v);
  return JSON.stringify(a, strip) === JSON.stringify(b, strip);
}

export class StatusWriter {
  constructor(private readonly api: Registry) {}

  /**
   * Applies `patch` to the stored object's current status (a stale `obj` only names it) and writes the
   * status subresource when anything changed. Returns the stored object, or undefined when it is gone.
   */
  write(kind: Kind, obj: KObject, patch: StatusPatch, opts: WriteStatusOptions = {}): KObject | undefined {
    const { namespace, name } = obj.metadata;
    const fresh = this.api.tryGet(kind, namespace, name as string);
    if (!fresh) return undefined;
    const cur = (fresh.status ?? {}) as Record<string, unknown>;
    const next = patchedStatus(cur, patch, opts);
    if (sameStatus(cur, next)) return fresh;
    fresh.status = next;
    return this.api.update(kind, namespace, name as string, fresh, { subresource: 'status' });
  }
}
