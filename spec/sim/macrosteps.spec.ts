/**
 * A world that writes no transition records counts its actors' macrosteps by
 * subscription, and hears its servers' events on the system's relay, instead
 * of XState's inspection stream: the counts must be the ones the inspector
 * would have given.
 */
import { expect } from 'chai';
import { assign, createActor, enqueueActions, setup, type AnyActorRef } from 'xstate';
import { countMacrosteps, watchSystem } from '../../sim/macrosteps.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { SimClock } from '../../sim/clock.ts';
import { resolveInput } from '../../sim/scenario.ts';
import type { Reload } from '../../sim/world.ts';
// the package's export: where runWorld lives inside sim/ may move
import { runClusterWorld, runWorld } from '../../src/sim.ts';
import { scenario } from '../scenarios/harness.ts';

/** Ticks on a delay, counts, stops itself (a final state) after two ticks unless stopped first. */
const ticker = setup({ types: { context: {} as { n: number }, events: {} as { type: 'POKE' } } }).createMachine({
  context: { n: 0 },
  initial: 'running',
  states: {
    running: {
      after: { 10: [{ guard: ({ context }) => context.n >= 2, target: 'finished' }, { target: 'running', reenter: true, actions: assign({ n: ({ context }) => context.n + 1 }) }] },
      on: { POKE: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
    },
    finished: { type: 'final' },
  },
});

/** Snapshots the inspector reports, and steps the subscription counts, for one actor's life. */
function bothCounts(life: (actor: AnyActorRef, scheduler: Scheduler) => void): { inspected: number; counted: number } {
  const scheduler = new Scheduler();
  let inspected = 0;
  let counted = 0;
  const actor = createActor(ticker, { clock: new SimClock(scheduler), inspect: (e) => void (e.type === '@xstate.snapshot' && inspected++) });
  countMacrosteps(actor, () => counted++);
  actor.start();
  life(actor, scheduler);
  return { inspected, counted };
}

/** Spawns a ticker per SPAWN and pokes each child per POKE; forgets a child when it finishes; STOP_ALL stops them. */
const parent = setup({
  types: { context: {} as { kids: AnyActorRef[] }, events: {} as { type: 'SPAWN' } | { type: 'POKE' } | { type: 'STOP_ALL' } },
  actors: { ticker },
}).createMachine({
  context: { kids: [] },
  on: {
    SPAWN: { actions: assign({ kids: ({ context, spawn }) => [...context.kids, spawn('ticker')] }) },
    POKE: { actions: enqueueActions(({ context, enqueue }) => context.kids.forEach((kid) => enqueue.sendTo(kid, { type: 'POKE' }))) },
    STOP_ALL: { actions: enqueueActions(({ context, enqueue }) => context.kids.forEach((kid) => enqueue.stopChild(kid))) },
  },
});

/** A parent and its children's life, seen by an inspector and by `watchSystem`: snapshots and POKEs heard. */
function systemCounts(life: (actor: AnyActorRef, scheduler: Scheduler) => void): { inspected: number[]; watched: number[] } {
  const scheduler = new Scheduler();
  const inspected = [0, 0];
  const watched = [0, 0];
  const clock = new SimClock(scheduler);
  const onInspect = createActor(parent, {
    clock,
    inspect: (e) => void (e.type === '@xstate.snapshot' ? inspected[0]!++ : e.type === '@xstate.event' && e.event.type === 'POKE' && inspected[1]!++),
  });
  onInspect.start();
  life(onInspect, scheduler);
  const onWatch = createActor(parent, { clock });
  watchSystem(onWatch, () => watched[0]!++, (event) => void (event.type === 'POKE' && watched[1]!++));
  onWatch.start();
  life(onWatch, scheduler);
  return { inspected, watched };
}

describe('sim/macrosteps', () => {
  it('watching a system counts every actor in it and hears every event, as its inspector does', () => {
    const lives: Record<string, (actor: AnyActorRef, scheduler: Scheduler) => void> = {
      'children finish on their own': (actor, s) => {
        actor.send({ type: 'SPAWN' });
        actor.send({ type: 'SPAWN' });
        actor.send({ type: 'POKE' });
        s.runUntil(s.now + 1000);
      },
      'children stopped by their parent': (actor, s) => {
        actor.send({ type: 'SPAWN' });
        s.runUntil(s.now + 15);
        actor.send({ type: 'SPAWN' });
        actor.send({ type: 'POKE' });
        actor.send({ type: 'STOP_ALL' });
      },
      'the parent stopped with its children': (actor, s) => {
        actor.send({ type: 'SPAWN' });
        actor.send({ type: 'POKE' });
        actor.stop();
      },
    };
    for (const [name, life] of Object.entries(lives)) {
      const { inspected, watched } = systemCounts(life);
      expect(inspected[0], `${name}: ${inspected[0]} snapshots inspected`).to.be.greaterThan(4);
      expect(inspected[1], `${name}: POKEs inspected`).to.be.greaterThan(0);
      expect(watched, name).to.deep.equal(inspected);
    }
  });

  it('counts what the inspector reports: start, events, delays, a final state, a stop', () => {
    const lives: Record<string, (actor: AnyActorRef, scheduler: Scheduler) => void> = {
      'runs to its final state': (actor, s) => {
        actor.send({ type: 'POKE' });
        s.runUntil(1000);
      },
      'stopped while running': (actor, s) => {
        s.runUntil(15);
        actor.send({ type: 'POKE' });
        actor.stop();
      },
      'stopped after it finished': (actor, s) => {
        s.runUntil(1000);
        actor.stop();
      },
    };
    for (const [name, life] of Object.entries(lives)) {
      const { inspected, counted } = bothCounts(life);
      expect(inspected, `${name}: ${inspected} inspected, ${counted} counted`).to.be.greaterThan(2);
      expect(counted, name).to.equal(inspected);
    }
  });

  it('a world without transition records counts the same macrosteps and gauges as one with an inspector on every actor', () => {
    // tab closes, reconnects, a page reload: clients that stop, restart and are restored
    const cases: [string, string, number][] = [
      ['connection_auto_reconnect_mechanism', '1', 0.5],
      ['mission_critical_events_delivery_guaranteed', '0', 0.3],
      ['bulk_event_delivery_performance', '0', 0.6],
      // the router's notifications are a gauge in the trace (the hash compares it)
      ['thread_specific_event_routing', '0', 0.5],
      // a cluster: several hubs, a node crash stops one with its sessions
      ['node_failover_resume', '1', 0.5],
    ];
    for (const [id, path, fraction] of cases) {
      const s = scenario(id);
      const input = resolveInput(s, 42, path)!;
      const client = `${input.workload.users[0]!.tenant}/${input.workload.users[0]!.user}/0`;
      const reloads: Reload[] = [{ at: Math.floor(fraction * input.plan.healAt), client }];
      const run = (inspect?: () => void) =>
        (input.plan.cluster ? runClusterWorld : runWorld)({ scenario: id, seed: input.worldSeed, workload: input.workload, plan: input.plan, protocol: s.protocol ?? {}, settleMs: s.settleMs, keepTrace: false, traceTransitions: false, reloads, ...(inspect ? { inspect } : {}) });
      const counted = run();
      const inspected = run(() => {});
      expect(counted.transitions, id).to.be.greaterThan(50);
      expect(counted.transitions, id).to.equal(inspected.transitions);
      expect(counted.trace.hash(), id).to.equal(inspected.trace.hash());
    }
  });
});
