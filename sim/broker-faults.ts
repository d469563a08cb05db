/**
 * The broker's faults as data, for the `cluster` scenarios: a plan plus a
 * seed reproduces a run. (Validation at the edge joins the fault plan's when
 * the cluster scenarios do; node crashes are the world's, not the broker's.)
 */
import type { SimBroker } from './broker.ts';
import type { Scheduler } from './scheduler.ts';

/** Node `node` loses the broker from `at` for `forMs`. */
export interface BrokerPartition {
  kind: 'partition';
  node: string;
  at: number;
  forMs: number;
}

/** The broker stops at `at` for `forMs`, and comes back with its data or empty (a new epoch). */
export interface BrokerRestart {
  kind: 'restart';
  at: number;
  forMs: number;
  keepData: boolean;
}

export type BrokerFault = BrokerPartition | BrokerRestart;

/** Put every fault of the plan on the world's scheduler. */
export function scheduleBrokerFaults(scheduler: Scheduler, broker: SimBroker, faults: readonly BrokerFault[]): void {
  for (const f of faults) {
    if (f.kind === 'partition') {
      scheduler.at(f.at, 'broker:partition', () => broker.partition(f.node));
      scheduler.at(f.at + f.forMs, 'broker:heal', () => broker.heal(f.node));
    } else scheduler.at(f.at, 'broker:restart', () => broker.restart({ keepData: f.keepData, downMs: f.forMs }));
  }
}

/** One line per plan, printed with a failure. */
export function describeBrokerFaults(faults: readonly BrokerFault[]): string {
  const one = (f: BrokerFault): string => (f.kind === 'partition' ? `cut:${f.node}@${f.at}+${f.forMs}` : `restart${f.keepData ? '' : '(empty)'}@${f.at}+${f.forMs}`);
  return `broker=[${faults.map(one).join(',')}]`;
}
