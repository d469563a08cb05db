/**
 * The run driver of the simulation: one world on a scheduler, with XState's
 * clock on it and the simulated network, run through its phases. The
 * workload runs and faults fire until the plan heals; the world keeps running
 * for `settleMs` (the liveness bound); then every client stops, the server
 * shuts down, and the world counts what was left running. (The world over
 * real sockets has its own driver: sim/ws-world.ts.)
 */
import { SimClock } from './clock.ts';
import { horizonOf } from './horizon.ts';
import { SimNetwork } from './network.ts';
import { Scheduler } from './scheduler.ts';
import { World, type WorldInput, type WorldResult, type WorldSetup } from './world.ts';

export function runWorld(input: WorldInput): WorldResult {
  return runWorldOn(input, (i, setup) => new World(i, setup));
}

/** One run in simulated time of the world `make` builds (the embedded server's, or a cluster's). */
export function runWorldOn(input: WorldInput, make: (input: WorldInput, setup: WorldSetup, scheduler: Scheduler) => World): WorldResult {
  const scheduler = new Scheduler();
  const clock = new SimClock(scheduler);
  let network: SimNetwork | undefined;
  const world = make(input, {
    time: scheduler,
    clock,
    transport: (w) =>
      (network = new SimNetwork({ scheduler, random: w.random.fork('network'), trace: w.trace, plan: input.plan, onRestart: () => w.restartServer() })),
  }, scheduler);
  world.start();
  const healedAt = horizonOf(input.workload, input.plan);
  world.gauges.sample(250, healedAt + input.settleMs);
  world.gauges.sampleMemory(Math.floor(healedAt / 3), healedAt);
  runUnlessRunaway(scheduler, network!, healedAt + input.settleMs);
  world.gauges.write();
  world.shutdown();
  // closes travel one latency; nothing should be left after that
  scheduler.runUntil(scheduler.now + 10_000);
  world.end(scheduler.size, healedAt);
  const rogues = input.plan.rogues?.length ?? 0;
  const faults = { ...world.network.stats(), ...(rogues > 0 ? { rogue: rogues } : {}) };
  return { trace: world.trace, faults, healedAt, endedAt: scheduler.now, transitions: world.transitionCount, schedulerSteps: scheduler.steps };
}

/** Simulated time between two looks at the network: a runaway run goes on at most this long. */
const SLICE_MS = 50;

/**
 * `scheduler.runUntil(t)`, in slices (the same entries in the same order),
 * that stops early once a sender ran away: its run has failed, and going on
 * would only spend time (the sender keeps trying) for nothing.
 */
function runUnlessRunaway(scheduler: Scheduler, network: SimNetwork, t: number): void {
  for (;;) {
    const to = Math.min(t, scheduler.now + SLICE_MS);
    scheduler.runUntil(to);
    if (to >= t || network.ranAway()) return;
  }
}
