/**
 * A child that sends its parent one event every `everyMs` on the actor's
 * clock: the hub's idle-log sweep. A child of its own so the hub's chart has
 * no timer of its own (its model-based spec drives SWEEP as a plain event).
 */
import { sendParent, setup } from 'xstate';

export interface TickerInput {
  everyMs: number;
  event: { type: string };
}

export const tickerMachine = setup({
  types: { context: {} as TickerInput, input: {} as TickerInput },
  delays: { every: ({ context }) => context.everyMs },
}).createMachine({
  id: 'ticker',
  context: ({ input }) => input,
  initial: 'waiting',
  states: {
    waiting: { after: { every: { target: 'waiting', reenter: true, actions: sendParent(({ context }) => context.event) } } },
  },
});
