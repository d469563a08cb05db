/**
 * `wsim run`: the scenarios as a report (table or JSON); exit 1 if any fails.
 *
 * stderr shows progress (a bar on a terminal, about ten lines elsewhere), not
 * one line per run; `--verbose` adds a line per run (its seed, path, world
 * seed and fault plan), printed before the run starts so a run killed midway
 * can still be reproduced. Both transports behave the same.
 */
import type { Command } from 'commander';
import { runScenario, type RunOutcome, type Scenario, type ScenarioReport } from '../sim/scenario.ts';
import { SCENARIOS, findScenario } from '../sim/scenarios/index.ts';
import { applyOverrides, type FaultOverrides } from '../sim/fault-arbitraries.ts';
import { describeFaultPlan } from '../sim/fault-plan.ts';
import { traceReplayCommand } from './replay-command.ts';
import { defaultSeed, scaledRuns } from './env.ts';
import { formatCount, roundNumbers } from './duration.ts';
import { addFaultFlags, count, overridesOf, scenarioOption, seed, usage, variantOf, variantOption, type FaultFlags } from './options.ts';
import { startProgress, type Progress } from './progress.ts';
import { TCP_IMPOSSIBLE_OVERRIDES } from '../sim/ws-faults.ts';
import { rowOf, table, type ScenarioRow } from './report.ts';

const WS_DEFAULT_RUNS = 3;

interface RunFlags extends FaultFlags {
  scenario?: string;
  seed?: number;
  runs?: number;
  transport: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  list?: boolean;
  variant?: string;
}

/** What a run of `wsim run` needs besides the scenarios. */
interface Plan {
  seed: number;
  overrides: FaultOverrides | undefined;
  flags: RunFlags;
  progress: Progress | undefined;
}

export function register(program: Command): void {
  const command = program
    .command('run')
    .description('run the scenarios (all by default) and print the report; exit 1 if any fails')
    .addOption(scenarioOption('one scenario (default: all; --list shows them)'))
    .addOption(variantOption())
    .option('--seed <n>', 'the seed of the runs, 0..2147483647 (default 42, or SIM_SEED)', seed)
    .option('--runs <n>', 'runs per scenario (default: the scenario’s own, scaled by SIM_RUNS)', count)
    .option('--transport <kind>', 'sim (simulated network) or ws (real sockets on 127.0.0.1)', 'sim')
    .option('--json', 'print one JSON object on stdout')
    .option('--verbose', 'a line per run on stderr (seed, path, world seed, fault plan)')
    .option('--quiet', 'no progress on stderr')
    .option('--list', 'list the scenario ids and their default runs, and exit')
    .addHelpText('after', '\nCost on 2 cores (one is used): all scenarios ~35 s; one scenario 1–10 s; --runs 50 ~6 min.\nOver --transport ws a run takes seconds of real time. Reference: docs/cli.md');
  addFaultFlags(command).action(async (flags: RunFlags) => {
    if (flags.list) return void process.stdout.write(listing());
    if (flags.transport !== 'sim' && flags.transport !== 'ws') usage('run', `--transport must be sim or ws, got '${flags.transport}'`);
    if (flags.verbose && flags.quiet) usage('run', '--verbose and --quiet contradict each other; choose one');
    if (flags.variant && flags.transport === 'ws') usage('run', '--variant runs in the simulated world only; drop --transport ws');
    const impossible = flags.transport === 'ws' ? TCP_IMPOSSIBLE_OVERRIDES.filter((f) => flags[f] !== undefined) : [];
    if (impossible.length > 0) usage('run', `${impossible.map((f) => `--${f}`).join(', ')} cannot apply with --transport ws: TCP never loses, duplicates or reorders bytes (use --disconnect-every, or --transport sim)`);
    // the cluster category needs N nodes and a broker: it runs in the simulated world; over real
    // sockets the cluster is proven by spec/cluster/three-nodes.spec.ts (three `wsim serve --redis`)
    const clustered = (s: Scenario) => s.category === 'cluster';
    if (flags.transport === 'ws' && flags.scenario && clustered(findScenario(flags.scenario)!)) usage('run', `${flags.scenario} is a cluster scenario: it runs in the simulated world only; drop --transport ws`);
    const scenarios = flags.scenario ? [findScenario(flags.scenario)!] : SCENARIOS.filter((s) => flags.transport !== 'ws' || !clustered(s));
    if (flags.transport === 'ws' && !flags.scenario && !flags.quiet) process.stderr.write(`wsim run: the ${SCENARIOS.length - scenarios.length} cluster scenarios run in the simulated world only (over real sockets the cluster is spec/cluster/three-nodes.spec.ts): not run here\n`);
    const runsOf = (s: Scenario) => runsFor(s, flags);
    const total = scenarios.reduce((n, s) => n + runsOf(s), 0);
    const plan: Plan = { seed: flags.seed ?? defaultSeed(), overrides: overridesOf(flags), flags, progress: undefined };
    const rows: ScenarioRow[] = [];
    let failed = 0;
    let finished = 0;
    if (!flags.quiet) {
      const transport = flags.transport === 'ws' ? ' over real sockets' : '';
      process.stderr.write(`wsim run: ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}, ${formatCount(total)} run${total === 1 ? '' : 's'} from seed ${plan.seed}${transport}${flags.verbose ? '' : ' (--verbose: a line per run)'}\n`);
      plan.progress = startProgress({
        command: 'run',
        total,
        status: (done) => `${finished}/${scenarios.length} scenarios, ${formatCount(done)}/${formatCount(total)} runs${failed > 0 ? `, ${failed} failed` : ''}`,
        tty: flags.verbose ? false : undefined,
      });
    }
    try {
      for (const scenario of scenarios) {
        const report = await runOne(scenario, runsOf(scenario), plan);
        const row = rowOf(report, report.wallMs, plan.overrides, flags.variant);
        if (report.replay) row.replay = report.replay;
        // the full vector of the failing run, with its failure
        if (report.failure) row.failures = [...(row.failures ?? []), `fault plan: ${describeFaultPlan(report.failure.input.plan)}`];
        if (!row.passed) failed++;
        rows.push(row);
        // a scenario stops at its first failure: the runs it skipped are done too
        plan.progress?.advance(runsOf(scenario) - report.runs);
      }
    } finally {
      plan.progress?.stop();
    }
    if (flags.json) process.stdout.write(`${JSON.stringify({ scenarios: rows }, null, 2)}\n`);
    else process.stdout.write(`${table(rows)}\n`);
    process.exitCode = rows.every((r) => r.passed) ? 0 : 1;

    async function runOne(scenario: Scenario, runs: number, p: Plan): Promise<ScenarioReport & { wallMs: number; replay?: string }> {
      const started = performance.now();
      if (p.flags.transport === 'ws') {
        const { runScenarioOverWs } = await import('../sim/ws-world.ts');
        const told = new Set<string>();
        const onHeader = (header: string, missing: string[]) => {
          if (p.flags.verbose) return void process.stderr.write(header);
          // what TCP cannot apply is said once per scenario, never silently dropped
          // by field, not value: the values differ run by run (--verbose prints every run's plan)
          const line = missing.map((m) => m.replace(/=[^ ;]*/, '')).join('; ');
          if (line && !told.has(line)) {
            told.add(line);
            const say = `wsim run: ${scenario.id}: not applied over TCP: ${line}`;
            if (p.progress) p.progress.log(say);
            else process.stderr.write(`${say}\n`);
          }
        };
        const onNote = p.flags.verbose ? (line: string) => void process.stderr.write(line) : undefined;
        const report = await runScenarioOverWs(scenario, { seed: p.seed, runs, onHeader, ...(onNote ? { onNote } : {}), ...(p.overrides ? { overrides: p.overrides } : {}) });
        // real time is not reproducible: the lines come after the runs, and progress by scenario
        for (const o of report.outcomes) verbose(scenario, o.path, o.input.worldSeed, o.input.plan, p);
        finished++;
        p.progress?.advance(report.runs);
        // a real-time run cannot be replayed from its seed; its recorded trace can be read
        const replay = report.traceFile ? traceReplayCommand(report.traceFile) : undefined;
        return { ...report, wallMs: performance.now() - started, ...(replay ? { replay } : {}) };
      }
      const report = runScenario(scenario, {
        seed: p.seed,
        runs,
        ...(p.overrides ? { overrides: p.overrides } : {}),
        ...variantOf(p.flags.variant),
        onStart: (path, input) => verbose(scenario, path, input.worldSeed, p.overrides ? applyOverrides(input.plan, p.overrides, input.workload) : input.plan, p),
        onRun: (o: RunOutcome) => {
          if (!o.passed || Number(o.path) === runs - 1) finished++;
          p.progress?.advance();
          if (!o.passed) p.progress?.log(`wsim run: ✗ ${scenario.id} seed ${p.seed} path ${o.path}: ${roundNumbers(o.failures[0] ?? 'failed')}`);
        },
      });
      return { ...report, wallMs: performance.now() - started };
    }
  });
}

/** Runs of one scenario: --runs, else its own (scaled by SIM_RUNS); a few over real sockets, where a run takes seconds. */
function runsFor(scenario: Scenario, flags: RunFlags): number {
  if (flags.runs !== undefined) return flags.runs;
  const runs = scaledRuns(scenario);
  return flags.transport === 'ws' ? Math.min(WS_DEFAULT_RUNS, runs) : runs;
}

/** The --verbose line of a run: everything its replay needs, and the plan it ran under. */
function verbose(scenario: Scenario, path: string, worldSeed: number, faultPlan: Parameters<typeof describeFaultPlan>[0], p: Plan): void {
  if (p.flags.verbose) process.stderr.write(`  ${scenario.id} seed ${p.seed} path ${path} (world seed ${worldSeed}): ${describeFaultPlan(faultPlan)}\n`);
}

/** `wsim run --list`: id, category, default runs. */
function listing(): string {
  const width = Math.max(...SCENARIOS.map((s) => s.id.length));
  return `${SCENARIOS.map((s) => `${s.id.padEnd(width)}  ${s.category.padEnd(28)}  ${String(scaledRuns(s)).padStart(3)} runs`).join('\n')}\n`;
}
