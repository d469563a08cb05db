/**
 * A swarm worker thread: receives one seed at a time, runs it, posts back the
 * compact result, and waits for the next until the pool ends it
 * (cli/swarm-pool.ts). It runs as built JavaScript when dist/ is fresh, else
 * through a bootstrap that registers tsx first (cli/swarm-worker-code.ts).
 */
import { parentPort } from 'node:worker_threads';
import { runSeed, type SwarmJob } from './swarm-seed.ts';

const port = parentPort;
if (!port) throw new Error('cli/swarm-worker.ts runs as a worker thread only');
port.on('message', (job: SwarmJob) => port.postMessage(runSeed(job)));
