/**
 * Swarm: seeds per second of the real `wsim swarm` (cli/swarm.ts, worker
 * threads) with 1 worker and with 2, on the mission-critical delivery
 * scenario. Timed from the call to the last result, worker start-up
 * included: what a user of `wsim swarm` waits for. Failure files are not
 * written (out: null).
 *
 * When cli/swarm.ts has no programmatic `swarm` export, the command is run as
 * a subprocess (`wsim swarm --json`) and timed from outside instead.
 */
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { log, round, roundSpread, spread, type Spread } from './stats.ts';

export const SWARM_SCENARIO = 'mission_critical_events_delivery_guaranteed';

type SwarmFn = (o: { runs: number; seed: number; workers: number; shard: { index: number; count: number }; scenario: string | null; out: string | null }) => Promise<{ report: { runs: number; passed: number } }>;

async function programmatic(): Promise<SwarmFn | null> {
  try {
    const mod = (await import('../cli/swarm.ts')) as { swarm?: unknown };
    return typeof mod.swarm === 'function' ? (mod.swarm as SwarmFn) : null;
  } catch {
    return null;
  }
}

/** `wsim swarm` as a subprocess: seconds from spawn to exit. */
function subprocess(runs: number, workers: number): Promise<{ seconds: number; passed: number }> {
  const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'swarm', '--runs', String(runs), '--workers', String(workers), '--json', '--scenario', SWARM_SCENARIO], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      try {
        const report = JSON.parse(out) as { passed?: number };
        resolve({ seconds, passed: report.passed ?? 0 });
      } catch {
        reject(new Error(`wsim swarm exited ${code} without a JSON report`));
      }
    });
  });
}

/**
 * What the machine gives two threads right now: spin-loop iterations per
 * second on 2 worker threads over 1 (plain JS, no tsx). A box whose second
 * core is busy elsewhere shows it here, and caps the swarm's speedup.
 */
export async function machineParallelism(ms = 400): Promise<number> {
  const spin = `const { parentPort, workerData } = require('node:worker_threads');
    const end = Date.now() + workerData; let n = 0, x = 0;
    while (Date.now() < end) { for (let i = 0; i < 10000; i++) x = (x * 31 + i) | 0; n++; }
    parentPort.postMessage(n + (x & 0));`;
  const run = (threads: number) =>
    Promise.all(Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
      const w = new Worker(spin, { eval: true, workerData: ms });
      w.once('message', (n: number) => resolve(n));
      w.once('error', reject);
    }))).then((ns) => ns.reduce((a, b) => a + b, 0));
  const one = await run(1);
  const two = await run(2);
  return two / one;
}

export interface SwarmFigures {
  speedup: number;
}

export interface SwarmDetail {
  method: 'programmatic' | 'subprocess';
  scenario: string;
  runs: number;
  seedsPerSecond: { workers1: Spread; workers2: Spread };
  passed: number;
  /** Spin-loop throughput of 2 threads over 1, measured before each rep pair: the machine's own ceiling for `speedup`. */
  machineParallelism: Spread;
}

export async function measureSwarm(options: { runs: number; reps: number }): Promise<{ figures: SwarmFigures; detail: SwarmDetail }> {
  const fn = await programmatic();
  const method = fn ? 'programmatic' : 'subprocess';
  const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
  let passed = 0;
  const once = async (workers: 1 | 2, runs: number): Promise<number> => {
    if (fn) {
      const started = performance.now();
      const { report } = await fn({ runs, seed: 1, workers, shard: { index: 1, count: 1 }, scenario: SWARM_SCENARIO, out: null });
      passed = report.passed;
      return runs / ((performance.now() - started) / 1000);
    }
    const r = await subprocess(runs, workers);
    passed = r.passed;
    return runs / r.seconds;
  };
  await once(2, 4); // warm tsx's transform cache for the workers
  const parallelism: number[] = [];
  for (let i = 0; i < options.reps; i++) {
    parallelism.push(await machineParallelism());
    // alternate the order: a slow spell of the machine hits both
    for (const workers of i % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
      rates[workers].push(await once(workers, options.runs));
      log(`swarm: rep ${i + 1}/${options.reps}: ${workers} worker(s): ${rates[workers].at(-1)!.toFixed(1)} seeds/s (${passed}/${options.runs} passed; machine parallelism ${parallelism.at(-1)!.toFixed(2)})`);
    }
  }
  const one = spread(rates[1]);
  const two = spread(rates[2]);
  return {
    figures: { speedup: round(two.median / one.median) },
    detail: { method, scenario: SWARM_SCENARIO, runs: options.runs, seedsPerSecond: { workers1: roundSpread(one), workers2: roundSpread(two) }, passed, machineParallelism: roundSpread(spread(parallelism)) },
  };
}
