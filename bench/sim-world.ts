/**
 * A simulated world the bench can stop in the middle: the same construction
 * as `runWorld` (sim/run-driver.ts) — scheduler, XState clock on it, simulated
 * network, `World` — but the bench advances time itself, so it can collect
 * garbage and read the heap, or time the hub alone, between two instants.
 */
import { SimClock } from '../sim/clock.ts';
import type { FaultPlan } from '../sim/fault-plan.ts';
import { SimNetwork } from '../sim/network.ts';
import type { ProtocolVariant } from '../sim/world.ts';
import { Scheduler } from '../sim/scheduler.ts';
import { World } from '../sim/world.ts';
import type { UserSpec, Workload } from '../sim/workload.ts';

export interface OpenWorld {
  world: World;
  scheduler: Scheduler;
}

export function openWorld(options: { scenario: string; seed: number; workload: Workload; plan: FaultPlan; protocol?: ProtocolVariant; settleMs: number }): OpenWorld {
  const scheduler = new Scheduler();
  const clock = new SimClock(scheduler);
  const world = new World(
    { ...options, protocol: options.protocol ?? {}, keepTrace: false, traceTransitions: false },
    {
      time: scheduler,
      clock,
      transport: (w) => new SimNetwork({ scheduler, random: w.random.fork('network'), trace: w.trace, plan: options.plan, onRestart: () => w.restartServer() }),
    },
  );
  world.start();
  return { world, scheduler };
}

/** `count` idle users of one tenant, one tab each, subscribed to the given (colliding) thread ids, producing nothing. */
export function idleUsers(count: number, tenant = 't0', threads: readonly string[] = ['th0']): UserSpec[] {
  return Array.from({ length: count }, (_, i) => ({ tenant, user: `idle${i}`, role: 'admin' as const, tabs: 1, threads: [...threads], runs: [] }));
}

export const emptyWorkload = (users: UserSpec[]): Workload => ({ users, roleChanges: [], subscriptionChanges: [], appFailures: [], tabCloses: [], fuzzFrames: 0 });
