/**
 * One XState system for the clients of a world. A client actor made with
 * `createActor` alone is a root with a system of its own (registry,
 * scheduler, inspection, a dozen closures: ≈ 1.6 KB per idle tab); made with
 * this root as its `parent`, it shares the root's. Nothing else changes for
 * the client: its id, events, timers and snapshots are the same.
 *
 * A child cannot be stopped directly: `stop` asks the root to. Inspection
 * goes to `inspect` for the clients only, never the root's own events. A
 * client's error reaches the root (its parent), which throws it again: it is
 * reported as an unhandled error, as a client of its own system's would be.
 */
import { createActor, setup, stopChild, toObserver, type ActorOptions, type AnyActorLogic, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import type { ClientActor } from './client-endpoint.ts';

export interface ClientRoot {
  /** The parent to create each client with. */
  readonly ref: AnyActorRef;
  /** Stop a client created with this root (it cannot be stopped directly). */
  stop(client: ClientActor): void;
}

type RootEvent = { type: 'STOP_CLIENT'; client: AnyActorRef } | { type: `xstate.error.actor.${string}`; error: unknown };

const rootMachine = setup({
  types: { events: {} as RootEvent },
  actions: {
    rethrow: ({ event }) => {
      if ('error' in event) throw event.error;
    },
  },
}).createMachine({
  id: 'clients',
  on: {
    STOP_CLIENT: { actions: stopChild(({ event }) => (event as Extract<RootEvent, { type: 'STOP_CLIENT' }>).client) },
    '*': { actions: 'rethrow' },
  },
});

export function clientRoot(options: { clock?: ActorOptions<AnyActorLogic>['clock']; inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) }): ClientRoot {
  const root = createActor(rootMachine, options.clock ? { clock: options.clock } : {});
  root.start();
  if (options.inspect) {
    const observer = toObserver(options.inspect);
    // after the root started: its own start is nobody's business
    root.system.inspect((event: InspectionEvent) => {
      if (event.actorRef !== root) observer.next?.(event);
    });
  }
  return { ref: root, stop: (client) => root.send({ type: 'STOP_CLIENT', client }) };
}
