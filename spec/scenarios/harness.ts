/**
 * Proves a scenario as a fast-check property over its generated workloads and
 * fault plans. A failure prints the seed, the path and the exact replay
 * command, then the shrunk counterexample's failures.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { runAt, runInput, type Category, type RunOutcome, type Scenario, type ScenarioInput } from '../../sim/scenario.ts';
import { findScenario, SCENARIOS } from '../../sim/scenarios/index.ts';
import type { ProtocolVariant } from '../../sim/world.ts';
import { defaultSeed, scaledRuns } from '../../cli/env.ts';
import { replayCommand } from '../../cli/replay-command.ts';

export function scenario(id: string): Scenario {
  const found = findScenario(id);
  if (!found) throw new Error(`no scenario ${id}`);
  return found;
}

export interface PropertyResult {
  failed: boolean;
  seed: number;
  path: string | undefined;
  runs: number;
  counterexample: ScenarioInput | undefined;
  outcome: RunOutcome | undefined;
  interrupted: boolean;
  /** How many of the runs reached each declared condition (shrink runs not counted). */
  reached: Map<string, number>;
}

/**
 * How many times its own default runs `npm run spec` proves of each scenario
 * (SIM_RUNS scales this too): as many as the suite's wall time pays for, on
 * two mocha workers (.mocharc.json), measured: README "Tests".
 */
export const SPEC_DEPTH = 4;

/** Check a scenario's property, optionally against a broken protocol variant. */
export function check(s: Scenario, options: { variant?: ProtocolVariant; runs?: number; timeLimitMs?: number } = {}): PropertyResult {
  const seed = defaultSeed();
  const numRuns = options.runs ?? scaledRuns(s, process.env, SPEC_DEPTH);
  const reached = new Map<string, number>((s.sometimes ?? []).map((c) => [c.name, 0]));
  let run = 0;
  const details = fc.check(
    fc.property(s.input, (input) => {
      const outcome = runInput(s, input, { seed, ...(options.variant ? { variant: options.variant } : {}) });
      if (run++ < numRuns) for (const name of outcome.reached) reached.set(name, (reached.get(name) ?? 0) + 1);
      return outcome.passed;
    }),
    { seed, numRuns, interruptAfterTimeLimit: options.timeLimitMs ?? 240_000, markInterruptAsFailure: false },
  );
  const counterexample = details.counterexample?.[0];
  const outcome = counterexample ? runInput(s, counterexample, { seed, ...(options.variant ? { variant: options.variant } : {}) }) : undefined;
  return { failed: details.failed, seed: details.seed, path: details.counterexamplePath ?? undefined, runs: details.numRuns, counterexample, outcome, interrupted: details.interrupted, reached };
}

/** The spec body of a scenario: its property holds on the real protocol. */
export function prove(id: string): void {
  const s = scenario(id);
  const result = check(s);
  if (!result.failed) return coverage(id, result);
  const lines = [
    `${id} failed (seed ${result.seed}, path ${result.path})`,
    `replay: ${replayCommand(id, result.seed, result.path ?? '0')}`,
    ...(result.outcome?.failures ?? []).slice(0, 8).map((f) => `  ${f}`),
  ];
  console.error(lines.join('\n'));
  throw new Error(lines.join('\n'));
}

/**
 * The coverage signals of a passing scenario: how often each declared
 * condition was reached over its runs; one never reached fails the test.
 */
function coverage(id: string, result: PropertyResult): void {
  if (result.reached.size === 0) return;
  console.log(`      coverage over ${result.runs} runs: ${[...result.reached].map(([name, n]) => `${name} ${n}/${result.runs}`).join('; ')}`);
  const never = [...result.reached].filter(([, n]) => n === 0).map(([name]) => name);
  if (never.length > 0) throw new Error(`${id} never reached: ${never.join(', ')} (in ${result.runs} runs)`);
}

/** Size of a counterexample: what a person has to read to understand it. */
export function sizeOf(input: ScenarioInput): { users: number; tabs: number; events: number; faults: number } {
  const events = input.workload.users.reduce((n, u) => n + u.runs.reduce((m, r) => m + r.steps.length, 0), 0);
  const p = input.plan;
  const faults = p.partitions.length + p.halfOpen.length + p.blackholes.length + p.restarts.length + p.links.length + [p.drop, p.dup, p.reorder, p.corrupt].filter((x) => x > 0).length + (p.disconnect.everyMs ? 1 : 0);
  return { users: input.workload.users.length, tabs: input.workload.users.reduce((n, u) => n + u.tabs, 0), events, faults };
}

/** The five tests of a category: one per scenario, titled with its id and what must hold. */
export function proveCategory(category: Category): void {
  describe(category, function () {
    this.timeout(300_000);
    for (const s of SCENARIOS.filter((x) => x.category === category)) {
      it(`${s.id}: ${s.holds}`, () => prove(s.id));
    }
  });
}

/** A broken protocol variant that the scenario it names must catch, with the failure line it names. */
export interface CategoryTooth {
  name: string;
  caughtBy: string;
  variant: ProtocolVariant;
  failure: RegExp;
}

/**
 * One test per tooth: the first of its scenario's default-seed paths that
 * fails must fail with the named line. A few paths, because one path may not
 * draw the fault the tooth needs (a rogue kind, a crash at the right time).
 */
export function proveTeeth(title: string, teeth: readonly CategoryTooth[], paths = 6): void {
  describe(title, function () {
    this.timeout(120_000);
    for (const tooth of teeth) {
      it(`teeth: ${tooth.caughtBy} catches "${tooth.name}"`, () => {
        for (let path = 0; path < paths; path++) {
          const outcome = runAt(scenario(tooth.caughtBy), { seed: defaultSeed(), path: String(path), variant: tooth.variant, traceTransitions: false })!;
          if (outcome.passed) continue;
          expect(outcome.failures.join('\n')).to.match(tooth.failure);
          console.log(`      path ${path}: ${outcome.failures[0]}`);
          return;
        }
        expect.fail(`${tooth.caughtBy} passed on "${tooth.name}" in ${paths} runs`);
      });
    }
  });
}
