/**
 * The real-time clock: a zero delay does not wait for Node's 1 ms minimum of
 * setTimeout, and a cleared timer of either kind never fires.
 */
import { stat } from 'node:fs';
import { expect } from 'chai';
import { createActor, setup } from 'xstate';
import { realClock } from '../../transport/real-clock.ts';

const flusher = setup({ delays: { now: 0, later: 20 } }).createMachine({
  initial: 'idle',
  states: {
    idle: { on: { FLUSH: 'scheduled', WAIT: 'waiting' } },
    scheduled: { after: { now: 'flushed' }, on: { CANCEL: 'idle' } },
    waiting: { after: { later: 'flushed' }, on: { CANCEL: 'idle' } },
    flushed: {},
  },
});

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('transport: realClock', () => {
  it('runs `after: 0` on setImmediate: from an I/O callback (a socket message), before a setTimeout(0) set at the same time', async () => {
    const order: string[] = [];
    const actor = createActor(flusher, { clock: realClock }).start();
    actor.subscribe((s) => s.matches('flushed') && order.push('flushed'));
    // Node runs a poll-phase callback's immediates before its timers (with XState's default clock: the other order)
    await new Promise<void>((resolve) =>
      stat(import.meta.filename ?? '.', () => {
        setTimeout(() => order.push('setTimeout 0'), 0);
        actor.send({ type: 'FLUSH' });
        resolve();
      }),
    );
    await settle(10);
    expect(order).to.deep.equal(['flushed', 'setTimeout 0']);
    actor.stop();
  });

  it('a cleared timer never fires, whichever kind it was', async () => {
    for (const start of ['FLUSH', 'WAIT'] as const) {
      const actor = createActor(flusher, { clock: realClock }).start();
      actor.send({ type: start });
      actor.send({ type: 'CANCEL' });
      await settle(40);
      expect(actor.getSnapshot().value, start).to.equal('idle');
      actor.stop();
    }
  });

  it('a positive delay still waits its time', async () => {
    const actor = createActor(flusher, { clock: realClock }).start();
    actor.send({ type: 'WAIT' });
    await settle(5);
    expect(actor.getSnapshot().value).to.equal('waiting');
    await settle(40);
    expect(actor.getSnapshot().value).to.equal('flushed');
    actor.stop();
  });
});
