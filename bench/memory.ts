/**
 * Memory: the heap one idle session costs, and whether the heap grows over the
 * sustained run.
 *
 * - bytesPerIdleSession: a simulated world with 1,000 idle users (one tab,
 *   one thread each: a client actor, its link, the hub's session actor and
 *   its routing entry), connected and subscribed, minus the same world with
 *   none, after full collections, / 1,000.
 * - heapGrowth: the sustained-load world of the sim bench, stopped at a
 *   third of its load (after warm-up) and at the end of its load; heap after
 *   full collections, (end − warm) / warm. The world keeps no trace records.
 */
import { horizonOf } from '../sim/horizon.ts';
import { sustainedInput, sustainedScenario } from './sim-speed.ts';
import { emptyWorkload, idleUsers, openWorld } from './sim-world.ts';
import { CALM_PLAN } from '../sim/fault-plan.ts';
import { gcFunction, log, round, roundSpread, settledHeap, spread, type Spread } from './stats.ts';

export const IDLE_SESSIONS = 1000;

async function idleHeap(gc: () => void, users: number): Promise<number> {
  const { world, scheduler } = openWorld({ scenario: 'memory', seed: 11, workload: emptyWorkload(idleUsers(users)), plan: { ...CALM_PLAN, healAt: 0 }, settleMs: 0 });
  scheduler.runUntil(3000); // connected, subscribed, a few heartbeats
  const heap = await settledHeap(gc);
  const sessions = world.gauges.sessions().held;
  if (sessions !== users) throw new Error(`memory: ${sessions} sessions for ${users} users`);
  world.shutdown();
  scheduler.runUntil(scheduler.now + 10_000);
  return heap;
}

async function sustainedGrowth(gc: () => void, seconds: number): Promise<{ warm: number; end: number }> {
  const scenario = sustainedScenario();
  const input = sustainedInput(seconds);
  const { world, scheduler } = openWorld({ scenario: scenario.id, seed: input.worldSeed, workload: input.workload, plan: input.plan, protocol: scenario.protocol ?? {}, settleMs: scenario.settleMs });
  const healedAt = horizonOf(input.workload, input.plan);
  scheduler.runUntil(Math.floor(healedAt / 3));
  const warm = await settledHeap(gc);
  scheduler.runUntil(healedAt);
  const end = await settledHeap(gc);
  world.shutdown();
  scheduler.runUntil(scheduler.now + 10_000);
  return { warm, end };
}

export interface MemoryFigures {
  bytesPerIdleSession: number;
  heapGrowth: number;
}

export interface MemoryDetail {
  idleSessions: number;
  spread: { bytesPerIdleSession: Spread; heapGrowth: Spread };
  heapAfterWarmUpBytes: number;
  heapAtEndBytes: number;
}

export async function measureMemory(options: { reps: number; seconds: number; growthReps: number }): Promise<{ figures: MemoryFigures; detail: MemoryDetail }> {
  const gc = await gcFunction();
  if (!gc) throw new Error('memory: no garbage collector to call (run node with --expose-gc)');
  const perSession: number[] = [];
  for (let i = 0; i < options.reps; i++) {
    const empty = await idleHeap(gc, 0);
    const full = await idleHeap(gc, IDLE_SESSIONS);
    perSession.push((full - empty) / IDLE_SESSIONS);
    log(`memory: rep ${i + 1}/${options.reps}: ${Math.round(perSession.at(-1)!)} bytes per idle session`);
  }
  const growth: number[] = [];
  let last = { warm: 0, end: 0 };
  for (let i = 0; i < options.growthReps; i++) {
    last = await sustainedGrowth(gc, options.seconds);
    growth.push((last.end - last.warm) / last.warm);
    log(`memory: sustained run ${i + 1}/${options.growthReps}: heap ${(last.warm / 1e6).toFixed(1)} MB after warm-up → ${(last.end / 1e6).toFixed(1)} MB at the end (${(100 * growth.at(-1)!).toFixed(1)}%)`);
  }
  const per = spread(perSession);
  const grow = spread(growth);
  return {
    figures: { bytesPerIdleSession: Math.round(per.median), heapGrowth: round(grow.median) },
    detail: { idleSessions: IDLE_SESSIONS, spread: { bytesPerIdleSession: roundSpread(per, 4), heapGrowth: roundSpread(grow) }, heapAfterWarmUpBytes: last.warm, heapAtEndBytes: last.end },
  };
}
