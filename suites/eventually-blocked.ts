// Negative checks on what a policy denies (not a spec). A MultiNetworkPolicy is enforced
// asynchronously, so the blocked path is polled, bounded, before it is judged with its control.
import { expectBlocked, type PathProbe } from '../src/fixtures/paths.ts';

const POLL_GAP_MS = 250;

/** Polls `probe` until it stops answering or `timeoutMs` passes; true when it stopped. */
export async function untilBlocked(probe: PathProbe, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await probe.run()).ok) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_GAP_MS));
  }
}

/** Waits (bounded) for enforcement, then `expectBlocked`: the control must answer and `blocked` must not. */
export async function expectBlockedSoon(blocked: PathProbe, o: { control: PathProbe; timeoutMs?: number }): Promise<void> {
  await untilBlocked(blocked, o.timeoutMs);
  await expectBlocked(blocked, { control: o.control });
}
