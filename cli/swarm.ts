/**
 * `wsim swarm`: many seeds in parallel, VOPR style. Seed j of [seed, seed+runs)
 * picks a scenario (round-robin over the registry, or --scenario) and draws its own
 * fault vector over that scenario's input (cli/swarm-seed.ts). Seeds run on
 * worker threads; failing seeds are written to `.wsim/failures/` with the
 * exact input, so `npm run replay -- --failure FILE` reproduces them.
 *
 * `--shard I/N` keeps the seeds j with (j mod N) + 1 = I, so N CI jobs split a
 * swarm and `--merge` joins their `--json` reports.
 *
 * stdout: the report (with --json, one JSON object and nothing else);
 * stderr: progress and logs. Exit 0 all passed, 1 a seed failed, 2 usage.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError, type Command } from 'commander';
import { defaultSeed } from './env.ts';
import { formatCount, roundNumbers } from './duration.ts';
import { count, scenarioOption, seed } from './options.ts';
import { startProgress } from './progress.ts';
import { failureReplayCommand, replayCommand } from './replay-command.ts';
import { UsageError } from './usage.ts';
import { scenarioForSeed, type SwarmJob, type SwarmResult, type SwarmTransform } from './swarm-seed.ts';
import type { ScenarioInput } from '../sim/scenario.ts';

export const DEFAULT_FAILURE_DIR = join('.wsim', 'failures');

// ---------------------------------------------------------------- seeds and shards

export interface Shard {
  index: number;
  count: number;
}

/** Which slice of which swarm a report covers (enough to recompute its seeds). */
export interface ShardInfo extends Shard {
  seed: number;
  runs: number;
  scenario: string | null;
}

/** "I/N" with 1 ≤ I ≤ N, or a one-line reason. */
export function parseShard(text: string): { ok: true; value: Shard } | { ok: false; message: string } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return { ok: false, message: `--shard must be I/N (e.g. 1/4), got '${text}'` };
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return { ok: false, message: `--shard I/N needs 1 ≤ I ≤ N, got '${text}'` };
  return { ok: true, value: { index, count } };
}

/** The seeds of a slice, in order: j in [seed, seed+runs) with (j mod count) + 1 = index. */
export function shardSeeds(seed: number, runs: number, shard: Shard = { index: 1, count: 1 }): number[] {
  const out: number[] = [];
  for (let j = seed; j < seed + runs; j++) if ((j % shard.count) + 1 === shard.index) out.push(j);
  return out;
}

/** How many seeds a slice has, without listing them: j in [seed, seed+runs) with (j mod count) + 1 = index. */
export function countSeeds(seed: number, runs: number, shard: Shard = { index: 1, count: 1 }): number {
  const below = (n: number) => Math.floor((n - (shard.index - 1) + shard.count - 1) / shard.count); // j < n with j ≡ index-1
  return below(seed + runs) - below(seed);
}

/** Seeds one swarm process takes on: its lists live in memory (and 10 million seeds are weeks of CPU already). */
export const MAX_SEEDS = 10_000_000;

export function jobsOf(info: ShardInfo): SwarmJob[] {
  return shardSeeds(info.seed, info.runs, info).map((seed) => ({ scenario: scenarioForSeed(seed, info.scenario ?? undefined), seed }));
}

// ---------------------------------------------------------------- workers

/**
 * A worker that runs TypeScript. `new Worker(url, { execArgv: ['--import',
 * 'tsx'] })` fails on Node 20 (ERR_UNKNOWN_FILE_EXTENSION: the entry loads
 * before the hooks are in place), so a bootstrap registers tsx's ESM hooks
 * and then imports the worker module. tsx is resolved from here, not from
 * the caller's working directory.
 */
export function startWorker(): Worker {
  // the built package (dist/cli/swarm.js) is plain JavaScript: no tsx, which its users do not install
  if (import.meta.url.endsWith('.js')) return new Worker(new URL('./swarm-worker.js', import.meta.url));
  const boot = `import { register } from ${JSON.stringify(tsxApiUrl())}; register(); await import(${JSON.stringify(new URL('./swarm-worker.ts', import.meta.url).href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: [] });
}

/**
 * The URL of tsx's ESM API, from tsx's own package exports. (Not
 * `import.meta.resolve`: under mocha, tsx loads this file as CommonJS.)
 */
function tsxApiUrl(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const entry = pkg.exports['./esm/api']?.import?.default;
  if (!entry) throw new Error(`tsx at ${manifest} has no ESM API export`);
  return pathToFileURL(join(dirname(manifest), entry)).href;
}

const crashed = (job: SwarmJob, why: string): SwarmResult => ({
  ...job,
  passed: false,
  failures: [`worker crashed: ${why}`],
  traceHash: '',
  metrics: { deliveryRate: 0, duplicatesToApp: 0, orderViolations: 0, leaks: 0, latencyP99Ms: 0, reconnects: 0, retransmissions: 0, faults: 0 },
  ms: 0,
});

/**
 * Run the jobs on `workers` threads, one seed at a time per thread (a seed
 * takes 20 ms to a second; a message costs microseconds). A thread that dies
 * fails its seed and is replaced. Results come back in seed order.
 */
export async function runPool(jobs: readonly SwarmJob[], workers: number, onResult?: (r: SwarmResult) => void): Promise<SwarmResult[]> {
  const results: SwarmResult[] = [];
  let next = 0;
  const size = Math.max(1, Math.min(workers, jobs.length));
  const lane = () =>
    new Promise<void>((resolve) => {
      let worker = startWorker();
      let current: SwarmJob | undefined;
      const feed = () => {
        current = jobs[next++];
        if (current) worker.postMessage(current);
        else {
          worker.removeAllListeners();
          void worker.terminate().then(() => resolve());
        }
      };
      const done = (r: SwarmResult) => {
        current = undefined;
        results.push(r);
        onResult?.(r);
        feed();
      };
      /** The thread died (an error, out of memory, or exited): fail its seed, carry on with a new one. */
      const died = (why: string) => {
        const job = current;
        worker.removeAllListeners();
        void worker.terminate();
        worker = startWorker();
        attach();
        if (job) done(crashed(job, why));
        else feed();
      };
      const attach = () => {
        worker.on('message', (r: SwarmResult) => done(r));
        worker.on('error', (err) => died(err instanceof Error ? err.message : String(err)));
        worker.on('exit', (code) => died(`exited with code ${code}`));
      };
      attach();
      feed();
    });
  await Promise.all(Array.from({ length: size }, lane));
  return results.sort((a, b) => a.seed - b.seed);
}

// ---------------------------------------------------------------- failure files

export interface FailureFile {
  version: 1;
  scenario: string;
  seed: number;
  /** The fault vector the seed drew over its scenario's plan. */
  transform: SwarmTransform;
  /** Exactly what ran: `runInput(scenario, input, { seed })` reproduces it. */
  input: ScenarioInput;
  failures: string[];
  traceHash: string;
  /** Replays this file (the swarm's transformed input). */
  replay: string;
  /** The scenario's own, untransformed draw at this seed — not what failed here. */
  scenarioReplay: string;
}

export const failureFileName = (scenario: string, seed: number): string => `${scenario}-${seed}.json`;

/** A path as a person types it: relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export const failureReplay = (file: string): string => failureReplayCommand(shown(file));

/** Write a failing seed's file atomically (temp file in the same directory, then rename). */
export async function writeFailureFile(dir: string, r: SwarmResult & { detail: NonNullable<SwarmResult['detail']> }): Promise<{ path: string; file: FailureFile }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, failureFileName(r.scenario, r.seed));
  const file: FailureFile = {
    version: 1,
    scenario: r.scenario,
    seed: r.seed,
    transform: r.detail.transform,
    input: r.detail.input,
    failures: r.failures,
    traceHash: r.traceHash,
    replay: failureReplay(path),
    scenarioReplay: replayCommand(r.scenario, r.seed, '0'),
  };
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  return { path, file };
}

// ---------------------------------------------------------------- reports

export interface ReportFailure {
  scenario: string;
  seed: number;
  failures: string[];
  replay: string;
  /** The failure file, or null when it could not be written. */
  file: string | null;
}

/** The `--json` report; `shard` is a list after `--merge`. */
export interface SwarmReport {
  runs: number;
  passed: number;
  failures: ReportFailure[];
  shard: ShardInfo | ShardInfo[];
  seedsPerSecond: number;
  workers: number;
}

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
}

/** Run a swarm (or one shard of it): the report, and every seed's result for whoever wants more. */
export async function swarm(o: SwarmOptions): Promise<{ report: SwarmReport; results: SwarmResult[] }> {
  const info: ShardInfo = { index: o.shard.index, count: o.shard.count, seed: o.seed, runs: o.runs, scenario: o.scenario };
  const jobs = jobsOf(info);
  const started = performance.now();
  const results = await runPool(jobs, o.workers, o.onResult);
  const seconds = (performance.now() - started) / 1000;
  const failures: ReportFailure[] = [];
  for (const r of results) {
    if (r.passed) continue;
    let file: string | null = null;
    if (o.out !== null && r.detail) {
      try {
        file = (await writeFailureFile(o.out, { ...r, detail: r.detail })).path;
      } catch (err) {
        o.log?.(`swarm: could not write the failure file of ${r.scenario} seed ${r.seed}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    failures.push({
      scenario: r.scenario,
      seed: r.seed,
      failures: r.failures,
      replay: file !== null ? failureReplay(file) : replayCommand(r.scenario, r.seed, '0'),
      file: file !== null ? shown(file) : null,
    });
  }
  const workers = Math.max(1, Math.min(o.workers, jobs.length));
  return {
    report: { runs: results.length, passed: results.length - failures.length, failures, shard: info, seedsPerSecond: seconds > 0 ? Number((results.length / seconds).toFixed(2)) : 0, workers },
    results,
  };
}

// ---------------------------------------------------------------- merge

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function shardInfoOf(v: unknown): ShardInfo | null {
  if (!isObject(v)) return null;
  const { index, count, seed, runs, scenario } = v;
  if (!isCount(index) || !isCount(count) || !isCount(seed) || !isCount(runs) || index < 1 || index > count) return null;
  if (scenario !== null && typeof scenario !== 'string') return null;
  return { index, count, seed, runs, scenario };
}

/** A `--json` report read back, or a one-line reason. */
export function parseReport(text: string): { ok: true; value: SwarmReport } | { ok: false; message: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (!isObject(v)) return { ok: false, message: 'not a swarm report (not an object)' };
  if (!isCount(v.runs) || !isCount(v.passed) || v.passed > v.runs) return { ok: false, message: 'not a swarm report (runs/passed)' };
  if (!Array.isArray(v.failures)) return { ok: false, message: 'not a swarm report (failures)' };
  const failures: ReportFailure[] = [];
  for (const f of v.failures) {
    if (!isObject(f) || typeof f.scenario !== 'string' || !isCount(f.seed) || !Array.isArray(f.failures) || typeof f.replay !== 'string') {
      return { ok: false, message: 'not a swarm report (a failure entry)' };
    }
    failures.push({ scenario: f.scenario, seed: f.seed, failures: f.failures.map(String), replay: f.replay, file: typeof f.file === 'string' ? f.file : null });
  }
  const shards = Array.isArray(v.shard) ? v.shard.map(shardInfoOf) : [shardInfoOf(v.shard)];
  if (shards.length === 0 || shards.some((s) => s === null)) return { ok: false, message: 'not a swarm report (shard)' };
  const seedsPerSecond = typeof v.seedsPerSecond === 'number' ? v.seedsPerSecond : 0;
  const workers = isCount(v.workers) ? v.workers : 0;
  return { ok: true, value: { runs: v.runs, passed: v.passed, failures, shard: shards.length === 1 ? shards[0]! : (shards as ShardInfo[]), seedsPerSecond, workers } };
}

/**
 * Join shard reports: runs and passed add up, failures concatenate (in seed
 * order); shards that ran the same (scenario, seed) twice are an error.
 * Shards ran side by side, so their rates and workers add up too.
 */
export function mergeReports(reports: readonly { name: string; report: SwarmReport }[]): { ok: true; value: SwarmReport } | { ok: false; message: string } {
  const owner = new Map<string, string>();
  const slices: ShardInfo[] = [];
  for (const { name, report } of reports) {
    for (const slice of Array.isArray(report.shard) ? report.shard : [report.shard]) {
      slices.push(slice);
      for (const job of jobsOf(slice)) {
        const key = `${job.scenario}#${job.seed}`;
        const other = owner.get(key);
        if (other !== undefined && other !== name) return { ok: false, message: `shards overlap: ${name} and ${other} both ran ${job.scenario} seed ${job.seed}` };
        if (other === name) return { ok: false, message: `shards overlap: ${name} runs ${job.scenario} seed ${job.seed} twice` };
        owner.set(key, name);
      }
    }
  }
  const all = reports.map((r) => r.report);
  return {
    ok: true,
    value: {
      runs: all.reduce((n, r) => n + r.runs, 0),
      passed: all.reduce((n, r) => n + r.passed, 0),
      failures: all.flatMap((r) => r.failures).sort((a, b) => a.seed - b.seed),
      shard: slices,
      seedsPerSecond: Number(all.reduce((n, r) => n + r.seedsPerSecond, 0).toFixed(2)),
      workers: all.reduce((n, r) => n + r.workers, 0),
    },
  };
}

// ---------------------------------------------------------------- output

const shardText = (s: ShardInfo | ShardInfo[]): string =>
  (Array.isArray(s) ? s : [s]).map((x) => `${x.index}/${x.count} of seeds ${x.seed}..${x.seed + x.runs - 1}${x.scenario ? ` (${x.scenario})` : ''}`).join(', ');

export function formatReport(r: SwarmReport): string {
  const lines = [`swarm: ${r.runs} seeds, ${r.passed} passed, ${r.failures.length} failed — shard ${shardText(r.shard)}; ${r.seedsPerSecond} seeds/s on ${r.workers} worker${r.workers === 1 ? '' : 's'}`];
  for (const f of r.failures) {
    lines.push(`FAIL ${f.scenario} seed ${f.seed}`);
    for (const line of f.failures) lines.push(`    ${roundNumbers(line)}`);
    lines.push(`    replay: ${f.replay}`);
  }
  return `${lines.join('\n')}\n`;
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

/** The command's body: returns the exit code (0 passed, 1 failed); bad input throws a UsageError (exit 2). */
export async function swarmCommand(o: SwarmCliOptions): Promise<number> {
  let report: SwarmReport;
  if (o.merge && o.merge.length > 0) {
    report = await mergeFiles(o.merge);
  } else {
    if (o.runs === undefined) throw new UsageError('swarm', '--runs N is required (or --merge a.json b.json ...)');
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
      ({ report } = await swarm({ runs: o.runs, seed, workers, shard, scenario: o.scenario ?? null, out: o.out ?? DEFAULT_FAILURE_DIR, onResult, log }));
    } finally {
      progress.stop();
    }
  }
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
