/**
 * Memory: the heap one idle session costs, and whether the heap grows over the
 * sustained run.
 *
 * - bytesPerIdleSession: a simulated world with 1,000 idle users (one tab,
 *   one thread each: a client actor, its link, the hub's session actor and
 *   its routing entry), connected and subscribed, minus the same world with
 *   none, after full collections, / 1,000. A world of the same size runs
 *   first (the code it compiles is not the sessions'), and each world is
 *   measured only once the one before it was collected (see `collected`);
 * - compiledBytesPerIdleSession: the same, on compiled JavaScript as the built
 *   package runs it. Under tsx (`npm run bench`) esbuild's keepNames wraps
 *   every arrow function in `__name`, whose defineProperty gives each closure
 *   a 256-byte property store of its own, which no user pays: 6 KB of an idle
 *   session while each tab and link had closures of its own, under 1 KB since
 *   they are methods. Measured in a child node on an esbuild bundle of this file
 *   (keepNames off, packages external), or in process when this file is
 *   already compiled.
 * - heapGrowth: the sustained-load world of the sim bench, stopped at a
 *   third of its load (after warm-up) and at the end of its load; heap after
 *   full collections, (end − warm) / warm. The world keeps no trace records.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { horizonOf } from '../sim/horizon.ts';
import { sustainedInput, sustainedScenario } from './sim-speed.ts';
import { emptyWorkload, idleUsers, openWorld } from './sim-world.ts';
import { CALM_PLAN } from '../sim/fault-plan.ts';
import { gcFunction, log, round, roundSpread, settledHeap, spread, tick, type Spread } from './stats.ts';

export const IDLE_SESSIONS = 1000;

/** The previous world measured: the next measurement waits until it is collected. */
let previous: WeakRef<object> | undefined;

async function idleHeap(gc: () => void, users: number): Promise<number> {
  await collected(gc, previous);
  const { world, scheduler } = openWorld({ scenario: 'memory', seed: 11, workload: emptyWorkload(idleUsers(users)), plan: { ...CALM_PLAN, healAt: 0 }, settleMs: 0 });
  scheduler.runUntil(3000); // connected, subscribed, a few heartbeats
  const heap = await settledHeap(gc);
  const sessions = world.gauges.sessions().held;
  if (sessions !== users) throw new Error(`memory: ${sessions} sessions for ${users} users`);
  world.shutdown();
  scheduler.runUntil(scheduler.now + 10_000);
  previous = new WeakRef(world);
  return heap;
}

/**
 * Full collections until the world is gone (at most 30). Now and then V8
 * keeps a dropped world through several full collections in a row (found: one
 * repetition in three read ≈ 4,200 bytes per session, its empty world counted
 * with the 15 MB of the full one before it, which a later collection freed).
 */
async function collected(gc: () => void, ref: WeakRef<object> | undefined): Promise<void> {
  for (let pass = 0; pass < 30 && ref?.deref() !== undefined; pass++) {
    await tick(); // a WeakRef read keeps its target until the job ends
    gc();
    await tick();
  }
  if (ref?.deref() !== undefined) throw new Error('memory: the previous world is still reachable after 30 full collections');
}

/** Bytes per idle session, `reps` times (an empty world, then a full one, each time). */
export async function idleBytesPerSession(gc: () => void, reps: number, onRep: (bytes: number, rep: number) => void = () => {}): Promise<number[]> {
  const perSession: number[] = [];
  // a world of the same size first: the code it compiles would otherwise count for the first repetition's sessions (≈ 2 KB more)
  await idleHeap(gc, IDLE_SESSIONS);
  for (let i = 0; i < reps; i++) {
    const empty = await idleHeap(gc, 0);
    const full = await idleHeap(gc, IDLE_SESSIONS);
    perSession.push((full - empty) / IDLE_SESSIONS);
    onRep(perSession.at(-1)!, i);
  }
  return perSession;
}

/** `idleBytesPerSession` on compiled JavaScript: bundled without keepNames and run in a child node (see the header). */
async function compiledIdleBytes(gc: () => void, reps: number): Promise<number[]> {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return idleBytesPerSession(gc, reps);
  const { build } = await import('esbuild');
  // inside the project, so that the bundle's bare imports (xstate, ...) resolve from its node_modules
  const dir = path.join(path.dirname(self), '..', 'node_modules', '.cache', 'wsim-bench');
  mkdirSync(dir, { recursive: true });
  // one file per process: two benches of the same checkout may run at once
  const outfile = path.join(dir, `memory-${process.pid}.mjs`);
  await build({ entryPoints: [self], outfile, bundle: true, platform: 'node', format: 'esm', packages: 'external', keepNames: false, logLevel: 'warning' });
  const script = `const m = await import(${JSON.stringify(pathToFileURL(outfile).href)}); process.stdout.write(JSON.stringify(await m.idleBytesPerSession(gc, ${reps})));`;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { timeout: 300_000 });
    return JSON.parse(stdout) as number[];
  } finally {
    rmSync(outfile, { force: true });
  }
}

async function sustainedGrowth(gc: () => void, seconds: number): Promise<{ warm: number; end: number }> {
  const scenario = sustainedScenario();
  const input = sustainedInput(seconds);
  const { world, scheduler } = openWorld({ scenario: scenario.id, seed: input.worldSeed, workload: input.workload, plan: input.plan, protocol: scenario.protocol ?? {}, settleMs: scenario.settleMs });
  const healedAt = horizonOf(input.workload, input.plan);
  scheduler.runUntil(Math.floor(healedAt / 3));
  const warm = await settledHeap(gc);
  scheduler.runUntil(healedAt);
  const end = await settledHeap(gc);
  world.shutdown();
  scheduler.runUntil(scheduler.now + 10_000);
  return { warm, end };
}

export interface MemoryFigures {
  bytesPerIdleSession: number;
  /** The same on compiled JavaScript (what the built package pays). */
  compiledBytesPerIdleSession: number;
  heapGrowth: number;
}

export interface MemoryDetail {
  idleSessions: number;
  spread: { bytesPerIdleSession: Spread; compiledBytesPerIdleSession: Spread; heapGrowth: Spread };
  heapAfterWarmUpBytes: number;
  heapAtEndBytes: number;
}

export async function measureMemory(options: { reps: number; seconds: number; growthReps: number }): Promise<{ figures: MemoryFigures; detail: MemoryDetail }> {
  const gc = await gcFunction();
  if (!gc) throw new Error('memory: no garbage collector to call (run node with --expose-gc)');
  const perSession = await idleBytesPerSession(gc, options.reps, (bytes, i) => log(`memory: rep ${i + 1}/${options.reps}: ${Math.round(bytes)} bytes per idle session`));
  const compiled = await compiledIdleBytes(gc, options.reps);
  log(`memory: compiled JavaScript: ${compiled.map(Math.round).join(', ')} bytes per idle session`);
  const growth: number[] = [];
  let last = { warm: 0, end: 0 };
  for (let i = 0; i < options.growthReps; i++) {
    last = await sustainedGrowth(gc, options.seconds);
    growth.push((last.end - last.warm) / last.warm);
    log(`memory: sustained run ${i + 1}/${options.growthReps}: heap ${(last.warm / 1e6).toFixed(1)} MB after warm-up → ${(last.end / 1e6).toFixed(1)} MB at the end (${(100 * growth.at(-1)!).toFixed(1)}%)`);
  }
  const per = spread(perSession);
  const perCompiled = spread(compiled);
  const grow = spread(growth);
  return {
    figures: { bytesPerIdleSession: Math.round(per.median), compiledBytesPerIdleSession: Math.round(perCompiled.median), heapGrowth: round(grow.median) },
    detail: {
      idleSessions: IDLE_SESSIONS,
      spread: { bytesPerIdleSession: roundSpread(per, 4), compiledBytesPerIdleSession: roundSpread(perCompiled, 4), heapGrowth: roundSpread(grow) },
      heapAfterWarmUpBytes: last.warm,
      heapAtEndBytes: last.end,
    },
  };
}
