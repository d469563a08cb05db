/** `wsim run`: the scenarios as a report (table or JSON); exit 1 if any fails. */
import type { Command } from 'commander';
import { defaultSeed, runScenario, scaledRuns, type Scenario } from '../sim/scenario.ts';
import { findScenario, SCENARIOS } from '../sim/scenarios/index.ts';
import { applyOverrides } from '../sim/fault-arbitraries.ts';
import { describeFaultPlan } from '../sim/fault-plan.ts';
import { addFaultFlags, count, overridesOf, scenarioOption, seed, variantOf, variantOption, type FaultFlags } from './options.ts';
import { rowOf, table, type ScenarioRow } from './report.ts';

const WS_DEFAULT_RUNS = 3;

interface RunFlags extends FaultFlags {
  scenario?: string;
  seed?: number;
  runs?: number;
  transport: 'sim' | 'ws';
  json?: boolean;
  quiet?: boolean;
  variant?: string;
}

export function register(program: Command): void {
  const command = program
    .command('run')
    .description('run scenarios (all 25 by default) and print the report; exit 1 if any fails')
    .addOption(scenarioOption())
    .addOption(variantOption())
    .option('--seed <n>', 'fast-check seed of the runs (default 42, or SIM_SEED)', seed)
    .option('--runs <n>', 'runs per scenario (default: the scenario’s own, scaled by SIM_RUNS)', count)
    .option('--transport <kind>', 'sim (simulated network) or ws (real sockets on 127.0.0.1)', 'sim')
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no line per run on stderr (seed and fault plan)');
  addFaultFlags(command).action(async (flags: RunFlags) => {
    if (flags.transport !== 'sim' && flags.transport !== 'ws') {
      process.stderr.write(`wsim run: --transport must be sim or ws, got "${flags.transport}"\n`);
      process.exit(2);
    }
    const scenarios = flags.scenario ? [findScenario(flags.scenario)!] : [...SCENARIOS];
    const rows: ScenarioRow[] = [];
    for (const scenario of scenarios) rows.push(await runOne(scenario, flags));
    if (flags.json) process.stdout.write(`${JSON.stringify({ scenarios: rows }, null, 2)}\n`);
    else process.stdout.write(`${table(rows)}\n`);
    process.exitCode = rows.every((r) => r.passed) ? 0 : 1;
  });
}

async function runOne(scenario: Scenario, flags: RunFlags): Promise<ScenarioRow> {
  const overrides = overridesOf(flags);
  const s = flags.seed ?? defaultSeed();
  const started = performance.now();
  if (flags.transport === 'ws') {
    // real sockets run in real time: a few runs by default (a run takes seconds, not milliseconds)
    const runs = flags.runs ?? Math.min(WS_DEFAULT_RUNS, scaledRuns(scenario));
    const { runScenarioOverWs } = await import('../sim/ws-world.ts');
    const report = await runScenarioOverWs(scenario, { seed: s, runs, ...(overrides ? { overrides } : {}) });
    return logged(rowOf(report, performance.now() - started, overrides, flags.variant));
  }
  const report = runScenario(scenario, {
    seed: s,
    runs: flags.runs ?? scaledRuns(scenario),
    ...(overrides ? { overrides } : {}),
    ...variantOf(flags.variant),
    // the seed and the full plan first, so a run killed midway can still be reproduced
    onStart: (path, input) => {
      if (!flags.quiet) process.stderr.write(`  ${scenario.id} seed ${s} path ${path} world ${input.worldSeed}: ${describeFaultPlan(overrides ? applyOverrides(input.plan, overrides, input.workload) : input.plan)}\n`);
    },
  });
  const row = rowOf(report, performance.now() - started, overrides, flags.variant);
  // again on failure: the full vector of the failing run
  if (report.failure) row.failures = [...(row.failures ?? []), `fault plan: ${describeFaultPlan(report.failure.input.plan)}`];
  return logged(row);
}

function logged(row: ScenarioRow): ScenarioRow {
  process.stderr.write(`${row.passed ? '✓' : '✗'} ${row.id} (${row.runs} runs, ${row.metrics.wallSeconds}s)\n`);
  if (!row.passed) process.stderr.write(`  ${row.failures?.slice(0, 3).join('\n  ')}\n  replay: ${row.replay}\n`);
  return row;
}
