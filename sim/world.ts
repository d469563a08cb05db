/**
 * The world's wiring: one run of one workload under one fault plan.
 *
 * It wires the workload's producers (agent-run machines) to the hub, the hub
 * to the transport (simulated network, or real sockets), and one client
 * machine per browser tab whose app (sim/app-stub.ts) writes what it receives
 * to the trace. The world writes the ground truth (who connected as whom,
 * what was produced, roles, subscriptions); the oracle judges from the trace
 * alone. It reads no machine's state: sim/gauges.ts does. It does not run
 * itself: sim/run-driver.ts (simulated time) and sim/ws-world.ts (real
 * sockets) drive it through its phases.
 */
import { createActor, type AnyActorRef, type EventObject, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { agentRunMachine, type AgentRunRequest } from '../machines/agent-run.ts';
import type { ClientConfig, ClientConnectionMachine } from '../machines/client-connection.ts';
import type { AgentEvent } from '../machines/frames.ts';
import { hubMachine, type HubMachine, type HubRef, type RouteKey } from '../machines/hub.ts';
import { Directory } from '../machines/identity.ts';
import type { Limits } from '../machines/limits.ts';
import type { AccessPolicy } from '../machines/policy.ts';
import type { SessionConfig } from '../machines/server-session.ts';
import { createClient, type AppSink, type ClientActor } from '../transport/client-endpoint.ts';
import { clientRoot, type ClientRoot } from '../transport/client-root.ts';
import type { Transport } from '../transport/link.ts';
import { createServerHandler, servingHub } from '../transport/server-endpoint.ts';
import { appStub, mergeFailures, type AppStubHost } from './app-stub.ts';
import type { SimClock } from './clock.ts';
import type { FaultPlan } from './fault-plan.ts';
import { Gauges } from './gauges.ts';
import { horizonOf } from './horizon.ts';
import type { FaultCounts } from './network.ts';
import { startRogue, type RogueHost } from './rogue.ts';
import { FUZZER_TENANT, FUZZER_USER, startFuzzer } from './rogue-fuzzer.ts';
import { makePayload } from './payload.ts';
import { Random } from './random.ts';
import { Trace } from './trace.ts';
import { TransitionLog } from './transition-log.ts';
import { WireMeter } from './wire-meter.ts';
import type { RunSpec, UserSpec, Workload } from './workload.ts';
import { ActorWatch } from './macrosteps.ts';

/** The protocol under test: the real one, or a variant made with `provide()` / config. */
export interface ProtocolVariant {
  clientMachine?: ClientConnectionMachine;
  hubMachine?: HubMachine;
  clientConfig?: Partial<ClientConfig>;
  sessionConfig?: Partial<SessionConfig>;
  policy?: AccessPolicy;
  routeKey?: RouteKey;
  logCapacity?: number;
  limits?: Partial<Limits>;
}

export interface WorldInput {
  scenario: string;
  seed: number;
  path?: string;
  workload: Workload;
  plan: FaultPlan;
  protocol?: ProtocolVariant;
  /** Liveness bound: after the plan heals and the last event, everything must arrive within this. */
  settleMs: number;
  /** Write state transitions to the trace (the timeline wants them; benchmarks may not). */
  traceTransitions?: boolean;
  keepTrace?: boolean;
  /** Another inspector (the Stately inspector) that sees every actor. */
  inspect?: (event: InspectionEvent) => void;
  /** Page reloads: at `at`, the tab is persisted, closed, and restored from its snapshot (after `edit`, for broken variants). */
  reloads?: readonly Reload[];
}

export interface Reload {
  at: number;
  client: string;
  edit?: (persisted: unknown) => unknown;
}

export interface WorldResult {
  trace: Trace;
  /** The network's injected faults, and the rogue clients of the plan (a fault kind of the world). */
  faults: FaultCounts & { rogue?: number };
  /** When the workload and faults were over and the settle window began. */
  healedAt: number;
  endedAt: number;
  /** XState macrosteps (snapshots) across all actors. */
  transitions: number;
  schedulerSteps: number;
}

export const clientId = (tenant: string, user: string, tab: number): string => `${tenant}/${user}/${tab}`;
export const tokenOf = (tenant: string, user: string): string => `tok:${tenant}:${user}`;

/** What the world needs of time: the scheduler in simulation, real timers on real sockets. */
export interface WorldTime {
  readonly now: number;
  at(t: number, label: string, fn: () => void): unknown;
  after(ms: number, label: string, fn: () => void): unknown;
}

/** A transport the world can also count on: open links and injected faults. */
export type WorldTransport = Transport & { openLinks(): number; stats(): FaultCounts };

export interface WorldSetup {
  time: WorldTime;
  /** XState's clock for every actor (absent: XState's own, real time). */
  clock?: SimClock;
  /** The transport, made once the world's trace and random exist. */
  transport: (world: World) => WorldTransport;
}

export class World {
  readonly time: WorldTime;
  readonly random: Random;
  readonly trace: Trace;
  /** What every tab's app writes to, and its clock (one for all tabs). */
  private readonly appHost: AppStubHost;
  readonly network: WorldTransport;
  readonly directory = new Directory();
  readonly clients = new Map<string, ClientActor>();
  /** What a tab's client is made of, kept for a reload. */
  private readonly tabs = new Map<string, { user: UserSpec; app: AppSink; transport: Transport; incarnation: number }>();
  protected hub!: HubRef;
  private epochs = 0;
  private readonly transitions: TransitionLog;
  private producers: AnyActorRef[] = [];
  readonly wire = new WireMeter();
  /** Link names rogues connected under (their sessions are theirs, whatever id they forged). */
  private readonly rogueLinks = new Set<string>();
  /** The only reader of the machines' state. */
  readonly gauges: Gauges;
  /** The server's connection ids: the world's randomness, as crypto is a real server's. */
  private readonly sessionIds: () => string;
  /** Every root actor (hubs, clients, producers): inspected only when the trace or an outside inspector wants their events. */
  protected readonly watch: ActorWatch;

  constructor(
    readonly input: WorldInput,
    protected readonly setup: WorldSetup,
  ) {
    this.time = setup.time;
    this.random = Random.seeded(input.seed);
    this.trace = new Trace({ keep: input.keepTrace ?? true });
    this.transitions = new TransitionLog(this.trace, () => this.time.now, input.traceTransitions !== false);
    this.trace.append({ t: 0, k: 'run', scenario: input.scenario, seed: input.seed, ...(input.path ? { path: input.path } : {}), faultPlan: input.plan });
    this.network = setup.transport(this);
    const ids = this.random.fork('session-ids');
    this.sessionIds = () => `s-${ids.int(0, 0x7fffffff).toString(36)}${ids.int(0, 0x7fffffff).toString(36)}`;
    this.gauges = new Gauges({
      trace: this.trace,
      time: this.time,
      wire: this.wire,
      plan: input.plan,
      rogueLinks: this.rogueLinks,
      hub: () => this.hub,
      hubs: () => this.hubs(),
      clients: () => this.clients.values(),
    });
    this.watch = new ActorWatch(this.inspect, input.traceTransitions !== false || input.inspect !== undefined, {
      step: () => this.transitions.count++,
      event: this.heard,
    });
    this.appHost = { trace: this.trace, now: () => this.time.now };
  }

  /** The clients' one XState system (see transport/client-root.ts), made with the first client. */
  private get clientRoot(): ClientRoot {
    return (this.tabsRoot ??= clientRoot({ ...this.clockOption, ...this.watch.options }));
  }

  private tabsRoot: ClientRoot | undefined;

  private get clockOption() {
    return this.setup.clock ? { clock: this.setup.clock } : {};
  }

  get transport(): Transport {
    return this.network;
  }

  // ---- inspection: every actor's, for the trace and the gauges -------------

  readonly inspect = (event: InspectionEvent): void => {
    this.input.inspect?.(event);
    if (event.type === '@xstate.event') this.heard(event.event);
    this.transitions.observe(event);
  };

  /** An event sent to an actor of a server's system (the router's notifications are a gauge). */
  private readonly heard = (event: EventObject): void => {
    if (event.type === 'NOTIFY') this.gauges.notified();
  };

  // ---- server ---------------------------------------------------------------

  startServer(): void {
    const protocol = this.input.protocol ?? {};
    this.hub = this.watch.system(createActor(servingHub(protocol.hubMachine ?? hubMachine), {
      id: 'hub',
      ...this.clockOption,
      ...this.watch.options,
      input: {
        epoch: `e${++this.epochs}`,
        restarted: this.epochs > 1,
        directory: this.directory,
        ...(protocol.policy ? { policy: protocol.policy } : {}),
        ...(protocol.logCapacity ? { logCapacity: protocol.logCapacity } : {}),
        ...(protocol.routeKey ? { routeKey: protocol.routeKey } : {}),
        ...(protocol.sessionConfig ? { sessionConfig: protocol.sessionConfig } : {}),
        ...(protocol.limits ? { limits: protocol.limits } : {}),
        sessionIds: this.sessionIds,
      },
    }));
    this.hub.start();
  }

  listen(): void {
    this.network.listen(
      createServerHandler({
        hub: () => this.hub,
        observer: {
          sent: (link, data) => this.wire.sent(link, data),
          rejected: (link, code, detail) => this.trace.append({ t: this.time.now, k: 'reject', side: 'server', link, code, detail }),
        },
      }),
    );
  }

  /** The server came back with empty logs: a new hub, a new epoch. */
  restartServer(): void {
    this.hub.send({ type: 'SHUTDOWN', code: 1012, reason: 'restart' });
    this.trace.append({ t: this.time.now, k: 'fault', fault: 'restart', detail: `epoch e${this.epochs + 1}` });
    this.startServer();
  }

  get currentHub(): HubRef {
    return this.hub;
  }

  /** Every hub that may hold something at the end (a cluster has one per node). */
  protected hubs(): HubRef[] {
    return [this.hub];
  }

  // ---- clients and their apps ----------------------------------------------

  startClients(transport: Transport): void {
    for (const user of this.input.workload.users) {
      this.directory.add(tokenOf(user.tenant, user.user), { tenant: user.tenant, user: user.user, role: user.role, threads: '*' });
      const failure = mergeFailures(this.input.workload.appFailures.filter((f) => f.tenant === user.tenant && f.user === user.user));
      for (let tab = 0; tab < user.tabs; tab++) {
        const id = clientId(user.tenant, user.user, tab);
        this.trace.append({ t: 0, k: 'conn', conn: id, tenant: user.tenant, user: user.user, role: user.role, endpoint: id });
        for (const thread of user.threads) this.trace.append({ t: 0, k: 'subscribe', conn: id, thread, on: true });
        const app = appStub(this.appHost, id, this.random.fork(`app:${id}`), failure);
        this.tabs.set(id, { user, app, transport, incarnation: 0 });
        this.clients.set(id, this.clientOf(id, {}));
      }
    }
    for (const actor of this.clients.values()) actor.start();
    for (const actor of this.clients.values()) actor.send({ type: 'START' });
  }

  /** One tab's client actor: a new one, or one restored from a persisted snapshot. */
  private clientOf(id: string, restore: { snapshot?: SnapshotFrom<ClientConnectionMachine> }): ClientActor {
    const protocol = this.input.protocol ?? {};
    const tab = this.tabs.get(id)!;
    return this.watch.leaf(createClient({
      parent: this.clientRoot.ref,
      id,
      endpoint: id,
      token: tokenOf(tab.user.tenant, tab.user.user),
      threads: tab.user.threads,
      transport: tab.transport,
      app: tab.app,
      random: this.random.fork(tab.incarnation === 0 ? `client:${id}` : `client:${id}~${tab.incarnation}`),
      ...this.clockOption,
      ...this.watch.options,
      ...(protocol.clientConfig ? { config: protocol.clientConfig } : {}),
      ...(protocol.clientMachine ? { machine: protocol.clientMachine } : {}),
      ...(restore.snapshot ? { snapshot: restore.snapshot, incarnation: tab.incarnation } : {}),
    }));
  }

  /**
   * A page reload: the tab's client is persisted (through JSON, as a browser
   * would store it), closed, and a new client restored from the snapshot
   * resumes where the old one stood.
   */
  reloadClient(reload: Reload): void {
    const old = this.clients.get(reload.client);
    const tab = this.tabs.get(reload.client);
    if (!old || !tab || old.getSnapshot().status !== 'active') return;
    const persisted: unknown = JSON.parse(JSON.stringify(old.getPersistedSnapshot()));
    old.send({ type: 'STOP' });
    this.clientRoot.stop(old);
    tab.incarnation++;
    const actor = this.clientOf(reload.client, { snapshot: (reload.edit ? reload.edit(persisted) : persisted) as SnapshotFrom<ClientConnectionMachine> });
    this.clients.set(reload.client, actor);
    actor.start();
    actor.send({ type: 'RESTORED' });
  }

  // ---- producers and mid-run changes ---------------------------------------

  /** A producer's event reaches the server (a cluster world publishes to a node, and retries). */
  protected publish(event: AgentEvent): void {
    this.hub.send({ type: 'PUBLISH', event });
  }

  private startRun(run: RunSpec, user: UserSpec): void {
    const sensitivities = { agent_started: run.sensitivity, agent_thinking: run.sensitivity, tool_executing: run.sensitivity, tool_completed: run.sensitivity, agent_completed: run.sensitivity };
    const producer = this.watch.leaf(createActor(
      agentRunMachine.provide({
        actions: {
          emit: (_, params) => {
            const event = params.event;
            this.trace.append({
              t: this.time.now, k: 'produce', tenant: event.tenant, user: event.user, thread: event.thread, run: event.run, idx: event.idx,
              type: event.type, sensitivity: event.sensitivity, bytes: event.payload.length, hash: event.hash,
            });
            this.publish(event);
          },
        },
      }),
      { id: `run:${run.id}`, ...this.clockOption, ...this.watch.options, input: { tenant: user.tenant, user: user.user, thread: run.thread, run: run.id, sensitivities } },
    )).start();
    this.producers.push(producer);
    run.steps.forEach((step, k) => {
      this.time.at(run.startAt + k * run.intervalMs, `produce ${run.id}`, () => producer.send(withPayload(step, run, k)));
    });
  }

  scheduleWorkload(): void {
    const w = this.input.workload;
    for (const close of w.tabCloses) {
      const id = clientId(close.tenant, close.user, close.tab);
      const user = w.users.find((u) => u.tenant === close.tenant && u.user === close.user);
      this.time.at(close.at, 'tab close', () => {
        for (const thread of user?.threads ?? []) this.trace.append({ t: this.time.now, k: 'subscribe', conn: id, thread, on: false });
        this.clients.get(id)?.send({ type: 'STOP' });
      });
    }
    if (w.fuzzFrames > 0) this.startFuzzer(w.fuzzFrames);
    this.input.plan.rogues?.forEach((spec, i) => this.time.at(spec.at, `rogue ${spec.kind}`, () => startRogue(this.rogueHost, spec, i)));
    if (this.input.plan.rogues?.length) this.gauges.sampleQuotas(250, horizonOf(w, this.input.plan) + this.input.settleMs);
    for (const user of w.users) for (const run of user.runs) this.startRun(run, user);
    for (const change of w.roleChanges) {
      this.time.at(change.at, 'role change', () => {
        this.trace.append({ t: this.time.now, k: 'role', tenant: change.tenant, user: change.user, role: change.role });
        this.hub.send({ type: 'SET_ROLE', tenant: change.tenant, user: change.user, role: change.role });
      });
    }
    for (const change of w.subscriptionChanges) {
      const id = clientId(change.tenant, change.user, change.tab);
      this.time.at(change.at, 'subscription change', () => {
        this.trace.append({ t: this.time.now, k: 'subscribe', conn: id, thread: change.thread, on: change.on });
        this.clients.get(id)?.send({ type: change.on ? 'SUBSCRIBE' : 'UNSUBSCRIBE', thread: change.thread });
      });
    }
  }

  /** A rogue but authenticated connection that sends garbage; every frame must be refused. */
  private startFuzzer(frames: number): void {
    const plan = { token: tokenOf(FUZZER_TENANT, FUZZER_USER), frames, random: this.random.fork('fuzz'), startAfterMs: 20, gapMs: () => 1, oversized: true };
    startFuzzer({ transport: this.transport, directory: this.directory, after: (ms, label, fn) => this.time.after(ms, label, fn) }, plan);
  }

  // ---- rogues: hostile clients as a fault kind ------------------------------

  private get rogueHost(): RogueHost {
    const users = this.input.workload.users;
    const transport: Transport = {
      listen: () => {},
      connect: (request, handler) => {
        this.rogueLinks.add(request.connId);
        return this.transport.connect(request, handler);
      },
    };
    return {
      trace: this.trace,
      transport,
      directory: this.directory,
      now: () => this.time.now,
      after: (ms, label, fn) => void this.time.after(ms, label, fn),
      victim: (i) => {
        const u = users[i % users.length]!;
        return { tenant: u.tenant, user: u.user, token: tokenOf(u.tenant, u.user), threads: u.threads };
      },
      sessionIds: () => this.gauges.honestSessionIds(),
      publish: (event) => this.hub.send({ type: 'PUBLISH', event }),
    };
  }

  // ---- the end: stop everything and count what is left ----------------------

  /** Stop every tab's client actor at once (children of the clients' root: they cannot be stopped directly). */
  stopClients(): void {
    for (const client of this.clients.values()) this.clientRoot.stop(client);
  }

  /** Every tab closes, then the server shuts down; the caller lets the closes travel. */
  shutdown(): void {
    for (const actor of this.clients.values()) actor.send({ type: 'STOP' });
    this.hub.send({ type: 'SHUTDOWN', code: 1001, reason: 'world ends' });
    for (const producer of this.producers) producer.stop();
  }

  /** Start everything: server, workload, tabs. */
  start(): void {
    this.startServer();
    this.listen();
    this.scheduleWorkload();
    this.startClients(this.transport);
    for (const reload of this.input.reloads ?? []) this.time.at(reload.at, 'page reload', () => this.reloadClient(reload));
  }

  /** The last records: gauges and what was left running (pending timers only the simulation can count). */
  end(pendingTimers: number, healedAt: number): void {
    const t = this.time.now;
    this.trace.append({ t, k: 'gauge', name: 'server.leftovers', owner: 'hub', value: this.gauges.serverLeftovers() });
    this.trace.append({ t, k: 'end', pendingTimers, liveActors: this.gauges.liveActors(), openLinks: this.network.openLinks(), healedAt });
  }

  get transitionCount(): number {
    return this.transitions.count;
  }
}

/**
 * Give each request its payload: deterministic text of the run's size. Built
 * field by field: a spread of the workload's step objects took V8's generic
 * copy, half a microsecond per event.
 */
function withPayload(step: AgentRunRequest, run: RunSpec, k: number): AgentRunRequest {
  const payload = makePayload(`${run.id}#${k}`, run.payloadBytes);
  return 'toolId' in step ? { type: step.type, toolId: step.toolId, payload } : { type: step.type, payload };
}
