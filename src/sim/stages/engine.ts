// A lifecycle as data, in the manner of kwok's Stage resources (kubernetes-sigs/kwok pkg/apis
// v1alpha1 stage_types.go: a selector on the current state, a delay, and the next state): each stage
// names the phase it leaves, a `when` that is true or the reason it waits, an optional `run` that acts
// and returns a status patch, the phase it enters, and an optional timeout with the phase and reason
// a stage that never became ready ends in. One engine runs any table against any object; the caller
// commits the phase and patch through its status writer, so the table reads beside `oc get -w`.

export type Phase = string;

export interface Stage<O, C, P extends object = Record<string, unknown>> {
  name: string;
  /** The phase (or phases) this stage leaves; '' is an object no one has given a phase yet. */
  from: Phase | readonly Phase[];
  /** true when the stage may run now; otherwise the reason it waits. */
  when(obj: O, ctx: C): true | string;
  /** The action; its result is the status patch committed with the new phase. A throw leaves the phase as it is. */
  run?(obj: O, ctx: C): Promise<P | void>;
  to: Phase | ((obj: O, result: P | void) => Phase);
  /** How long the object may sit in `from` waiting for this stage before onTimeout applies. */
  timeoutMs?: number | ((obj: O) => number | undefined);
  onTimeout?: { to: Phase; reason: string };
}

export type Step<P> =
  | { type: 'moved'; stage: string; from: Phase; to: Phase; patch?: P }
  | { type: 'timedOut'; stage: string; from: Phase; to: Phase; reason: string }
  /** No stage could run; `retryAfterMs` is when the next timeout falls due. */
  | { type: 'waiting'; phase: Phase; reasons: string[]; retryAfterMs?: number };

export interface EngineHooks<O, P> {
  phaseOf(obj: O): Phase;
  /** When the object entered its current phase (ms since the epoch), for timeouts. */
  enteredAt(obj: O): number | undefined;
  /** Writes the new phase with the stage's patch, or a timeout's phase with its reason. */
  commit(obj: O, to: Phase, patch: P | undefined, timeout?: { stage: string; reason: string }): void;
}

export class StageEngine<O, C, P extends object = Record<string, unknown>> {
  constructor(readonly stages: readonly Stage<O, C, P>[], private readonly hooks: EngineHooks<O, P>) {}

  /** Runs the first stage whose `from` is the object's phase and whose `when` holds; at most one. */
  async step(obj: O, ctx: C, nowMs = Date.now()): Promise<Step<P>> {
    const phase = this.hooks.phaseOf(obj);
    const candidates = this.stages.filter((s) => (typeof s.from === 'string' ? s.from === phase : s.from.includes(phase)));
    const reasons: string[] = [];
    for (const s of candidates) {
      const ready = s.when(obj, ctx);
      if (ready !== true) { reasons.push(`${s.name}: ${ready}`); continue; }
      const patch = (await s.run?.(obj, ctx)) ?? undefined;
      const to = typeof s.to === 'string' ? s.to : s.to(obj, patch);
      this.hooks.commit(obj, to, patch);
      return { type: 'moved', stage: s.name, from: phase, to, patch };
    }
    let retryAfterMs: number | undefined;
    const entered = this.hooks.enteredAt(obj);
    for (const s of candidates) {
      const limit = typeof s.timeoutMs === 'function' ? s.timeoutMs(obj) : s.timeoutMs;
      if (limit === undefined || !s.onTimeout || entered === undefined) continue;
      const left = entered + limit - nowMs;
      if (left <= 0) {
        this.hooks.commit(obj, s.onTimeout.to, undefined, { stage: s.name, reason: s.onTimeout.reason });
        return { type: 'timedOut', stage: s.name, from: phase, to: s.onTimeout.to, reason: s.onTimeout.reason };
      }
      retryAfterMs = Math.min(retryAfterMs ?? left, left);
    }
    return { type: 'waiting', phase, reasons, retryAfterMs };
  }

  /** The table as `from -> to (name)` lines, for docs and failure messages. */
  describe(): string[] {
    return this.stages.map((s) => `${[s.from].flat().join('|') || '""'} -> ${typeof s.to === 'string' ? s.to : '(by result)'} (${s.name})`);
  }
}
