import { SimBroker } from '../../sim/broker.ts';
import { Random } from '../../sim/random.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { describeContract } from './store-contract.ts';
import { scheduledHarness } from './scheduled-harness.ts';
import type { HarnessFactory } from './store-node.ts';

const brokerHarness = (seed: number): HarnessFactory => async (capacity) => {
  const scheduler = new Scheduler();
  const broker = new SimBroker({ scheduler, random: Random.seeded(seed).fork('broker'), capacity, latency: { minMs: 1, maxMs: 8 } });
  return scheduledHarness(scheduler, broker, {
    loseData: () => broker.restart({ keepData: false, downMs: 50 }),
    lossBreaksLinks: true,
    dropLinks: () => broker.restart({ keepData: true, downMs: 30 }),
  });
};

describeContract('simulated broker', brokerHarness(1), { links: true });
