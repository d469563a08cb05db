/**
 * A world that writes no transition records counts its clients' and
 * producers' macrosteps by subscription instead of XState's inspection
 * stream: the count must be the one the inspector would have given.
 */
import { expect } from 'chai';
import { assign, createActor, setup, type AnyActorRef } from 'xstate';
import { countMacrosteps } from '../../sim/macrosteps.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { SimClock } from '../../sim/clock.ts';
import { resolveInput } from '../../sim/scenario.ts';
import type { Reload } from '../../sim/world.ts';
// the package's export: where runWorld lives inside sim/ may move
import { runWorld } from '../../src/sim.ts';
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

describe('sim/macrosteps', () => {
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

  it('a world without transition records counts the same macrosteps as one with an inspector on every actor', () => {
    // tab closes, reconnects, a page reload: clients that stop, restart and are restored
    const cases: [string, string, number][] = [
      ['connection_auto_reconnect_mechanism', '1', 0.5],
      ['mission_critical_events_delivery_guaranteed', '0', 0.3],
      ['bulk_event_delivery_performance', '0', 0.6],
    ];
    for (const [id, path, fraction] of cases) {
      const s = scenario(id);
      const input = resolveInput(s, 42, path)!;
      const client = `${input.workload.users[0]!.tenant}/${input.workload.users[0]!.user}/0`;
      const reloads: Reload[] = [{ at: Math.floor(fraction * input.plan.healAt), client }];
      const run = (inspect?: () => void) =>
        runWorld({ scenario: id, seed: input.worldSeed, workload: input.workload, plan: input.plan, protocol: s.protocol ?? {}, settleMs: s.settleMs, keepTrace: false, traceTransitions: false, reloads, ...(inspect ? { inspect } : {}) });
      const counted = run();
      const inspected = run(() => {});
      expect(counted.transitions, id).to.be.greaterThan(50);
      expect(counted.transitions, id).to.equal(inspected.transitions);
      expect(counted.trace.hash(), id).to.equal(inspected.trace.hash());
    }
  });
});
