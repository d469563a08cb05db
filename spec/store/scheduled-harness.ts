/** A harness for stores that live on the simulated scheduler: time passes by stepping it. */
import { Scheduler } from '../../sim/scheduler.ts';
import type { Store } from '../../machines/store.ts';
import type { StoreHarness } from './store-node.ts';

const MAX_STEPS = 200_000;

export function scheduledHarness(
  scheduler: Scheduler,
  store: Store,
  faults: { loseData(): void; lossBreaksLinks: boolean; dropLinks?: () => void },
): StoreHarness {
  const until = async (done: () => boolean, what: string): Promise<void> => {
    const result = scheduler.runUntilSettled({ maxSteps: MAX_STEPS, settled: done });
    if (!result.ok) throw new Error(`${what}: ${result.error.message}`);
    if (!done()) throw new Error(`${what}: the world went idle at t=${scheduler.now}ms without it`);
  };
  return {
    store,
    until,
    loseData: async () => faults.loseData(),
    lossBreaksLinks: faults.lossBreaksLinks,
    ...(faults.dropLinks ? { dropLinks: async () => faults.dropLinks!() } : {}),
    close: async () => {},
  };
}

/** Epoch names for an embedded store in a test: distinct, deterministic. */
export function epochCounter(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}
