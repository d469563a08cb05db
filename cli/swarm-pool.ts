/**
 * The swarm's worker pool: K worker threads, each started once and fed one
 * seed at a time from a shared queue until the queue is empty (a seed takes
 * 10 ms to a second; a message costs microseconds, and one at a time keeps
 * the threads evenly loaded to the last seed). Results come back in seed
 * order whatever order they finish in, so a swarm's output does not depend on
 * the number of workers. A thread's start-up and JIT warm-up (about 1 s of
 * CPU for the first hundred seeds) is paid once per thread, however many
 * seeds and batches it then runs.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, workerCode, type WorkerCode } from './swarm-worker-code.ts';
import type { SwarmJob, SwarmResult } from './swarm-seed.ts';

export interface PoolOptions {
  workers: number;
  /** Which code the threads run (default: `workerCode()`, the build when it is fresh). */
  code?: WorkerCode;
  /** Each result as it comes (in finishing order: for progress). */
  onResult?: (r: SwarmResult) => void;
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
 * One thread of the pool and the job it is running. A thread that dies fails
 * its job; the next job gets a new thread (not at once: a thread that dies on
 * start-up would otherwise be restarted in a loop while the lane is idle).
 */
class Lane {
  private worker: Worker | undefined;
  private job: { job: SwarmJob; settle: (r: SwarmResult) => void } | undefined;

  constructor(private readonly code: WorkerCode) {
    this.worker = this.start();
  }

  run(job: SwarmJob): Promise<SwarmResult> {
    return new Promise((settle) => {
      this.job = { job, settle };
      this.worker ??= this.start();
      this.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    worker?.removeAllListeners();
    await worker?.terminate();
  }

  private start(): Worker {
    const worker = startWorker(this.code);
    worker.on('message', (r: SwarmResult) => this.finish(r));
    worker.on('error', (err) => this.died(err instanceof Error ? err.message : String(err)));
    worker.on('exit', (exit) => this.died(`exited with code ${exit}`));
    return worker;
  }

  private finish(r: SwarmResult): void {
    const current = this.job;
    this.job = undefined;
    current?.settle(r);
  }

  /** The thread died (an error, out of memory, or exited): its job fails. */
  private died(why: string): void {
    void this.close();
    if (this.job) this.finish(crashed(this.job.job, why));
  }
}

/**
 * K threads, started once, that take jobs from a shared queue one at a time
 * for as many batches as asked (`run`, one batch at a time), until `close`.
 */
export class SeedPool {
  private readonly lanes: Lane[];

  constructor(o: { workers: number; code?: WorkerCode }) {
    const code = o.code ?? workerCode();
    this.lanes = Array.from({ length: Math.max(1, o.workers) }, () => new Lane(code));
  }

  /** Run a batch: `results[i]` is the result of `jobs[i]`; `onResult` sees them as they finish. */
  async run(jobs: readonly SwarmJob[], onResult?: (r: SwarmResult) => void): Promise<SwarmResult[]> {
    const results = new Array<SwarmResult>(jobs.length);
    let next = 0;
    const drain = async (lane: Lane) => {
      for (let i = next++; i < jobs.length; i = next++) {
        results[i] = await lane.run(jobs[i]!);
        onResult?.(results[i]!);
      }
    };
    await Promise.all(this.lanes.map(drain));
    return results;
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.close()));
  }
}

/** Run the jobs on a pool of `workers` threads (no more than there are jobs), then end it. */
export async function runPool(jobs: readonly SwarmJob[], o: PoolOptions): Promise<SwarmResult[]> {
  if (jobs.length === 0) return [];
  const pool = new SeedPool({ workers: Math.min(o.workers, jobs.length), ...(o.code ? { code: o.code } : {}) });
  try {
    return await pool.run(jobs, o.onResult);
  } finally {
    await pool.close();
  }
}
