/**
 * Counting macrosteps without XState's inspection stream.
 *
 * Once an inspection observer listens to an actor system, XState builds an
 * inspection event for every event, action, microstep and snapshot of every
 * actor in it (about six per macrostep in the sustained world) and hands each
 * to the observer. A world that writes no transition records and has no
 * outside inspector only counts macrosteps, and the hub's routing wants the
 * events its sessions hear: snapshot subscriptions count the same steps, and
 * a hook on the system's relay hears the same events, for a fraction of the
 * cost. The spec (spec/sim/macrosteps.spec.ts) runs worlds both ways and
 * compares counts and trace hashes: it is what tells if XState's internals
 * the hooks lean on change.
 */
import type { AnyActorRef, EventObject, InspectionEvent } from 'xstate';

/**
 * Call `onStep` once per macrostep of `actor`, the one XState reports as an
 * `@xstate.snapshot` inspection event: each snapshot it emits (the initial one
 * too, when subscribed before `start`) and its final, stopped one. A machine
 * that throws is not counted: that is a bug the run reports, not a step.
 */
export function countMacrosteps(actor: AnyActorRef, onStep: () => void): void {
  actor.subscribe(new StepCounter(actor, onStep));
}

/** The observer of `countMacrosteps`: one object per actor, not a closure per actor (an idle tab and its session each have one). */
class StepCounter {
  constructor(
    private readonly actor: AnyActorRef,
    readonly next: () => void,
  ) {}

  // a stopped actor tells its observers `complete`, not `next`; a done one already told `next`
  complete(): void {
    if (this.actor.getSnapshot().status === 'stopped') this.next();
  }
}

/**
 * The two doors of XState's actor system (5.33, internal) every actor passes:
 * an actor registers when it starts (before its first snapshot), and every
 * event sent to an actor of the system goes through `_relay` (where XState
 * emits its `@xstate.event` inspection event).
 */
interface SystemDoors {
  _register(sessionId: string, actor: AnyActorRef): string;
  _relay(source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject): void;
}

/**
 * Count the macrosteps of every actor of `root`'s system (the root, the
 * children it spawns or invokes, theirs) and hear every event sent to one of
 * them, as an inspector would: call before `root` starts.
 */
export function watchSystem(root: AnyActorRef, onStep: () => void, onEvent: (event: EventObject) => void): void {
  const doors = root.system as unknown as SystemDoors;
  const register = doors._register;
  const relay = doors._relay;
  doors._register = (sessionId, actor) => {
    countMacrosteps(actor, onStep);
    return register(sessionId, actor);
  };
  doors._relay = (source, target, event) => {
    onEvent(event);
    relay(source, target, event);
  };
}

/** What a watched world hears: each macrostep, and each event an actor of a server's system is sent. */
export interface WatchHooks {
  step(): void;
  event(event: EventObject): void;
}

/** How the world watches its root actors: inspected when it needs every event, else only counted. */
export class ActorWatch {
  /** The actor options of a root actor: the world's inspector, or none. */
  readonly options: { inspect?: (event: InspectionEvent) => void };

  constructor(
    inspect: (event: InspectionEvent) => void,
    /** Transition records or an outside inspector want every event. */
    wantsEvents: boolean,
    private readonly hooks: WatchHooks,
  ) {
    this.options = wantsEvents ? { inspect } : {};
  }

  private get counting(): boolean {
    return this.options.inspect === undefined;
  }

  /** A root actor without children (a tab's client, a producer): its macrosteps counted if it has no inspector (call before it starts). */
  leaf<A extends AnyActorRef>(actor: A): A {
    if (this.counting) countMacrosteps(actor, this.hooks.step);
    return actor;
  }

  /** A root actor with children (a hub): every actor of its system counted, every event heard, if it has no inspector (call before it starts). */
  system<A extends AnyActorRef>(actor: A): A {
    if (this.counting) watchSystem(actor, this.hooks.step, this.hooks.event);
    return actor;
  }
}
