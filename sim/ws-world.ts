/**
 * The same world over real sockets: the hub behind a `ws` server on
 * 127.0.0.1 (port 0), every tab a real `ws` client, XState's real clock. The
 * workload, the trace and the oracle are the simulation's; only time and the
 * transport are real, so faults are real too: sockets terminated (the plan's
 * disconnects and partitions), garbage sent by a rogue client (the plan's
 * corruption and fuzzing). Loss, duplication and reordering do not exist on
 * TCP and are not injected. Real time is not reproducible: a trace hash here
 * identifies a run, it does not replay one.
 */
import { applyOverrides, type FaultOverrides } from './fault-arbitraries.ts';
import type { FaultPlan } from './fault-plan.ts';
import type { FaultCounts } from './network.ts';
import { judge } from './oracle.ts';
import { mergeProtocol, judgeRun, reportOf, resolveInput, type RunOutcome, type Scenario, type ScenarioInput, type ScenarioReport } from './scenario.ts';
import { fuzzFrame } from './fuzz.ts';
import { horizonOf, tokenOf, World, type WorldResult, type WorldTime, type WorldTransport } from './world.ts';
import type { ConnectRequest, Link, LinkHandler, ServerHandler } from '../transport/link.ts';
import { WsTransport } from '../transport/ws-transport.ts';

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
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const NO_FAULTS: FaultCounts = { drop: 0, dup: 0, reorder: 0, corrupt: 0, disconnect: 0, partitionDrop: 0, halfOpenDrop: 0, blackhole: 0, restart: 0, refused: 0 };

/** The real transport, written to the trace like the simulated one (links open and close). */
class TracedWs implements WorldTransport {
  readonly faults = { ...NO_FAULTS };
  private open = new Map<string, Link>();

  constructor(
    readonly ws: WsTransport,
    private readonly world: () => World,
  ) {}

  listen(server: ServerHandler): void {
    this.ws.listen(server);
  }

  connect(request: ConnectRequest, client: LinkHandler): Link {
    const trace = () => this.world().trace;
    const now = () => this.world().time.now;
    const link = this.ws.connect(request, {
      ...client,
      onOpen: () => {
        this.open.set(request.connId, link);
        trace().append({ t: now(), k: 'link', link: request.connId, event: 'open' });
        client.onOpen();
      },
      onClose: (info) => {
        this.open.delete(request.connId);
        trace().append({ t: now(), k: 'link', link: request.connId, event: 'close', code: info.code, reason: info.reason });
        client.onClose(info);
      },
    });
    return link;
  }

  /** Terminate one open client socket (the network's disconnect, for real). */
  terminateOne(pick: number): void {
    const links = [...this.ws.clientLinks().entries()].filter(([id]) => !id.startsWith('rogue'));
    const chosen = links[Math.floor(pick * links.length)];
    if (!chosen) return;
    this.faults.disconnect++;
    this.world().trace.append({ t: this.world().time.now, k: 'fault', fault: 'disconnect', target: chosen[0], detail: 'socket terminated' });
    (chosen[1].socket as { terminate?: () => void }).terminate?.();
  }

  openLinks(): number {
    return this.open.size;
  }

  stats(): FaultCounts {
    return this.faults;
  }
}

/** Real faults from the plan: terminated sockets (disconnects, partitions) and garbage from a rogue client. Resolves when all are injected. */
function injectFaults(world: World, net: TracedWs, time: RealTime, plan: FaultPlan): Promise<void> {
  const random = world.random.fork('ws-faults');
  const cuts = [...plan.disconnect.at, ...plan.partitions.map((p) => p.from)];
  if (plan.disconnect.everyMs) for (let t = plan.disconnect.everyMs; t < plan.healAt; t += plan.disconnect.everyMs) cuts.push(t);
  for (const t of cuts) time.at(t, 'disconnect', () => net.terminateOne(random.next()));
  const garbage = world.input.workload.fuzzFrames + (plan.corrupt > 0 ? Math.ceil(plan.corrupt * 1000) : 0);
  let injected!: () => void;
  const done = new Promise<void>((resolve) => (injected = resolve));
  if (garbage === 0) injected();
  if (garbage > 0) {
    const token = tokenOf('rogue', 'fuzzer');
    world.directory.add(token, { tenant: 'rogue', user: 'fuzzer', role: 'viewer', threads: '*' });
    const link = net.connect({ connId: 'rogue/fuzzer/0#1', endpoint: 'rogue/fuzzer/0', token }, {
      onOpen: () => {
        link.send(JSON.stringify({ v: 1, type: 'hello', token }));
        // paced under the server's rate limit (a flood is closed 1008, which a transport spec proves)
        let sent = 0;
        const next = () => {
          if (sent++ >= garbage) return injected();
          link.send(fuzzFrame(random, { oversized: false }));
          net.faults.corrupt++;
          time.after(sent % 4 === 0 ? 1 : 0, 'fuzz', next);
        };
        next();
      },
      onFrame: () => {},
      onClose: () => injected(),
    });
  }
  return done;
}

/** Every critical event already reached every tab that wants it (the oracle finds nothing lost so far). */
function settled(world: World): boolean {
  return judge(world.trace.records).metrics.lost === 0;
}

export async function runWorldOverWs(scenario: Scenario, input: ScenarioInput, options: { seed: number; path?: string; overrides?: FaultOverrides }): Promise<{ result: WorldResult; effective: ScenarioInput }> {
  const plan = options.overrides ? applyOverrides(input.plan, options.overrides, input.workload) : input.plan;
  const effective = { ...input, plan };
  const protocol = mergeProtocol(scenario.protocol, undefined);
  const time = new RealTime();
  let world!: World;
  const ws = await WsTransport.start({ authenticate: (token) => world.directory.authenticate(token).ok });
  const net = new TracedWs(ws, () => world);
  world = new World(
    { scenario: scenario.id, seed: input.worldSeed, ...(options.path ? { path: options.path } : {}), workload: input.workload, plan, protocol, settleMs: scenario.settleMs, keepTrace: true },
    { time, transport: () => net },
  );
  try {
    world.start();
    const injected = injectFaults(world, net, time, plan);
    const healedAt = horizonOf(input.workload, plan);
    await sleep(healedAt - time.now);
    await injected;
    await sleep(200); // the last garbage frames are answered
    // liveness: everything must arrive within the settle window; stop as soon as it has
    const deadline = healedAt + scenario.settleMs;
    while (time.now < deadline && !(settled(world) && world.roguesGone())) await sleep(100);
    world.writeGauges();
    world.shutdown();
    await sleep(300);
    world.end(0, healedAt);
    return { result: { trace: world.trace, faults: net.stats(), healedAt, endedAt: time.now, transitions: world.transitionCount, schedulerSteps: 0 }, effective };
  } finally {
    time.cancelAll();
    world.currentHub.stop();
    for (const client of world.clients.values()) client.stop();
    await ws.close();
  }
}

/** `wsim run --transport ws`: the scenario's runs over real sockets, judged by the same oracle. */
export async function runScenarioOverWs(scenario: Scenario, options: { seed: number; runs: number; overrides?: FaultOverrides }): Promise<ScenarioReport> {
  const outcomes: RunOutcome[] = [];
  for (let i = 0; i < options.runs; i++) {
    const path = String(i);
    const input = resolveInput(scenario, options.seed, path)!;
    const { result, effective } = await runWorldOverWs(scenario, input, { ...options, path });
    // compared worlds are simulations: they are not run over real sockets
    const outcome = judgeRun(scenario, effective, result, { seed: options.seed, path, compare: false });
    outcomes.push(outcome);
    if (!outcome.passed) break;
  }
  return reportOf(scenario, options.seed, outcomes);
}
