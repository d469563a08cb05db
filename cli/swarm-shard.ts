/**
 * The swarm's seed schedule: seed j of [seed, seed+runs) belongs to shard
 * (j mod N) + 1 of N, and runs the scenario `scenarioForSeed` gives it. N CI
 * jobs split a swarm this way and `--merge` recomputes each shard's seeds from
 * the `ShardInfo` in its report.
 */
import { scenarioForSeed, type SwarmJob } from './swarm-seed.ts';

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

/** Seeds one swarm process takes on: its lists live in memory (and 10 million seeds are weeks of CPU already). */
export const MAX_SEEDS = 10_000_000;

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

/** The jobs of a slice, in seed order. */
export function jobsOf(info: ShardInfo): SwarmJob[] {
  return shardSeeds(info.seed, info.runs, info).map((seed) => ({ scenario: scenarioForSeed(seed, info.scenario ?? undefined), seed }));
}
