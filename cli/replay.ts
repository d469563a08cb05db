/**
 * `wsim replay`: the same run, byte for byte, from (scenario, seed, path) or a
 * swarm failure file; prints its trace hash and a readable timeline, or what
 * each app received as AG-UI events; writes the JSONL trace and the HTML
 * timeline on request.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { resolveInput, runInput, type RunOutcome, type ScenarioInput } from '../sim/scenario.ts';
import { findScenario, SCENARIO_IDS } from '../sim/scenarios/index.ts';
import { roundNumbers } from './duration.ts';
import { defaultSeed } from './env.ts';
import { unknownMessage } from './usage.ts';
import { validateFaultPlan } from '../sim/fault-plan.ts';
import { judge } from '../sim/oracle.ts';
import { Trace } from '../sim/trace.ts';
import { agUiJsonl, toAgUi, verifyAgUi } from './ag-ui.ts';
import { addFaultFlags, count, overridesOf, path, scenarioOption, seed, usage, variantOf, variantOption, type FaultFlags } from './options.ts';
import { renderHtml } from './timeline-html.ts';
import { renderTimeline } from './timeline-text.ts';
import { writeAtomic } from './write-file.ts';

interface ReplayFlags extends FaultFlags {
  scenario?: string;
  seed?: number;
  path?: string;
  failure?: string;
  trace?: string;
  html?: string;
  format: string;
  limit?: number;
  color?: boolean;
  variant?: string;
}

/** A swarm failure file: the scenario, the seed and the exact input that failed. */
interface FailureFile {
  scenario: string;
  seed: number;
  input: ScenarioInput;
}

async function readFailure(file: string): Promise<FailureFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    usage('replay', `cannot read failure file ${file}: ${(err as Error).message.split('\n')[0]} (run \`wsim swarm\` to make one)`);
  }
  const f = parsed as Partial<FailureFile>;
  if (typeof f.scenario !== 'string' || typeof f.seed !== 'number' || typeof f.input !== 'object' || f.input === null || !f.input.workload || typeof f.input.worldSeed !== 'number') {
    usage('replay', `${file} is not a wsim failure file (needs scenario, seed, input.workload, input.plan, input.worldSeed)`);
  }
  const plan = validateFaultPlan(f.input.plan);
  if (!plan.ok) usage('replay', `${file}: bad fault plan at ${plan.error.field}: ${plan.error.message}`);
  return f as FailureFile;
}

export function register(program: Command): void {
  const command = program
    .command('replay')
    .description('replay one run of a scenario as a timeline (the same run, byte for byte)')
    .addOption(scenarioOption())
    .addOption(variantOption())
    .option('--seed <n>', 'the seed the run was started from (default 42, or SIM_SEED)', seed)
    .option('--path <p>', 'fast-check path (a shrunk counterexample); default 0, the first run', path)
    .option('--failure <file>', 'replay a swarm failure file (.wsim/failures/*.json)')
    .option('--trace <file.jsonl>', 'write the trace as JSONL; alone (no --scenario), render a recorded trace, e.g. of a --transport ws run')
    .option('--html <file.html>', 'write a self-contained HTML timeline')
    .option('--format <format>', 'text (timeline) or ag-ui (what each app received, as AG-UI events)', 'text')
    .option('--limit <n>', 'at most N timeline lines (the first violation is always shown)', count)
    .option('--no-color', 'no ANSI colours');
  addFaultFlags(command).action(async (flags: ReplayFlags) => {
    if (flags.format !== 'text' && flags.format !== 'ag-ui') usage('replay', `--format must be text or ag-ui, got "${flags.format}"`);
    if (flags.trace && !flags.scenario && !flags.failure) return renderRecorded(flags.trace, flags);
    const outcome = await replay(flags);
    const records = outcome.result.trace.records;
    if (flags.trace) await writeOrDie(flags.trace, outcome.result.trace.toJSONL());
    if (flags.html) await writeOrDie(flags.html, renderHtml(records, { violations: outcome.violations, seed: outcome.seed }));
    if (flags.format === 'ag-ui') {
      const lines = toAgUi(records);
      process.stdout.write(agUiJsonl(lines));
      const verdict = await verifyAgUi(lines);
      if (!verdict.ok) process.stderr.write(`AG-UI verification failed:\n  ${verdict.errors.slice(0, 10).join('\n  ')}\n`);
      process.stderr.write(`trace ${outcome.traceHash}\n`);
      process.exitCode = verdict.ok ? 0 : 1;
      return;
    }
    process.stdout.write(`${renderTimeline(records, { violations: outcome.violations, seed: outcome.seed, color: flags.color !== false && process.stdout.isTTY === true, ...(flags.limit ? { limit: flags.limit } : {}) })}\n`);
    process.stdout.write(`\ntrace ${outcome.traceHash}\nverdict ${outcome.passed ? 'PASS' : 'FAIL'}${outcome.passed ? '' : `: ${roundNumbers(outcome.failures[0] ?? '')}`}\n`);
    process.exitCode = outcome.passed ? 0 : 1;
  });
}

async function replay(flags: ReplayFlags): Promise<RunOutcome> {
  const overrides = overridesOf(flags);
  if (flags.failure) {
    const file = await readFailure(flags.failure);
    const scenario = findScenario(file.scenario);
    if (!scenario) usage('replay', `${flags.failure}: ${unknownMessage('scenario', file.scenario, SCENARIO_IDS, 'list them: wsim run --list')}`);
    return runInput(scenario, file.input, { seed: file.seed, path: 'failure', offPlan: true, ...(overrides ? { overrides } : {}), ...variantOf(flags.variant) });
  }
  if (!flags.scenario) usage('replay', '--scenario ID is required (or --failure FILE); wsim run --list shows the ids');
  const scenario = findScenario(flags.scenario)!;
  const s = flags.seed ?? defaultSeed();
  const p = flags.path ?? '0';
  let input: ScenarioInput | undefined;
  try {
    input = resolveInput(scenario, s, p);
  } catch {
    // fast-check refuses a path its seed cannot reach ("Unable to replay")
    input = undefined;
  }
  if (!input) usage('replay', `path ${p} does not fit seed ${s} of ${scenario.id}: take the path printed with that seed`);
  return runInput(scenario, input, { seed: s, path: p, ...(overrides ? { overrides } : {}), ...variantOf(flags.variant) });
}

/** A recorded trace (a real-time run cannot be re-run): its timeline, judged by the oracle from the trace alone. */
async function renderRecorded(file: string, flags: ReplayFlags): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    usage('replay', `cannot read trace ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = Trace.fromJSONL(text);
  if (!parsed.ok) usage('replay', `${file} line ${parsed.error.line}: ${parsed.error.message} (a trace is JSONL, one record a line)`);
  const records = parsed.value.records;
  const run = records.find((r) => r.k === 'run');
  const { judgeRecorded } = await import('../sim/ws-world.ts');
  const judged = await judgeRecorded(file, parsed.value);
  const verdict = judged?.verdict ?? judge(records);
  const violations = judged?.violations ?? verdict.violations;
  const what = run ? `${run.scenario} world seed ${run.seed} path ${run.path ?? '0'}` : file;
  const title = `wsim — ${what} (recorded)`;
  if (flags.html) await writeOrDie(flags.html, renderHtml(records, { violations, title }));
  process.stdout.write(`${renderTimeline(records, { violations, color: flags.color !== false && process.stdout.isTTY === true, ...(flags.limit ? { limit: flags.limit } : {}) })}\n`);
  // with the run's input kept beside the trace: the scenario's own verdict; otherwise the oracle's, from the trace alone
  const failure = judged ? judged.failures[0] : verdict.violations[0] && `${verdict.violations[0].invariant}: ${verdict.violations[0].message}`;
  const by = judged ? 'the scenario (its input kept beside the trace)' : 'the oracle, from the trace alone';
  process.stdout.write(`\ntrace ${parsed.value.hash()} (recorded: ${what})\nverdict of ${by}: ${failure ? `FAIL: ${failure}` : 'PASS'}\n`);
  process.exitCode = failure ? 1 : 0;
}

async function writeOrDie(file: string, text: string): Promise<void> {
  const written = await writeAtomic(file, text);
  if (!written.ok) usage('replay', `${written.message}; choose a writable path`);
  process.stderr.write(`wrote ${file}\n`);
}
