import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { runPool, SeedPool } from '../../cli/swarm-pool.ts';
import { workerCode, type WorkerCode } from '../../cli/swarm-worker-code.ts';
import type { SwarmJob, SwarmResult } from '../../cli/swarm-seed.ts';

const CHEAP = 'mission_critical_events_delivery_guaranteed';

/** Everything a seed's result says but its time. */
const outcome = (rs: SwarmResult[]) => rs.map(({ ms: _, ...r }) => r);

describe('cli/swarm-pool', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wsim-pool-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (path: string, text: string, mtime: number) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    utimesSync(path, mtime, mtime);
  };

  describe('the queue', () => {
    // a failing job in the middle: an unknown scenario fails in the worker, like a violated invariant
    const jobs: SwarmJob[] = [{ scenario: CHEAP, seed: 200 }, { scenario: 'no_such_scenario', seed: 201 }, { scenario: CHEAP, seed: 202 }, { scenario: CHEAP, seed: 203 }];
    const source: WorkerCode = { kind: 'source', entry: new URL('../../cli/swarm-worker.ts', import.meta.url), why: 'the spec asks for it' };

    it('one worker, two workers, and the TypeScript through tsx give the same results, in job order, failures included', async () => {
      const [one, two, tsx] = await Promise.all([runPool(jobs, { workers: 1 }), runPool(jobs, { workers: 2 }), runPool(jobs, { workers: 2, code: source })]);
      expect(one.map((r) => r.seed)).to.deep.equal([200, 201, 202, 203]);
      expect(one.map((r) => r.passed)).to.deep.equal([true, false, true, true]);
      expect(one[1]!.failures).to.deep.equal(['unknown scenario no_such_scenario']);
      expect(outcome(two)).to.deep.equal(outcome(one));
      expect(outcome(tsx)).to.deep.equal(outcome(one));
    });

    /** A stand-in worker module: passes every seed with its thread in the hash, exits on seed 2, throws on seed 4. */
    const fakeWorker = (): WorkerCode => {
      const entry = join(dir, 'fake-worker.mjs');
      writeFileSync(
        entry,
        `import { parentPort, threadId } from 'node:worker_threads';
        parentPort.on('message', (job) => {
          if (job.seed === 2) process.exit(3);
          if (job.seed === 4) throw new Error('boom');
          parentPort.postMessage({ ...job, passed: true, failures: [], traceHash: 'h' + job.seed + '@' + threadId, metrics: {}, ms: 0 });
        });`,
      );
      return { kind: 'built', entry: pathToFileURL(entry) };
    };
    const threadOf = (r: SwarmResult) => r.traceHash.split('@')[1];

    it('a worker that dies fails its seed, and a new thread takes the rest', async () => {
      const seeds = [1, 2, 3, 4, 5, 6];
      const results = await runPool(seeds.map((seed) => ({ scenario: 'x', seed })), { workers: 2, code: fakeWorker() });
      expect(results.map((r) => r.seed)).to.deep.equal(seeds);
      expect(results.map((r) => (r.passed ? r.traceHash.split('@')[0] : r.failures[0]))).to.deep.equal(['h1', 'worker crashed: exited with code 3', 'h3', 'worker crashed: boom', 'h5', 'h6']);
    });

    it('threads are started once and take seed after seed, batch after batch', async () => {
      const pool = new SeedPool({ workers: 2, code: fakeWorker() });
      try {
        const jobs = [1, 3, 5, 6, 7, 8, 9, 10].map((seed) => ({ scenario: 'x', seed }));
        const first = await pool.run(jobs);
        const second = await pool.run(jobs);
        expect(first.map((r) => r.seed)).to.deep.equal(jobs.map((j) => j.seed));
        const threads = new Set([...first, ...second].map(threadOf));
        expect(threads.size, [...threads].join(' ')).to.equal(2);
      } finally {
        await pool.close();
      }
    });

    it('no jobs, no threads', async () => {
      expect(await runPool([], { workers: 2, code: { kind: 'built', entry: pathToFileURL(join(dir, 'missing.mjs')) } })).to.deep.equal([]);
    });
  });

  describe('which code the workers run', () => {
    const t0 = Date.now() / 1000 - 3600;
    /** A checkout: sources at t0, a build of them 10 s later. */
    const checkout = (name: string) => {
      const root = join(dir, name);
      for (const file of ['cli/swarm-worker-code.ts', 'cli/swarm-worker.ts', 'cli/swarm-seed.ts', 'sim/world.ts', 'sim/queue.ts', 'spec/x.spec.ts']) write(join(root, file), '', t0);
      write(join(root, 'dist/cli/swarm-worker.js'), `import { runSeed } from './swarm-seed.js';\n`, t0 + 10);
      write(join(root, 'dist/cli/swarm-seed.js'), `import {\n  World,\n} from '../sim/world.js';\nexport * from "../sim/world.js";\n`, t0 + 10);
      write(join(root, 'dist/sim/world.js'), `const q = await import('./queue.js');\n`, t0 + 10);
      write(join(root, 'dist/sim/queue.js'), '', t0 + 10);
      return { root, code: () => workerCode(pathToFileURL(join(root, 'cli/swarm-worker-code.ts')).href) };
    };
    const why = (code: WorkerCode) => (code.kind === 'source' ? code.why : 'built');

    it('the build when it is at least as new as every source the worker imports', () => {
      const { root, code } = checkout('fresh');
      expect(code()).to.deep.equal({ kind: 'built', entry: pathToFileURL(join(root, 'dist/cli/swarm-worker.js')) });
      // a spec edited since the build: not the worker's code
      write(join(root, 'spec/x.spec.ts'), 'changed', t0 + 20);
      expect(code().kind).to.equal('built');
    });

    it('the sources through tsx when one the worker imports changed since the build, is gone, or there is no build', () => {
      const edited = checkout('edited');
      write(join(edited.root, 'sim/queue.ts'), 'changed', t0 + 20); // reached only through a dynamic import
      expect(why(edited.code())).to.equal('sim/queue.ts changed since the last build (npm run build)');
      expect(edited.code().entry.href).to.equal(pathToFileURL(join(edited.root, 'cli/swarm-worker.ts')).href);
      const gone = checkout('gone');
      rmSync(join(gone.root, 'sim/world.ts'));
      expect(why(gone.code())).to.match(/^sim\/world\.ts /);
      const unbuilt = checkout('unbuilt');
      rmSync(join(unbuilt.root, 'dist'), { recursive: true });
      expect(why(unbuilt.code())).to.equal('dist/ is not built (npm run build)');
    });

    it('the installed package (built modules, no sources) always runs its own build', () => {
      expect(workerCode('file:///opt/app/node_modules/wsim/dist/cli/swarm-worker-code.js')).to.deep.equal({ kind: 'built', entry: new URL('file:///opt/app/node_modules/wsim/dist/cli/swarm-worker.js') });
    });
  });
});
