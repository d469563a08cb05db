import { expect } from 'chai';
import fc from 'fast-check';
import { createActor, createMachine, setup } from 'xstate';
import { SimClock } from '../../sim/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';

const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

function world(): { scheduler: Scheduler; clock: SimClock } {
  const scheduler = new Scheduler();
  return { scheduler, clock: new SimClock(scheduler) };
}

describe('sim/clock (XState on the scheduler)', () => {
  it('fires each `after` delay of a chain at its exact due time', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 12 }), (delays) => {
        const { scheduler, clock } = world();
        const states: Record<string, object> = {};
        delays.forEach((d, i) => (states[`s${i}`] = { after: { [d]: { target: `s${i + 1}` } } }));
        states[`s${delays.length}`] = { type: 'final' };
        const actor = createActor(createMachine({ initial: 's0', states }), { clock });
        const seen: [string, number][] = [];
        actor.subscribe((snap) => seen.push([String(snap.value), scheduler.now]));
        actor.start();
        while (scheduler.step());
        let t = 0;
        const expected: [string, number][] = [['s0', 0], ...delays.map((d, i): [string, number] => [`s${i + 1}`, (t += d)])];
        expect(seen).to.deep.equal(expected);
        expect(actor.getSnapshot().status).to.equal('done');
      }),
      params(100),
    );
  });

  it('fires equal delays in creation order, each at its due time (not at the end of a jump)', () => {
    const { scheduler, clock } = world();
    const log: string[] = [];
    const at = (name: string) => () => log.push(`${name}@${scheduler.now}`);
    const machine = setup({}).createMachine({
      type: 'parallel',
      states: {
        x: { initial: 'a', states: { a: { after: { 30: { target: 'b', actions: at('x') } } }, b: {} } },
        y: { initial: 'a', states: { a: { after: { 30: { target: 'b', actions: at('y') } } }, b: {} } },
        z: { initial: 'a', states: { a: { after: { 10: { target: 'b', actions: at('z10') } } }, b: { after: { 20: { target: 'c', actions: at('z30') } } }, c: {} } },
      },
    });
    createActor(machine, { clock }).start();
    // One jump over everything: each timer must still see its own due time.
    scheduler.runUntil(1000);
    expect(log).to.deep.equal(['z10@10', 'x@30', 'y@30', 'z30@30']);
  });

  it('a state left early clears its timer: it never fires and leaves nothing pending', () => {
    const { scheduler, clock } = world();
    const machine = createMachine({
      initial: 'waiting',
      states: {
        waiting: { after: { 100: 'timedOut' }, on: { GO: 'done' } },
        timedOut: {},
        done: {},
      },
    });
    const actor = createActor(machine, { clock }).start();
    expect(scheduler.size).to.equal(1);
    scheduler.at(50, 'go', () => actor.send({ type: 'GO' }));
    scheduler.runUntil(500);
    expect(actor.getSnapshot().value).to.equal('done');
    expect(scheduler.size).to.equal(0);
    expect(scheduler.steps).to.equal(1); // only 'go' ran
  });

  it('setTimeout / clearTimeout / now map onto the scheduler', () => {
    const { scheduler, clock } = world();
    const fired: number[] = [];
    const a = clock.setTimeout(() => fired.push(clock.now()), 40);
    const b = clock.setTimeout(() => fired.push(-1), 20);
    clock.setTimeout(() => fired.push(clock.now()), 40);
    clock.clearTimeout(b);
    expect(a).to.not.equal(b);
    scheduler.runUntil(100);
    expect(fired).to.deep.equal([40, 40]);
    expect(clock.now()).to.equal(100);
  });
});
