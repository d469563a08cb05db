/**
 * The SIM_* environment variables, read here and nowhere else (the world in
 * sim/ takes its seed and run counts as arguments):
 *
 * - `SIM_SEED`: the default seed of `wsim run`, `replay`, `swarm`, `inspect`
 *   and the scenario specs (42 when unset);
 * - `SIM_RUNS`: a multiplier of every scenario's default runs (1 when unset).
 *
 * A value that is set but not valid is a usage error, never a silent default.
 */
import type { Scenario } from '../sim/scenario.ts';
import { checkSeed } from './options.ts';
import { usage } from './usage.ts';

export const DEFAULT_SEED = 42;

type Env = Readonly<Record<string, string | undefined>>;

/** The problem with the SIM_* variables of `env`, if any: one line. */
export function envProblem(env: Env = process.env): string | undefined {
  if (env.SIM_SEED !== undefined) {
    const seed = checkSeed(env.SIM_SEED);
    if (!seed.ok) return `SIM_SEED ${seed.message}`;
  }
  if (env.SIM_RUNS !== undefined && runsScaleOf(env.SIM_RUNS) === undefined) return `SIM_RUNS must be a number > 0 (a multiplier of each scenario's runs), got '${env.SIM_RUNS}'`;
  return undefined;
}

function runsScaleOf(text: string): number | undefined {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Throws the usage error of a bad SIM_* variable (for `command`). */
export function checkEnv(command: string, env: Env = process.env): void {
  const problem = envProblem(env);
  if (problem) usage(command, problem);
}

/** The seed when none is given: SIM_SEED, else 42. */
export function defaultSeed(env: Env = process.env): number {
  checkEnv('', env);
  return env.SIM_SEED === undefined ? DEFAULT_SEED : Number(env.SIM_SEED);
}

/**
 * A scenario's default runs, scaled by SIM_RUNS (SIM_RUNS=10 → ten times as
 * many), times `depth`: how many times its own runs the caller proves by
 * default (`npm run spec` proves more than `wsim run` reports).
 */
export function scaledRuns(scenario: Pick<Scenario, 'runs'>, env: Env = process.env, depth = 1): number {
  checkEnv('', env);
  const scale = env.SIM_RUNS === undefined ? 1 : runsScaleOf(env.SIM_RUNS)!;
  return Math.max(1, Math.round(scenario.runs * depth * scale));
}
