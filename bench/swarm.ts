/**
 * Swarm: seeds per second of the swarm's worker pool (cli/swarm-pool.ts, what
 * `wsim swarm` runs) with 1 worker and with 2, on the mission-critical
 * delivery scenario, beside the machine's own parallelism measured in the
 * same repetition.
 *
 * Each configuration opens a fresh pool and runs the same batch of seeds
 * twice. The first batch is timed from the pool's start: start-up and each
 * thread's JIT warm-up included, what a swarm of `runs` seeds waits for
 * (`coldSpeedup`). The second runs on the warm threads: the rate a long swarm
 * settles at (`speedup`). The warm-up (about 1 s of CPU per thread here) is
 * paid by every thread, so it weighs on a short swarm of cheap seeds and
 * vanishes in a long one.
 *
 * `parallelism` is what the machine gives two threads of pure CPU work right
 * now (a shared VM whose second core is busy elsewhere shows it here, and
 * caps the swarm's speedup); `efficiency` = speedup / parallelism is the
 * swarm's own share of it.
 */
import { Worker } from 'node:worker_threads';
import { SeedPool } from '../cli/swarm-pool.ts';
import { jobsOf } from '../cli/swarm-shard.ts';
import { workerCode, type WorkerCode } from '../cli/swarm-worker-code.ts';
import type { SwarmJob } from '../cli/swarm-seed.ts';
import { log, round, roundSpread, spread, type Spread } from './stats.ts';

export const SWARM_SCENARIO = 'mission_critical_events_delivery_guaranteed';

/** The fixed pure-CPU job, in a thread: integer arithmetic, no allocation (so no GC), about 0.3 s of one core. */
const SPIN = `const { parentPort } = require('node:worker_threads');
  parentPort.once('message', (rounds) => {
    let x = 0;
    for (let n = 0; n < rounds; n++) for (let i = 0; i < 10000; i++) x = (Math.imul(x, 31) + i) | 0;
    parentPort.postMessage(x);
  });`;
const SPIN_ROUNDS = 3000;

/** Seconds for `threads` threads to each finish the fixed job, timed from when all are up. */
async function spin(threads: number): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(SPIN, { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  const started = performance.now();
  await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.postMessage(SPIN_ROUNDS);
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return seconds;
}

/**
 * The machine's parallelism right now: the fixed job's throughput on 2
 * threads over 1 (2 on two idle cores, 1 when the second core is taken).
 */
export async function machineParallelism(): Promise<number> {
  const one = await spin(1);
  const two = await spin(2);
  return (2 * one) / two;
}

export interface SwarmFigures {
  /** Seeds/s on 2 workers over 1, on warm threads: the rate of a long swarm. */
  speedup: number;
  /** The same with each pool's start-up and warm-up in the time: a swarm of `runs` seeds. */
  coldSpeedup: number;
  /** The fixed pure-CPU job's throughput on 2 threads over 1, in the same repetitions. */
  parallelism: number;
  /** speedup / parallelism: how much of what the machine gives the swarm takes. */
  efficiency: number;
}

/** Per number of workers. */
interface ByWorkers<T> {
  workers1: T;
  workers2: T;
}

export interface SwarmDetail {
  scenario: string;
  runs: number;
  /** The code the workers ran: the build, or the sources through tsx (and why). */
  workerCode: string;
  seedsPerSecond: { cold: ByWorkers<Spread>; warm: ByWorkers<Spread> };
  /**
   * CPU seconds of the whole process per batch: on a quiet machine, what 2
   * workers spend beyond 1 is the second thread's start-up and warm-up. On a
   * saturated one, CPU time swells too (both threads share the caches with
   * everything else), by 5–60% in the runs of 2026-11-30.
   */
  cpuSeconds: { cold: ByWorkers<Spread>; warm: ByWorkers<Spread> };
  /**
   * CPU of 1 worker over CPU of 2 for the same seeds (medians): the share of
   * the 2 workers' CPU that is the seeds' own work. Times the machine's
   * parallelism, it is roughly the speedup to expect.
   */
  cpuEfficiency: { cold: number; warm: number };
  passed: number;
  /** Seeds/s on 2 over 1, per repetition. */
  speedup: { cold: Spread; warm: Spread };
  /** The machine's parallelism, the mean of a measure before and after each repetition. */
  machineParallelism: Spread;
}

/** Seeds/s and CPU seconds of one batch. */
interface Timed {
  rate: number;
  cpu: number;
}

/** A fresh pool of `workers` threads runs the batch twice: cold (the pool's start included), then warm. */
async function coldAndWarm(workers: number, jobs: readonly SwarmJob[], code: WorkerCode): Promise<{ cold: Timed; warm: Timed; passed: number }> {
  let pool: SeedPool | undefined;
  let passed = 0;
  const timed = async (batch: () => Promise<unknown>): Promise<Timed> => {
    const started = performance.now();
    const before = process.cpuUsage();
    await batch();
    const used = process.cpuUsage(before);
    return { rate: jobs.length / ((performance.now() - started) / 1000), cpu: (used.user + used.system) / 1e6 };
  };
  const run = async (p: SeedPool) => (passed = (await p.run(jobs)).filter((r) => r.passed).length);
  try {
    const cold = await timed(() => run((pool = new SeedPool({ workers, code }))));
    const warm = await timed(() => run(pool!));
    return { cold, warm, passed };
  } finally {
    await pool?.close();
  }
}

const byWorkers = <T, U>(x: ByWorkers<T>, f: (t: T) => U): ByWorkers<U> => ({ workers1: f(x.workers1), workers2: f(x.workers2) });

export async function measureSwarm(options: { runs: number; reps: number }): Promise<{ figures: SwarmFigures; detail: SwarmDetail }> {
  const code = workerCode();
  log(code.kind === 'built' ? 'swarm: workers run the build (dist/)' : `swarm: workers run the TypeScript through tsx, slower to start: ${code.why}`);
  const jobs = jobsOf({ index: 1, count: 1, seed: 1, runs: options.runs, scenario: SWARM_SCENARIO });
  await coldAndWarm(1, jobs.slice(0, 2), code); // the modules into the file cache
  const runs = { cold: { workers1: [] as Timed[], workers2: [] as Timed[] }, warm: { workers1: [] as Timed[], workers2: [] as Timed[] } };
  const speedups = { cold: [] as number[], warm: [] as number[] };
  const parallelism: number[] = [];
  let passed = 0;
  for (let i = 0; i < options.reps; i++) {
    // the spin before and after the pair, and the order alternated: a slow spell of the machine hits both
    const before = await machineParallelism();
    for (const workers of i % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
      const r = await coldAndWarm(workers, jobs, code);
      runs.cold[`workers${workers}`].push(r.cold);
      runs.warm[`workers${workers}`].push(r.warm);
      passed = r.passed;
    }
    parallelism.push((before + (await machineParallelism())) / 2);
    for (const phase of ['cold', 'warm'] as const) speedups[phase].push(runs[phase].workers2.at(-1)!.rate / runs[phase].workers1.at(-1)!.rate);
    const line = (phase: 'cold' | 'warm') =>
      `${phase} ${runs[phase].workers1.at(-1)!.rate.toFixed(1)} → ${runs[phase].workers2.at(-1)!.rate.toFixed(1)} seeds/s (×${speedups[phase].at(-1)!.toFixed(2)}; CPU ${runs[phase].workers1.at(-1)!.cpu.toFixed(2)} → ${runs[phase].workers2.at(-1)!.cpu.toFixed(2)} s)`;
    log(`swarm: rep ${i + 1}/${options.reps}, 1 → 2 workers: ${line('cold')}, ${line('warm')}; ${passed}/${options.runs} passed; machine parallelism ${parallelism.at(-1)!.toFixed(2)}`);
  }
  const rates = (phase: 'cold' | 'warm') => byWorkers(runs[phase], (ts) => spread(ts.map((t) => t.rate)));
  const speedup = (phase: 'cold' | 'warm') => round(rates(phase).workers2.median / rates(phase).workers1.median);
  const machine = spread(parallelism);
  const cpu = (phase: 'cold' | 'warm') => byWorkers(runs[phase], (ts) => spread(ts.map((t) => t.cpu)));
  const cpuEfficiency = (phase: 'cold' | 'warm') => round(cpu(phase).workers1.median / cpu(phase).workers2.median);
  return {
    figures: { speedup: speedup('warm'), coldSpeedup: speedup('cold'), parallelism: round(machine.median), efficiency: round(speedup('warm') / machine.median) },
    detail: {
      scenario: SWARM_SCENARIO,
      runs: options.runs,
      workerCode: code.kind === 'built' ? 'built' : `source (${code.why})`,
      seedsPerSecond: { cold: byWorkers(rates('cold'), (s) => roundSpread(s)), warm: byWorkers(rates('warm'), (s) => roundSpread(s)) },
      cpuSeconds: { cold: byWorkers(cpu('cold'), (s) => roundSpread(s)), warm: byWorkers(cpu('warm'), (s) => roundSpread(s)) },
      cpuEfficiency: { cold: cpuEfficiency('cold'), warm: cpuEfficiency('warm') },
      passed,
      speedup: { cold: roundSpread(spread(speedups.cold)), warm: roundSpread(spread(speedups.warm)) },
      machineParallelism: roundSpread(machine),
    },
  };
}
