/**
 * The scenarios of the category cluster (DESIGN.md, "Many nodes"): each a
 * fast-check property over generated workloads and cluster fault plans,
 * titled with its scenario id. Then the teeth: a clustered hub with one part
 * of its store handling taken out must be caught by the scenario that names it.
 */
import { expect } from 'chai';
import { assign } from 'xstate';
import { defaultSeed } from '../../cli/env.ts';
import { hubMachine } from '../../machines/hub.ts';
import { runAt } from '../../sim/scenario.ts';
import type { ProtocolVariant } from '../../sim/world.ts';
import { proveCategory, scenario } from './harness.ts';

proveCategory('cluster');

interface Tooth {
  name: string;
  caughtBy: string;
  variant: ProtocolVariant;
  failure: RegExp;
}

const TEETH: Tooth[] = [
  {
    // the new epoch is taken, but no session is told: clients keep their old cursors and drop seq 1.. as duplicates
    name: 'a store that lost its data is not announced to the sessions',
    caughtBy: 'broker_data_loss_explicit_resync',
    variant: { hubMachine: hubMachine.provide({ actions: { storeEpoch: assign(({ event }) => (event.type === 'STORE_EPOCH' ? { epoch: event.epoch } : {})) as never } }) },
    failure: /no epoch_changed resync came|delivery rate|lost/,
  },
  {
    // every node serves from logs of its own (as a plain pub/sub adapter does): a client that moves loses history
    name: 'each node keeps its own logs (no shared store)',
    caughtBy: 'node_failover_resume',
    variant: { hubMachine: hubMachine.provide({ guards: { clustered: () => false } }) },
    failure: /delivery rate|lost|duplicates|order|resync/,
  },
];

describe('cluster teeth: each part of the store handling taken out is caught', function () {
  this.timeout(120_000);
  for (const tooth of TEETH) {
    it(`teeth: ${tooth.caughtBy} catches "${tooth.name}"`, () => {
      for (let path = 0; path < 6; path++) {
        const outcome = runAt(scenario(tooth.caughtBy), { seed: defaultSeed(), path: String(path), variant: tooth.variant, traceTransitions: false })!;
        if (outcome.passed) continue;
        expect(outcome.failures.join('\n')).to.match(tooth.failure);
        console.log(`      path ${path}: ${outcome.failures[0]}`);
        return;
      }
      expect.fail(`${tooth.caughtBy} passed on "${tooth.name}" in 6 runs`);
    });
  }
});
