/**
 * XState's clock for machines on real time (`createActor(machine, { clock:
 * realClock })`; children inherit it). The same as XState's default, except
 * that a zero delay runs on `setImmediate`: Node runs `setTimeout(fn, 0)`
 * after at least 1 ms, so a session whose flush is `after: 0` (gather the
 * notifications of one instant, then send) would add a millisecond to every
 * event's latency. `setImmediate` runs once the current I/O callbacks are
 * done: what they published goes out together, in the same loop iteration.
 * Timers still fire in the order they were set within each kind.
 */
import type { ActorOptions, AnyActorLogic } from 'xstate';

type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/** A pending timer of either kind. */
type Pending = { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout };

export const realClock: Clock = {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number): Pending => (ms <= 0 ? { immediate: setImmediate(fn) } : { timeout: setTimeout(fn, ms) }),
  clearTimeout: (id: unknown): void => {
    const pending = id as Pending;
    if ('immediate' in pending) clearImmediate(pending.immediate);
    else clearTimeout(pending.timeout);
  },
};
