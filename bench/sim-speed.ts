/**
 * Simulation speed: the seed's heaviest load (20 users × 50 events/s × 30 s
 * of simulated time, the full protocol — acks, retransmissions, heartbeats —
 * under a mild fault plan: latency 5–20 ms, jitter, 1% drop and 1% dup) run
 * by `runWorld` without keeping the trace, against the rate of a trivial
 * XState transition measured in the same process.
 *
 * The timed runs keep no trace (the trace's per-kind counts still give the
 * delivered events); one more run keeps it and is judged by the scenario's
 * oracle, untimed, so the figure is of a world that delivered everything.
 */
import fc from 'fast-check';
import { createActor, setup } from 'xstate';
import { planShape } from '../sim/fault-arbitraries.ts';
import { runInput, type Scenario, type ScenarioInput } from '../sim/scenario.ts';
import { inputOf } from '../sim/scenarios/build.ts';
import { findScenario } from '../sim/scenarios/index.ts';
import { runWorld } from '../sim/run-driver.ts';
import type { WorldResult } from '../sim/world.ts';
import { shape, workloadSize } from '../sim/workload.ts';
import { log, round, roundSpread, spread, type Spread } from './stats.ts';

export const SIM_SCENARIO = 'sustained_load_endurance_performance';
/** The load of the full bench and of the scenario's own contract. */
export const FULL_LOAD_SECONDS = 30;
export const USERS = 20;
export const RATE_HZ = 50;

export function sustainedScenario(): Scenario {
  const scenario = findScenario(SIM_SCENARIO);
  if (!scenario) throw new Error(`scenario ${SIM_SCENARIO} is missing`);
  return scenario;
}

/**
 * The bench's input: `users` users of one tenant, one tab and one thread each,
 * one run of `seconds × rate` steps at 20 ms (a START, 2 events per tool, the
 * rest thinking, a COMPLETE), under the default mild plan.
 */
export function sustainedInput(seconds: number, users = USERS, seed = 42): ScenarioInput {
  const steps = seconds * RATE_HZ;
  const tools = Math.floor(steps / 6);
  const thinking = steps - 2 - 2 * tools;
  const arb = inputOf(
    shape({ tenants: [1, 1], usersPerTenant: [users, users], tabs: [1, 1], threadsPerUser: [1, 1], runsPerUser: [1, 1], toolsPerRun: [tools, tools], thinkingPerRun: [thinking, thinking], rateHz: [RATE_HZ, RATE_HZ], earliestStartMs: 500, startWithinMs: 700 }),
    planShape({ latencyMs: [5, 20], jitterMs: [0, 10], drop: [0.01, 0.01], dup: [0.01, 0.01] }),
  );
  const [input] = fc.sample(arb, { seed, numRuns: 1 });
  if (!input) throw new Error('the sustained-load arbitrary drew nothing');
  return input;
}

/** One timed world, the way `runInput` runs it, minus the trace and the judging. */
export function runSustained(scenario: Scenario, input: ScenarioInput): { result: WorldResult; wallSeconds: number } {
  const started = performance.now();
  const result = runWorld({
    scenario: scenario.id,
    seed: input.worldSeed,
    workload: input.workload,
    plan: input.plan,
    protocol: scenario.protocol ?? {},
    settleMs: scenario.settleMs,
    keepTrace: false,
    traceTransitions: false,
  });
  return { result, wallSeconds: (performance.now() - started) / 1000 };
}

/** Transitions per second of a two-state toggle: the cost of XState itself (createActor + send, nothing else). */
export function xstateTransitionsPerSecond(sends: number): number {
  const toggle = setup({ types: { events: {} as { type: 'TOGGLE' } } }).createMachine({
    id: 'toggle',
    initial: 'off',
    states: { off: { on: { TOGGLE: 'on' } }, on: { on: { TOGGLE: 'off' } } },
  });
  const actor = createActor(toggle).start();
  const event = { type: 'TOGGLE' } as const;
  for (let i = 0; i < 2000; i++) actor.send(event); // warm the JIT
  const started = performance.now();
  for (let i = 0; i < sends; i++) actor.send(event);
  const seconds = (performance.now() - started) / 1000;
  actor.stop();
  return sends / seconds;
}

export interface SimFigures {
  scenario: string;
  simulatedSeconds: number;
  wallSeconds: number;
  speedup: number;
  /** Wall microseconds per delivered event (median run): the cost the speedup hides behind the load's rate. */
  wallPerEventUs: number;
  deliveredEvents: number;
  eventsPerWallSecond: number;
  transitionsPerEvent: number;
  xstateTransitionsPerSecond: number;
  floorRatio: number;
}

export interface SimDetail {
  users: number;
  rateHz: number;
  producedEvents: number;
  /** Simulated time of the whole world (load, settle window, shutdown): `simulatedSeconds` counts the load and faults only. */
  simulatedSecondsTotal: number;
  transitions: number;
  schedulerSteps: number;
  faults: Record<string, number>;
  /**
   * The judged run: the oracle's verdict on the same input with the trace kept.
   * `passed` is the scenario's whole contract, less what a short load cannot
   * judge (`notJudged`: its memory-growth and drift checks need the full 30 s;
   * a --quick run ends before the replay logs fill); `deliveryOk` is no loss,
   * no duplicate, no reordering.
   */
  verified: { passed: boolean; notJudged: string[]; deliveryOk: boolean; delivered: number; lost: number; duplicatesToApp: number; orderViolations: number; latencyP99Ms: number; failures: string[] };
  spread: { wallSeconds: Spread; speedup: Spread; wallPerEventUs: Spread; eventsPerWallSecond: Spread; xstateTransitionsPerSecond: Spread };
}

export async function measureSim(options: { seconds: number; reps: number; toggleSends: number }): Promise<{ figures: SimFigures; detail: SimDetail }> {
  const scenario = sustainedScenario();
  const input = sustainedInput(options.seconds);
  const size = workloadSize(input.workload);
  log(`sim: ${size.users} users × ${RATE_HZ} events/s × ${options.seconds} s = ${size.events} events, plan latency ${input.plan.latency.baseMs}±${input.plan.latency.jitterMs} ms, drop ${input.plan.drop}, dup ${input.plan.dup}`);

  // judged once, untimed: the timed runs are the same deterministic world
  const judged = runInput(scenario, input, { seed: 42, keepTrace: true, traceTransitions: false });
  const m = judged.verdict.metrics;
  // A load shorter than the scenario's own (--quick) ends before the replay logs fill and the
  // latency settles: its long-run figures (memory growth, drift) are not judged, and saying
  // "FAILED" for them would be a false alarm.
  const short = options.seconds < FULL_LOAD_SECONDS;
  const notJudged = short ? judged.violations.filter((v) => v.nominalOnly).map((v) => `${v.invariant}: ${v.message}`) : [];
  const failures = judged.failures.filter((f) => !notJudged.includes(f));
  const passed = failures.length === 0;
  log(`sim: verification run ${passed ? 'passed' : 'FAILED'}: ${m.delivered}/${m.expected} critical delivered, p99 ${Math.round(m.latencyP99Ms)} ms simulated${short ? `; memory growth and latency drift need the full ${FULL_LOAD_SECONDS} s load and are not judged on ${options.seconds} s` : ''}`);

  const walls: number[] = [];
  const toggles: number[] = [];
  let last: WorldResult | undefined;
  for (let i = 0; i < options.reps; i++) {
    const { result, wallSeconds } = runSustained(scenario, input);
    walls.push(wallSeconds);
    last = result;
    // interleaved with the world runs: both see the same machine state (thermal, other load)
    toggles.push(xstateTransitionsPerSecond(options.toggleSends));
    log(`sim: rep ${i + 1}/${options.reps}: ${wallSeconds.toFixed(2)} s wall, ${result.trace.count('app')} delivered, toggle ${Math.round(toggles.at(-1)!)}/s`);
  }
  const result = last!;
  const delivered = result.trace.count('app');
  const simulatedSeconds = result.healedAt / 1000;
  const wall = spread(walls);
  const toggle = spread(toggles);
  const eventsPerWallSecond = delivered / wall.median;
  const transitionsPerEvent = result.transitions / Math.max(1, delivered);
  const figures: SimFigures = {
    scenario: SIM_SCENARIO,
    simulatedSeconds: round(simulatedSeconds, 4),
    wallSeconds: round(wall.median),
    speedup: round(simulatedSeconds / wall.median),
    wallPerEventUs: round((wall.median * 1e6) / Math.max(1, delivered)),
    deliveredEvents: delivered,
    eventsPerWallSecond: round(eventsPerWallSecond),
    transitionsPerEvent: round(transitionsPerEvent),
    xstateTransitionsPerSecond: round(toggle.median),
    floorRatio: round((eventsPerWallSecond * transitionsPerEvent) / toggle.median),
  };
  const detail: SimDetail = {
    users: size.users,
    rateHz: RATE_HZ,
    producedEvents: result.trace.count('produce'),
    simulatedSecondsTotal: result.endedAt / 1000,
    transitions: result.transitions,
    schedulerSteps: result.schedulerSteps,
    faults: { ...result.faults },
    verified: { passed, notJudged, deliveryOk: m.lost === 0 && m.duplicatesToApp === 0 && m.orderViolations === 0, delivered: m.delivered, lost: m.lost, duplicatesToApp: m.duplicatesToApp, orderViolations: m.orderViolations, latencyP99Ms: m.latencyP99Ms, failures: failures.slice(0, 5) },
    spread: {
      wallSeconds: roundSpread(wall),
      speedup: roundSpread(spread(walls.map((w) => simulatedSeconds / w))),
      wallPerEventUs: roundSpread(spread(walls.map((w) => (w * 1e6) / Math.max(1, delivered)))),
      eventsPerWallSecond: roundSpread(spread(walls.map((w) => delivered / w))),
      xstateTransitionsPerSecond: roundSpread(toggle),
    },
  };
  return { figures, detail };
}
