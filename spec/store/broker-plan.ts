/** What the broker property tests share: three nodes' publishes and faults as fast-check data, and a read-back. */
import fc from 'fast-check';
import type { LogEntry, StreamName } from '../../machines/store.ts';
import type { SimBroker } from '../../sim/broker.ts';
import type { BrokerFault } from '../../sim/broker-faults.ts';
import type { Scheduler } from '../../sim/scheduler.ts';

/** fast-check settings: modest by default, SIM_RUNS scales, SIM_SEED pins. */
export const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

export type Op = { node: number; at: number };

export const NODES = 3;

export const opArb = (horizon: number): fc.Arbitrary<Op> => fc.record({ node: fc.integer({ min: 0, max: NODES - 1 }), at: fc.integer({ min: 0, max: horizon }) });

/** Partitions of node `n<i>` and restarts that keep the data (a loss is the contract's data-loss check). */
export const faultArb = (horizon: number): fc.Arbitrary<BrokerFault> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('partition' as const),
      node: fc.integer({ min: 0, max: NODES - 1 }).map((n) => `n${n}`),
      at: fc.integer({ min: 0, max: horizon }),
      forMs: fc.integer({ min: 1, max: horizon / 2 }),
    }),
    fc.record({ kind: fc.constant('restart' as const), at: fc.integer({ min: 0, max: horizon }), forMs: fc.integer({ min: 0, max: horizon / 4 }), keepData: fc.constant(true) }),
  );

/** The whole stream as the broker holds it, read by a fresh node once everything settled. */
export function readBack(scheduler: Scheduler, broker: SimBroker, stream: StreamName): LogEntry[] {
  let entries: LogEntry[] | undefined;
  const reader = broker.connect('reader', {
    reply: (r) => (entries = r.kind === 'read' ? r.entries : []),
    notice: (x) => x.kind === 'link' && x.up && reader.send({ kind: 'read', req: 1, stream, from: 1, max: 100_000 }),
  });
  scheduler.runUntilSettled({ maxSteps: 10_000, settled: () => entries !== undefined });
  reader.close();
  if (!entries) throw new Error('read back: no answer');
  return entries;
}
