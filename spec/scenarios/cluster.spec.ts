/**
 * The scenarios of the category cluster (DESIGN.md, "Many nodes"): each a
 * fast-check property over generated workloads and cluster fault plans,
 * titled with its scenario id. Then the teeth: a clustered hub with one part
 * of its store handling taken out must be caught by the scenario that names it.
 */
import { assign } from 'xstate';
import { hubMachine } from '../../machines/hub.ts';
import type { ProtocolVariant } from '../../sim/world.ts';
import { proveCategory, proveTeeth, type CategoryTooth } from './harness.ts';

proveCategory('cluster');

const TEETH: CategoryTooth[] = [
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

proveTeeth('cluster teeth: each part of the store handling taken out is caught', TEETH);
