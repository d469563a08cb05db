/**
 * XState's clock on the world's scheduler: every `after` delay becomes its own
 * scheduler entry, so it fires at exactly its due time and ties fire in the
 * order the timers were created. (XState's `SimulatedClock` sorts all pending
 * timers on each flush and fires everything due at the jump's end time.)
 */
import type { ActorOptions, AnyActorLogic } from 'xstate';
import type { Scheduler, TimerId } from './scheduler.ts';

/** XState's `Clock` interface (not exported by name from 'xstate' 5.33). */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

export class SimClock implements Clock {
  constructor(
    private readonly scheduler: Scheduler,
    /** Scheduler label of the timers, shown in liveness errors. */
    private readonly label = 'xstate.timer',
  ) {}

  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerId {
    return this.scheduler.after(ms, this.label, fn);
  }

  clearTimeout(id: TimerId): void {
    this.scheduler.cancel(id);
  }

  now(): number {
    return this.scheduler.now;
  }
}
