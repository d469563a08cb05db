/**
 * `wsim swarm`: many seeds in parallel, VOPR style. Seed j of [seed, seed+runs)
 * picks a scenario (round-robin over the registry, or --scenario) and draws its own
 * fault vector over that scenario's input (cli/swarm-seed.ts). Seeds run on a
 * pool of worker threads (cli/swarm-pool.ts); failing seeds are written to
 * `.wsim/failures/` with the exact input (cli/swarm-failure-file.ts), so
 * `npm run replay -- --failure FILE` reproduces them.
 *
 * `--shard I/N` keeps the seeds j with (j mod N) + 1 = I (cli/swarm-shard.ts),
 * so N CI jobs split a swarm and `--merge` joins their `--json` reports
 * (cli/swarm-report.ts).
 *
 * stdout: the report (with --json, one JSON object and nothing else);
 * stderr: progress and logs. Exit 0 all passed, 1 a seed failed, 2 usage.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { defaultSeed } from './env.ts';
import { formatCount } from './duration.ts';
import { count, scenarioOption, seed } from './options.ts';
import { startProgress } from './progress.ts';
import { replayCommand } from './replay-command.ts';
import { UsageError } from './usage.ts';
import { DEFAULT_FAILURE_DIR, failureReplay, shown, writeFailureFile } from './swarm-failure-file.ts';
import { runPool } from './swarm-pool.ts';
import { formatReport, mergeReports, parseReport, type ReportFailure, type SwarmReport } from './swarm-report.ts';
import { countSeeds, jobsOf, MAX_SEEDS, parseShard, type Shard, type ShardInfo } from './swarm-shard.ts';
import { workerCode, type WorkerCode } from './swarm-worker-code.ts';
import type { SwarmResult } from './swarm-seed.ts';

export interface SwarmOptions {
  runs: number;
  seed: number;
  workers: number;
  shard: Shard;
  scenario: string | null;
  /** Where failure files go (null: nowhere — the replay then names the scenario's own draw). */
  out: string | null;
  onResult?: (r: SwarmResult) => void;
  /** Where progress and logs go. */
  log?: (line: string) => void;
  /** Which code the worker threads run (default: the build when it is fresh, else tsx). */
  code?: WorkerCode;
}

/** The report's failure entry of a failing seed, after writing its file (when asked to and it can). */
async function reportFailure(r: SwarmResult, o: SwarmOptions): Promise<ReportFailure> {
  let file: string | null = null;
  if (o.out !== null && r.detail) {
    try {
      file = (await writeFailureFile(o.out, { ...r, detail: r.detail })).path;
    } catch (err) {
      o.log?.(`swarm: could not write the failure file of ${r.scenario} seed ${r.seed}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return {
    scenario: r.scenario,
    seed: r.seed,
    failures: r.failures,
    replay: file !== null ? failureReplay(file) : replayCommand(r.scenario, r.seed, '0'),
    file: file !== null ? shown(file) : null,
  };
}

/** Run a swarm (or one shard of it): the report, and every seed's result (in seed order) for whoever wants more. */
export async function swarm(o: SwarmOptions): Promise<{ report: SwarmReport; results: SwarmResult[] }> {
  const info: ShardInfo = { index: o.shard.index, count: o.shard.count, seed: o.seed, runs: o.runs, scenario: o.scenario };
  const jobs = jobsOf(info);
  const code = o.code ?? workerCode();
  if (code.kind === 'source') o.log?.(`wsim swarm: workers run the TypeScript through tsx (slower start-up): ${code.why}`);
  const started = performance.now();
  const results = await runPool(jobs, { workers: o.workers, code, ...(o.onResult ? { onResult: o.onResult } : {}) });
  const seconds = (performance.now() - started) / 1000;
  const failures: ReportFailure[] = [];
  for (const r of results) if (!r.passed) failures.push(await reportFailure(r, o));
  const workers = Math.max(1, Math.min(o.workers, jobs.length));
  return {
    report: { runs: results.length, passed: results.length - failures.length, failures, shard: info, seedsPerSecond: seconds > 0 ? Number((results.length / seconds).toFixed(2)) : 0, workers },
    results,
  };
}

// ---------------------------------------------------------------- the command

export interface SwarmCliOptions {
  runs?: number;
  workers?: number;
  shard?: Shard;
  scenario?: string;
  seed?: number;
  json?: boolean;
  merge?: string[];
  out?: string;
}

async function mergeFiles(files: readonly string[]): Promise<SwarmReport> {
  const reports: { name: string; report: SwarmReport }[] = [];
  for (const name of files) {
    let text: string;
    try {
      text = await readFile(name, 'utf8');
    } catch (err) {
      throw new UsageError('swarm', `--merge: cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const parsed = parseReport(text);
    if (!parsed.ok) throw new UsageError('swarm', `--merge: ${name}: ${parsed.message}`);
    reports.push({ name, report: parsed.value });
  }
  const merged = mergeReports(reports);
  if (!merged.ok) throw new UsageError('swarm', `--merge: ${merged.message}`);
  return merged.value;
}

/** Worker threads: as asked, but no more than the machine's cores (each thread holds a whole world). */
export function workersFor(asked: number | undefined, cores = availableParallelism(), log: (line: string) => void = () => {}): number {
  if (asked === undefined) return cores;
  if (asked <= cores) return asked;
  log(`wsim swarm: --workers ${asked} capped at ${cores}, the machine's cores (more threads only share them and multiply memory)`);
  return cores;
}

/** Run the swarm the options ask for, with progress on stderr. */
async function runSwarm(o: SwarmCliOptions & { runs: number }): Promise<SwarmReport> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const workers = workersFor(o.workers, availableParallelism(), log);
  const shard = o.shard ?? { index: 1, count: 1 };
  const seed = o.seed ?? defaultSeed();
  const total = countSeeds(seed, o.runs, shard);
  if (total > MAX_SEEDS) throw new UsageError('swarm', `${formatCount(total)} seeds in one process is too many (at most ${formatCount(MAX_SEEDS)}, already weeks of CPU): split the swarm with --shard I/N across machines`);
  const threads = Math.max(1, Math.min(workers, total));
  let failed = 0;
  const progress = startProgress({
    command: 'swarm',
    total,
    status: (done) => `${formatCount(done)}/${formatCount(total)} seeds, ${failed} failed, ${(done / Math.max(1e-3, progress.elapsed())).toFixed(1)} seeds/s on ${threads} worker${threads === 1 ? '' : 's'}`,
  });
  const onResult = (r: SwarmResult) => {
    if (!r.passed) failed++;
    progress.advance();
  };
  try {
    return (await swarm({ runs: o.runs, seed, workers, shard, scenario: o.scenario ?? null, out: o.out ?? DEFAULT_FAILURE_DIR, onResult, log: (line) => progress.log(line) })).report;
  } finally {
    progress.stop();
  }
}

/** The command's body: returns the exit code (0 passed, 1 failed); bad input throws a UsageError (exit 2). */
export async function swarmCommand(o: SwarmCliOptions): Promise<number> {
  let report: SwarmReport;
  if (o.merge && o.merge.length > 0) report = await mergeFiles(o.merge);
  else if (o.runs === undefined) throw new UsageError('swarm', '--runs N is required (or --merge a.json b.json ...)');
  else report = await runSwarm({ ...o, runs: o.runs });
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.failures.length > 0 ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('swarm')
    .description('run many seeds in parallel, each with its own fault vector (VOPR-style swarm testing)')
    .option('--runs <n>', 'seeds in the swarm: [seed, seed+runs); about 0.7 s of one core per seed', count)
    .option('--workers <k>', 'worker threads (default and most: the machine\'s cores)', count)
    .option('--shard <i/n>', 'run only the i-th of n disjoint slices of the seeds (seed j is in slice (j mod n)+1)', (v) => {
      const parsed = parseShard(v);
      if (!parsed.ok) throw new InvalidArgumentError(parsed.message.replace(/^--shard /, ''));
      return parsed.value;
    })
    .addOption(scenarioOption('one scenario for every seed (default: all, round-robin)'))
    .option('--seed <s>', 'first seed, 0..2147483647 (default: SIM_SEED or 42)', seed)
    .option('--json', 'print one JSON report on stdout')
    .option('--merge <files...>', 'join the --json reports of shards instead of running')
    .option('--out <dir>', `where failing seeds are written (default: ${DEFAULT_FAILURE_DIR})`)
    .action(async (o: SwarmCliOptions) => {
      process.exitCode = await swarmCommand(o);
    });
}
