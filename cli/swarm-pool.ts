/**
 * The swarm's worker pool: K worker threads, each started once and fed one
 * seed at a time from a shared queue until the queue is empty (a seed takes
 * 10 ms to a second; a message costs microseconds, and one at a time keeps
 * the threads evenly loaded to the last seed). Results come back in seed
 * order whatever order they finish in, so a swarm's output does not depend on
 * the number of workers.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { workerCode, type WorkerCode } from './swarm-worker-code.ts';
import type { SwarmJob, SwarmResult } from './swarm-seed.ts';

export interface PoolOptions {
  workers: number;
  /** Which code the threads run (default: `workerCode()`, the build when it is fresh). */
  code?: WorkerCode;
  /** Each result as it comes (in finishing order: for progress). */
  onResult?: (r: SwarmResult) => void;
}

/**
 * A worker thread running `code`. TypeScript needs a bootstrap:
 * `new Worker(url, { execArgv: ['--import', 'tsx'] })` fails on Node 20
 * (ERR_UNKNOWN_FILE_EXTENSION: the entry loads before the hooks are in
 * place), so it registers tsx's ESM hooks and then imports the worker module.
 */
export function startWorker(code: WorkerCode = workerCode()): Worker {
  if (code.kind === 'built') return new Worker(code.entry);
  const boot = `import { register } from ${JSON.stringify(tsxApiUrl())}; register(); await import(${JSON.stringify(code.entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: [] });
}

/**
 * The URL of tsx's ESM API, from tsx's own package exports, resolved from
 * here rather than the caller's working directory. (Not
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
 * Run the jobs on `workers` threads (no more than there are jobs). A thread
 * that dies fails its seed and is replaced. `results[i]` is the result of
 * `jobs[i]`.
 */
export async function runPool(jobs: readonly SwarmJob[], o: PoolOptions): Promise<SwarmResult[]> {
  if (jobs.length === 0) return [];
  const code = o.code ?? workerCode();
  const results = new Array<SwarmResult>(jobs.length);
  let next = 0;
  const lane = () =>
    new Promise<void>((resolve) => {
      let worker = startWorker(code);
      let current = -1;
      const feed = () => {
        current = next < jobs.length ? next++ : -1;
        if (current >= 0) worker.postMessage(jobs[current]);
        else {
          worker.removeAllListeners();
          void worker.terminate().then(() => resolve());
        }
      };
      const done = (r: SwarmResult) => {
        results[current] = r;
        o.onResult?.(r);
        feed();
      };
      /** The thread died (an error, out of memory, or exited): fail its seed, carry on with a new one. */
      const died = (why: string) => {
        const job = jobs[current];
        worker.removeAllListeners();
        void worker.terminate();
        worker = startWorker(code);
        attach();
        if (job) done(crashed(job, why));
        else feed();
      };
      const attach = () => {
        worker.on('message', (r: SwarmResult) => done(r));
        worker.on('error', (err) => died(err instanceof Error ? err.message : String(err)));
        worker.on('exit', (exit) => died(`exited with code ${exit}`));
      };
      attach();
      feed();
    });
  const size = Math.max(1, Math.min(o.workers, jobs.length));
  await Promise.all(Array.from({ length: size }, lane));
  return results;
}
