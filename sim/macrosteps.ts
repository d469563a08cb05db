/**
 * Counting macrosteps without XState's inspection stream.
 *
 * Once an inspection observer listens to an actor system, XState builds an
 * inspection event for every event, action, microstep and snapshot of every
 * actor in it (about six per macrostep in the sustained world) and hands each
 * to the observer. A world that writes no transition records and has no
 * outside inspector only counts macrosteps: for a root actor without children
 * (a tab's client, a producer) a snapshot subscription counts the same steps
 * for a fraction of the cost. The hub keeps its inspector: its sessions are
 * its children, and the router's notifications are counted on that stream.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';

/**
 * Call `onStep` once per macrostep of `actor`, the one XState reports as an
 * `@xstate.snapshot` inspection event: each snapshot it emits (the initial one
 * too, when subscribed before `start`) and its final, stopped one. A machine
 * that throws is not counted: that is a bug the run reports, not a step.
 */
export function countMacrosteps(actor: AnyActorRef, onStep: () => void): void {
  actor.subscribe({
    next: onStep,
    // a stopped actor tells its observers `complete`, not `next`; a done one already told `next`
    complete: () => {
      if (actor.getSnapshot().status === 'stopped') onStep();
    },
  });
}

/** How the world watches a root actor without children: inspected when it needs the events, else only counted. */
export class LeafWatch {
  /** The actor options of a leaf: the world's inspector, or none. */
  readonly options: { inspect?: (event: InspectionEvent) => void };

  constructor(
    inspect: (event: InspectionEvent) => void,
    /** Transition records or an outside inspector want every event. */
    wantsEvents: boolean,
    private readonly onStep: () => void,
  ) {
    this.options = wantsEvents ? { inspect } : {};
  }

  /** The actor, its macrosteps counted if it has no inspector (call before it starts). */
  watch<A extends AnyActorRef>(actor: A): A {
    if (this.options.inspect === undefined) countMacrosteps(actor, this.onStep);
    return actor;
  }
}
