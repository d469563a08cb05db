/**
 * Swarm: seeds per second of the real `wsim swarm` (cli/swarm.ts, its worker
 * pool) with 1 worker and with 2, on the mission-critical delivery scenario,
 * beside the machine's own parallelism measured in the same repetition. Timed
 * from the call to the last result, worker start-up included: what a user of
 * `wsim swarm` waits for. Failure files are not written (out: null).
 *
 * `speedup` is seeds/s on 2 workers over 1; `parallelism` is what the machine
 * gives two threads of pure CPU work right now (a shared VM whose second core
 * is busy elsewhere shows it here, and caps the swarm's speedup);
 * `efficiency` = speedup / parallelism is the swarm's own share of it.
 */
import { Worker } from 'node:worker_threads';
import { swarm } from '../cli/swarm.ts';
import { workerCode } from '../cli/swarm-worker-code.ts';
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
  /** Seeds/s on 2 workers over 1. */
  speedup: number;
  /** The fixed pure-CPU job's throughput on 2 threads over 1, in the same repetitions. */
  parallelism: number;
  /** speedup / parallelism: how much of what the machine gives the swarm takes. */
  efficiency: number;
}

export interface SwarmDetail {
  scenario: string;
  runs: number;
  /** The code the workers ran: the build, or the sources through tsx (and why). */
  workerCode: string;
  seedsPerSecond: { workers1: Spread; workers2: Spread };
  /**
   * CPU seconds of the whole process per run: what 2 workers spend beyond 1
   * is each thread's own start-up and JIT warm-up, whatever else the machine
   * is doing (wall-clock figures move with the load; these hardly do).
   */
  cpuSeconds: { workers1: Spread; workers2: Spread };
  passed: number;
  /** Seeds/s on 2 over 1, per repetition. */
  speedup: Spread;
  /** The machine's parallelism, measured around each repetition's pair of runs. */
  machineParallelism: Spread;
}

export async function measureSwarm(options: { runs: number; reps: number }): Promise<{ figures: SwarmFigures; detail: SwarmDetail }> {
  const code = workerCode();
  log(code.kind === 'built' ? 'swarm: workers run the build (dist/)' : `swarm: workers run the TypeScript through tsx, slower to start: ${code.why}`);
  let passed = 0;
  const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
  const cpu: Record<1 | 2, number[]> = { 1: [], 2: [] };
  /** Seeds per second and CPU seconds of one swarm. */
  const run = async (workers: 1 | 2, runs: number): Promise<{ rate: number; cpu: number }> => {
    const started = performance.now();
    const before = process.cpuUsage();
    const { report } = await swarm({ runs, seed: 1, workers, shard: { index: 1, count: 1 }, scenario: SWARM_SCENARIO, out: null, code });
    const used = process.cpuUsage(before);
    passed = report.passed;
    return { rate: runs / ((performance.now() - started) / 1000), cpu: (used.user + used.system) / 1e6 };
  };
  await run(2, 4); // the modules into the file cache
  const speedups: number[] = [];
  const parallelism: number[] = [];
  for (let i = 0; i < options.reps; i++) {
    // the spin before and after the pair: a slow spell of the machine hits both figures
    const before = await machineParallelism();
    // alternate the order for the same reason
    for (const workers of i % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
      const r = await run(workers, options.runs);
      rates[workers].push(r.rate);
      cpu[workers].push(r.cpu);
    }
    parallelism.push((before + (await machineParallelism())) / 2);
    speedups.push(rates[2].at(-1)! / rates[1].at(-1)!);
    log(`swarm: rep ${i + 1}/${options.reps}: ${rates[1].at(-1)!.toFixed(1)} seeds/s on 1 worker, ${rates[2].at(-1)!.toFixed(1)} on 2 (${passed}/${options.runs} passed; CPU ${cpu[1].at(-1)!.toFixed(2)} s vs ${cpu[2].at(-1)!.toFixed(2)} s): speedup ${speedups.at(-1)!.toFixed(2)}, machine parallelism ${parallelism.at(-1)!.toFixed(2)}`);
  }
  const one = spread(rates[1]);
  const two = spread(rates[2]);
  const speedup = round(two.median / one.median);
  const machine = spread(parallelism);
  return {
    figures: { speedup, parallelism: round(machine.median), efficiency: round(speedup / machine.median) },
    detail: {
      scenario: SWARM_SCENARIO,
      runs: options.runs,
      workerCode: code.kind === 'built' ? 'built' : `source (${code.why})`,
      seedsPerSecond: { workers1: roundSpread(one), workers2: roundSpread(two) },
      cpuSeconds: { workers1: roundSpread(spread(cpu[1])), workers2: roundSpread(spread(cpu[2])) },
      passed,
      speedup: roundSpread(spread(speedups)),
      machineParallelism: roundSpread(machine),
    },
  };
}
