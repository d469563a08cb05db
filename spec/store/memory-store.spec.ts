import { MemoryStore } from '../../machines/memory-store.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { describeContract } from './store-contract.ts';
import { epochCounter, scheduledHarness } from './scheduled-harness.ts';
import type { HarnessFactory } from './store-node.ts';

/** The embedded store, its replies deferred on a scheduler as the world defers them. */
export const memoryHarness: HarnessFactory = async (capacity) => {
  const scheduler = new Scheduler();
  const store = new MemoryStore({ capacity, newEpoch: epochCounter('m'), defer: (fn) => scheduler.after(0, 'store', fn) });
  return scheduledHarness(scheduler, store, { loseData: () => store.wipe(), lossBreaksLinks: false });
};

describeContract('memory', memoryHarness, { links: false });
