/**
 * The swarm's report: what `--json` prints, how `--merge` reads shard reports
 * back and joins them, and the human text.
 */
import { roundNumbers } from './duration.ts';
import { jobsOf, type ShardInfo } from './swarm-shard.ts';

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

// ---------------------------------------------------------------- reading back

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

// ---------------------------------------------------------------- merge

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

// ---------------------------------------------------------------- text

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
