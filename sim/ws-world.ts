/**
 * The same world over real sockets: the hub behind a `ws` server on
 * 127.0.0.1 (port 0), every tab a real `ws` client, XState's real clock, and
 * a fault proxy between them that applies the scenario's fault plan to the
 * bytes (latency, jitter, bandwidth, half-open and partitioned directions,
 * refused and blackholed connects, cuts, server restarts). The workload, the
 * trace and the oracle are the simulation's. Loss, duplication and
 * reordering do not exist inside TCP: they are named in the run's header, not
 * injected. Real time is not reproducible: the trace of a run is written down
 * instead, and `wsim replay --trace FILE.jsonl` renders it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyOverrides, type FaultOverrides } from './fault-arbitraries.ts';
import { describeFaultPlan, type FaultPlan } from './fault-plan.ts';
import { CLOCK_STALL_GAUGE, CLOCK_TOLERANCE_GAUGE, silences, stalledWithin, stallsOf } from './checks.ts';
import { DEFAULT_CLIENT_CONFIG } from '../machines/client-connection.ts';
import { judge, percentile } from './oracle.ts';
import type { TraceRecord } from './records.ts';
import { mergeProtocol, judgeRun, reportOf, resolveInput, type RunOptions, type RunOutcome, type Scenario, type ScenarioInput, type ScenarioReport } from './scenario.ts';
import { findScenario } from './scenarios/index.ts';
import type { Trace } from './trace.ts';
import { NO_FAULTS, TracedWs } from './traced-ws.ts';
import { notApplied, proxyFaults, type ServerState } from './ws-faults.ts';
import { Random } from './random.ts';
import { horizonOf } from './horizon.ts';
import { FUZZER_TENANT, FUZZER_USER, startFuzzer } from './rogue-fuzzer.ts';
import { tokenOf, World, type WorldResult, type WorldTime } from './world.ts';
import { FaultProxy } from '../transport/fault-proxy.ts';
import { startWsServer } from '../transport/ws-server.ts';
import { WsTransport } from '../transport/ws-transport.ts';

/**
 * How late real time may be against the plan, in ms: timers and socket events
 * run on a shared event loop (on 2 loaded cores, 10-100 ms late), and a frame
 * the proxy let through just before a window began is read a moment later.
 * Checks that judge a time bound (the heartbeat's H+T) add this, and only in a
 * real-time world: the ws world writes it to the trace.
 */
export const REAL_TIME_TOLERANCE_MS = 250;

/** Where a failing ws run writes its trace (it cannot be re-run, but it can be read). */
export const WS_TRACE_DIR = join('.wsim', 'ws-traces');

/** Real time since the world began, with every timer cancellable at the end. */
class RealTime implements WorldTime {
  private readonly start = performance.now();
  private readonly timers = new Set<NodeJS.Timeout>();

  get now(): number {
    return performance.now() - this.start;
  }

  at(t: number, _label: string, fn: () => void): NodeJS.Timeout {
    return this.after(t - this.now, _label, fn);
  }

  after(ms: number, _label: string, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    this.timers.add(timer);
    return timer;
  }

  cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.watch) clearInterval(this.watch);
  }

  private watch: NodeJS.Timeout | null = null;

  /**
   * Report every time the process stood still (GC, a starved CPU, a long
   * task) for more than STALL_MS: (when it ran again, for how long). While it
   * does, no timer fires and no byte is read, so time bounds allow for it.
   */
  watchStalls(stalled: (at: number, ms: number) => void): void {
    let last = performance.now();
    this.watch = setInterval(() => {
      const now = performance.now();
      const late = now - last - STALL_TICK_MS;
      if (late > STALL_MS) stalled(now - this.start, late);
      last = now;
    }, STALL_TICK_MS);
  }
}

const STALL_TICK_MS = 20;
/** Shorter stalls are within REAL_TIME_TOLERANCE_MS. */
const STALL_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The plan's cuts and restarts, at their times: the proxy resets a socket, the hub restarts behind the server. */
function scheduleCuts(world: World, net: TracedWs, proxy: FaultProxy, time: RealTime, plan: FaultPlan, server: ServerState): void {
  const random = world.random.fork('ws-cuts');
  const cuts = [...plan.disconnect.at];
  if (plan.disconnect.everyMs) for (let t = plan.disconnect.everyMs; t < plan.healAt; t += plan.disconnect.everyMs) cuts.push(t);
  for (const t of cuts.filter((c) => c < plan.healAt)) {
    time.at(t, 'disconnect', () => {
      const open = proxy.established().filter((c) => !c.id.startsWith('rogue'));
      if (open.length > 0) proxy.cut(random.pick(open).id);
    });
  }
  for (const r of plan.restarts) {
    time.at(r.at, 'restart', () => {
      // every link closes 1012 now; connects are refused while down; the new hub has new logs (a new epoch)
      server.downUntil = r.at + r.downMs;
      net.injected('restart', `down ${r.downMs}ms`);
      world.restartServer();
    });
  }
}

/** Garbage from a rogue client (the plan's corruption and fuzzing). Resolves when all is sent. */
function injectGarbage(world: World, net: TracedWs, time: RealTime, plan: FaultPlan): Promise<void> {
  const frames = world.input.workload.fuzzFrames + (plan.corrupt > 0 ? Math.ceil(plan.corrupt * 1000) : 0);
  if (frames === 0) return Promise.resolve();
  return new Promise<void>((resolve) =>
    startFuzzer(
      { transport: net, directory: world.directory, after: (ms, label, fn) => time.after(ms, label, fn) },
      {
        token: tokenOf(FUZZER_TENANT, FUZZER_USER),
        frames,
        random: world.random.fork('ws-faults'),
        // paced under the server's rate limit (a flood is closed 1008, which a transport spec proves)
        gapMs: (sent) => (sent % 4 === 0 ? 1 : 0),
        oversized: false,
        onSent: () => void net.faults.corrupt++,
        onDone: resolve,
      },
    ),
  );
}

/** Every critical event already reached every tab that wants it (the oracle finds nothing lost so far). */
function settled(world: World): boolean {
  return judge(world.trace.records).metrics.lost === 0;
}

/** One line: the run, the full plan, and what of it real sockets cannot apply. */
export function wsHeader(id: string, url: string, seed: number, plan: FaultPlan): string {
  const missing = notApplied(plan);
  return `  ${id} over ws via fault proxy ${url} seed ${seed}: ${describeFaultPlan(plan)}${missing.length ? `\n    not applied over TCP: ${missing.join('; ')}` : ''}\n`;
}

export interface WsRun {
  result: WorldResult;
  effective: ScenarioInput;
}

/** Called once a run's proxy is up: its header line (seed, plan) and the plan's parts TCP cannot apply. */
export type WsHeaderSink = (header: string, notApplied: string[]) => void;

export async function runWorldOverWs(scenario: Scenario, input: ScenarioInput, options: { seed: number; path?: string; overrides?: FaultOverrides; onHeader?: WsHeaderSink; onNote?: (line: string) => void }): Promise<WsRun> {
  const plan = options.overrides ? applyOverrides(input.plan, options.overrides, input.workload) : input.plan;
  const effective = { ...input, plan };
  const protocol = mergeProtocol(scenario.protocol, undefined);
  const time = new RealTime();
  const server: ServerState = { downUntil: -Infinity };
  let world!: World;
  let net!: TracedWs;
  const wsServer = await startWsServer({ authenticate: (token) => world.directory.authenticate(token).ok, ...(plan.sendBufferBytes ? { bufferCap: plan.sendBufferBytes } : {}) });
  const proxy = await FaultProxy.start({
    upstreamPort: wsServer.port,
    faults: proxyFaults(plan, () => time.now, Random.seeded(input.worldSeed).fork('ws-proxy'), server),
    observer: { fault: (fault, conn, detail) => net.proxyObserver.fault(fault, conn, detail) },
  });
  const ws = new WsTransport(proxy.urlFor(wsServer.url), wsServer);
  world = new World(
    { scenario: scenario.id, seed: input.worldSeed, ...(options.path ? { path: options.path } : {}), workload: input.workload, plan, protocol, settleMs: scenario.settleMs, keepTrace: true },
    { time, transport: (w) => (net = new TracedWs(ws, () => w.trace, () => time.now)) },
  );
  // the sim layer does not print: the caller decides (wsim run shows it with --verbose, or what TCP cannot apply)
  options.onHeader?.(wsHeader(scenario.id, proxy.urlFor(wsServer.url), options.seed, plan), notApplied(plan));
  time.watchStalls((at, ms) => world.trace.append({ t: at, k: 'gauge', name: CLOCK_STALL_GAUGE, owner: 'world', value: Math.round(ms) }));
  try {
    world.start();
    scheduleCuts(world, net, proxy, time, plan, server);
    const garbage = injectGarbage(world, net, time, plan);
    const healedAt = horizonOf(input.workload, plan);
    await sleep(healedAt - time.now);
    await garbage;
    await sleep(200); // the last garbage frames are answered
    // liveness: everything must arrive within the settle window; stop as soon as it has
    const deadline = healedAt + scenario.settleMs;
    while (time.now < deadline && !(settled(world) && world.gauges.roguesGone())) await sleep(100);
    world.gauges.write();
    world.trace.append({ t: time.now, k: 'gauge', name: CLOCK_TOLERANCE_GAUGE, owner: 'world', value: REAL_TIME_TOLERANCE_MS });
    world.shutdown();
    await sleep(300);
    world.end(0, healedAt);
    if (options.onNote) reportDetections(world, protocol, options.onNote);
    return { result: { trace: world.trace, faults: net.stats(), healedAt, endedAt: time.now, transitions: world.transitionCount, schedulerSteps: 0 }, effective };
  } finally {
    time.cancelAll();
    world.currentHub.stop();
    world.stopClients();
    await ws.close();
    await proxy.close();
  }
}

/** Measured: how long each silent link took to be closed, against the bound H+T. */
function reportDetections(world: World, protocol: ReturnType<typeof mergeProtocol>, say: (line: string) => void): void {
  const client = { ...DEFAULT_CLIENT_CONFIG, ...protocol.clientConfig };
  const bound = client.pingIntervalMs + client.pongTimeoutMs;
  const found = silences(world.trace.records, world.input.plan, bound + REAL_TIME_TOLERANCE_MS);
  if (found.length === 0) return;
  const times = found.map((s) => (s.closedAt === undefined ? 'never' : `${(s.closedAt - s.from).toFixed(0)}`));
  say(`    heartbeat: ${found.length} silent link(s) closed after ${times.join(', ')} ms (bound H+T = ${bound} ms + ${REAL_TIME_TOLERANCE_MS} ms tolerance)\n`);
}

/**
 * Producer → app latency of every first delivery, less the time the world
 * stood still in between: what the protocol and the network took, not the
 * machine's scheduler.
 */
function runningLatencies(records: readonly TraceRecord[]): number[] {
  const stalls = stallsOf(records);
  const produced = new Map<string, number>();
  for (const r of records) if (r.k === 'produce') produced.set(`${r.tenant}/${r.user}/${r.run}/${r.idx}`, r.t);
  const seen = new Set<string>();
  const out: number[] = [];
  for (const r of records) {
    if (r.k !== 'app') continue;
    const key = `${r.tenant}/${r.user}/${r.run}/${r.idx}`;
    const at = produced.get(key);
    if (at === undefined || seen.has(`${r.conn} ${key}`)) continue;
    seen.add(`${r.conn} ${key}`);
    out.push(Math.max(0, r.t - at - stalledWithin(stalls, at, r.t)));
  }
  return out.sort((x, y) => x - y);
}

/**
 * Judge a real-time run by the scenario's contract, with one stated
 * difference: the p99 latency threshold is judged on latencies less the
 * world's stalls, plus REAL_TIME_TOLERANCE_MS (a simulated threshold cannot
 * promise what a starved CPU takes).
 */
export function judgeRealTime(scenario: Scenario, input: ScenarioInput, result: WorldResult, options: RunOptions & { compare: boolean }): RunOutcome {
  const limit = scenario.thresholds.maxP99LatencyMs;
  const outcome = judgeRun({ ...scenario, thresholds: { ...scenario.thresholds, maxP99LatencyMs: undefined } }, input, result, options);
  if (limit == null || options.overrides) return outcome;
  const p99 = percentile(runningLatencies(result.trace.records), 99);
  if (p99 < limit + REAL_TIME_TOLERANCE_MS) return outcome;
  const failure = `p99 latency ${p99.toFixed(1)} ms (less the world's stalls) ≥ ${limit} ms + ${REAL_TIME_TOLERANCE_MS} ms real-time tolerance`;
  return { ...outcome, failures: [...outcome.failures, failure], passed: false };
}

/** Beside a recorded trace: the run's input, in the swarm's failure-file shape, so the trace can be judged again. */
const inputFileOf = (traceFile: string): string => `${traceFile.replace(/\.jsonl$/, '')}.input.json`;

/** A failing run's trace, written down so that `wsim replay --trace FILE` can render and judge it. */
export async function keepTrace(outcome: RunOutcome): Promise<string> {
  await mkdir(WS_TRACE_DIR, { recursive: true });
  const file = join(WS_TRACE_DIR, `${outcome.scenario}-seed${outcome.seed}-path${outcome.path}.jsonl`);
  await writeFile(file, outcome.result.trace.toJSONL());
  await writeFile(inputFileOf(file), JSON.stringify({ scenario: outcome.scenario, seed: outcome.seed, path: outcome.path, input: outcome.input }));
  return file;
}

/**
 * Judge a recorded trace by its scenario's contract (oracle, checks,
 * thresholds) when its input was kept beside it; undefined otherwise (the
 * caller falls back to the oracle alone).
 */
export async function judgeRecorded(traceFile: string, trace: Trace): Promise<RunOutcome | undefined> {
  let kept: { scenario: string; seed: number; path: string; input: ScenarioInput };
  try {
    kept = JSON.parse(await readFile(inputFileOf(traceFile), 'utf8'));
  } catch {
    return undefined;
  }
  const scenario = findScenario(kept.scenario);
  if (!scenario || typeof kept.input?.worldSeed !== 'number') return undefined;
  const end = trace.records.findLast((r) => r.k === 'end');
  const result: WorldResult = { trace, faults: { ...NO_FAULTS }, healedAt: end?.k === 'end' ? end.healedAt : 0, endedAt: trace.records.at(-1)?.t ?? 0, transitions: 0, schedulerSteps: 0 };
  return judgeRealTime(scenario, kept.input, result, { seed: kept.seed, path: kept.path, compare: false });
}

/** `wsim run --transport ws`: the scenario's runs over real sockets, judged by the same oracle. */
export async function runScenarioOverWs(scenario: Scenario, options: { seed: number; runs: number; overrides?: FaultOverrides; onHeader?: WsHeaderSink; onNote?: (line: string) => void }): Promise<ScenarioReport & { traceFile?: string }> {
  const outcomes: RunOutcome[] = [];
  for (let i = 0; i < options.runs; i++) {
    const path = String(i);
    const input = resolveInput(scenario, options.seed, path)!;
    const { result, effective } = await runWorldOverWs(scenario, input, { ...options, path });
    // compared worlds are simulations: they are not run over real sockets
    const outcome = judgeRealTime(scenario, effective, result, { seed: options.seed, path, compare: false, ...(options.overrides ? { overrides: options.overrides } : {}) });
    outcomes.push(outcome);
    if (!outcome.passed) return { ...reportOf(scenario, options.seed, outcomes), traceFile: await keepTrace(outcome) };
  }
  return reportOf(scenario, options.seed, outcomes);
}
