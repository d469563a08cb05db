/**
 * The world: one run of one workload under one fault plan, in simulated time.
 *
 * It wires the workload's producers (agent-run machines) to the hub, the hub
 * to the transport (simulated network, or real sockets), and one client
 * machine per browser tab whose app writes what it receives to the trace.
 * The world writes the ground truth (who connected as whom, what was produced,
 * roles, subscriptions); the oracle judges from the trace alone.
 *
 * Phases: the workload runs and faults fire until the plan heals; the world
 * keeps running for `settleMs` (the liveness bound); then every client stops,
 * the server shuts down, and the world counts what was left running.
 */
import { createActor, type AnyActorRef, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { agentRunMachine, type AgentRunRequest } from '../machines/agent-run.ts';
import type { ClientConfig, ClientConnectionMachine } from '../machines/client-connection.ts';
import type { AgentEvent } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import { hubMachine, type HubMachine, type HubRef, type RouteKey } from '../machines/hub.ts';
import { Directory } from '../machines/identity.ts';
import type { Limits } from '../machines/limits.ts';
import type { AccessPolicy } from '../machines/policy.ts';
import type { SessionConfig } from '../machines/server-session.ts';
import { createClient, type AppSink, type ClientActor } from '../transport/client-endpoint.ts';
import type { Transport } from '../transport/link.ts';
import { createServerHandler } from '../transport/server-endpoint.ts';
import { SimClock } from './clock.ts';
import type { FaultPlan } from './fault-plan.ts';
import { SimNetwork, type FaultCounts } from './network.ts';
import { fuzzFrame } from './fuzz.ts';
import { startRogue, type RogueHost } from './rogue.ts';
import { makePayload } from './payload.ts';
import { Random } from './random.ts';
import { Scheduler } from './scheduler.ts';
import { Trace } from './trace.ts';
import { WireMeter } from './wire-meter.ts';
import { LeafWatch } from './macrosteps.ts';
import type { AppFailure, RunSpec, UserSpec, Workload } from './workload.ts';

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

/** Flatten a state value to one readable string ('open(heartbeat.waiting,acks.idle)'). */
function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const parts: string[] = [];
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const sub = stateName(inner);
    parts.push(typeof inner === 'string' ? `${key}.${sub}` : `${key}(${sub})`);
  }
  return parts.join(',');
}

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
  readonly network: WorldTransport;
  readonly directory = new Directory();
  readonly clients = new Map<string, ClientActor>();
  /** What a tab's client is made of, kept for a reload. */
  private readonly tabs = new Map<string, { user: UserSpec; app: AppSink; transport: Transport; incarnation: number }>();
  protected hub!: HubRef;
  private epochs = 0;
  private transitions = 0;
  private lastState = new Map<string, string>();
  private producers: AnyActorRef[] = [];
  readonly wire = new WireMeter();
  private outboxHighWater = 0;
  /** Notifications sessions received from the router (routing cost, counted on the inspection stream). */
  notifies = 0;
  /** The server's connection ids: the world's randomness, as crypto is a real server's. */
  private readonly sessionIds: () => string;
  /** Clients and producers: inspected only when the trace or an outside inspector wants their events. */
  private readonly leaves: LeafWatch;

  constructor(
    readonly input: WorldInput,
    protected readonly setup: WorldSetup,
  ) {
    this.time = setup.time;
    this.random = Random.seeded(input.seed);
    this.trace = new Trace({ keep: input.keepTrace ?? true });
    this.trace.append({ t: 0, k: 'run', scenario: input.scenario, seed: input.seed, ...(input.path ? { path: input.path } : {}), faultPlan: input.plan });
    this.network = setup.transport(this);
    const ids = this.random.fork('session-ids');
    this.sessionIds = () => `s-${ids.int(0, 0x7fffffff).toString(36)}${ids.int(0, 0x7fffffff).toString(36)}`;
    this.leaves = new LeafWatch(this.inspect, input.traceTransitions !== false || input.inspect !== undefined, () => this.transitions++);
  }

  private get clockOption() {
    return this.setup.clock ? { clock: this.setup.clock } : {};
  }

  get transport(): Transport {
    return this.network;
  }

  // ---- inspection: transitions into the trace ------------------------------

  readonly inspect = (event: InspectionEvent): void => {
    this.input.inspect?.(event);
    if (event.type === '@xstate.event' && event.event.type === 'NOTIFY') this.notifies++;
    if (event.type !== '@xstate.snapshot') return;
    this.transitions++;
    if (this.input.traceTransitions === false) return;
    const snapshot = event.snapshot as { value?: unknown; status?: string };
    if (snapshot.value === undefined) return;
    const actor = (event.actorRef as AnyActorRef).id;
    const to = stateName(snapshot.value);
    const from = this.lastState.get(actor) ?? '';
    if (from === to) return;
    this.lastState.set(actor, to);
    this.trace.append({ t: this.time.now, k: 'transition', actor, from, to, event: event.event.type });
  };

  // ---- server ---------------------------------------------------------------

  startServer(): void {
    const protocol = this.input.protocol ?? {};
    this.hub = createActor(protocol.hubMachine ?? hubMachine, {
      id: 'hub',
      ...this.clockOption,
      inspect: this.inspect,
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
    });
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

  // ---- clients and their apps ----------------------------------------------

  private appFor(id: string, failure: AppFailure | undefined): AppSink {
    const now = () => this.time.now;
    const random = this.random.fork(`app:${id}`);
    const poisoned = (e: AgentEvent) => failure?.poison.some((p) => p.run === e.run && p.idx === e.idx) ?? false;
    return {
      deliver: (thread, seq, event) => {
        if (failure && (poisoned(event) || random.chance(failure.failRate))) {
          return { ok: false, message: poisoned(event) ? `app handler throws on ${event.run}#${event.idx} (poison)` : 'app handler threw' };
        }
        this.trace.append({
          t: now(), k: 'app', conn: id, tenant: event.tenant, user: event.user, thread, run: event.run, idx: event.idx, type: event.type, seq,
          sensitivity: event.sensitivity, redacted: event.redacted === true, hash: event.hash, receivedHash: payloadHash(event.payload),
        });
        return { ok: true };
      },
      appFailed: (thread, seq, event, attempt, message) =>
        this.trace.append({ t: now(), k: 'app_error', conn: id, thread, seq, run: event.run, idx: event.idx, attempt, dead: false, message }),
      deadLetter: (thread, seq, event, message, attempts) =>
        this.trace.append({ t: now(), k: 'app_error', conn: id, thread, seq, run: event.run, idx: event.idx, attempt: attempts, dead: true, message }),
      resync: (thread, from, to, reason) => this.trace.append({ t: now(), k: 'resync', conn: id, thread, from, to, reason }),
      rejected: (code, detail) => this.trace.append({ t: now(), k: 'reject', side: 'client', link: id, code, detail }),
    };
  }

  startClients(transport: Transport): void {
    for (const user of this.input.workload.users) {
      this.directory.add(tokenOf(user.tenant, user.user), { tenant: user.tenant, user: user.user, role: user.role, threads: '*' });
      const failure = mergeFailures(this.input.workload.appFailures.filter((f) => f.tenant === user.tenant && f.user === user.user));
      for (let tab = 0; tab < user.tabs; tab++) {
        const id = clientId(user.tenant, user.user, tab);
        this.trace.append({ t: 0, k: 'conn', conn: id, tenant: user.tenant, user: user.user, role: user.role, endpoint: id });
        for (const thread of user.threads) this.trace.append({ t: 0, k: 'subscribe', conn: id, thread, on: true });
        const app = this.appFor(id, failure);
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
    return this.leaves.watch(createClient({
      id,
      endpoint: id,
      token: tokenOf(tab.user.tenant, tab.user.user),
      threads: tab.user.threads,
      transport: tab.transport,
      app: tab.app,
      random: this.random.fork(tab.incarnation === 0 ? `client:${id}` : `client:${id}~${tab.incarnation}`),
      ...this.clockOption,
      ...this.leaves.options,
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
    old.stop();
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
    const producer = this.leaves.watch(createActor(
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
      { id: `run:${run.id}`, ...this.clockOption, ...this.leaves.options, input: { tenant: user.tenant, user: user.user, thread: run.thread, run: run.id, sensitivities } },
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
    if (this.input.plan.rogues?.length) this.sampleQuotas(250, horizonOf(w, this.input.plan) + this.input.settleMs);
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
    const token = tokenOf('rogue', 'fuzzer');
    this.directory.add(token, { tenant: 'rogue', user: 'fuzzer', role: 'viewer', threads: '*' });
    const random = this.random.fork('fuzz');
    let sent = 0;
    const link = this.transport.connect(
      { connId: 'rogue/fuzzer/0#1', endpoint: 'rogue/fuzzer/0', token },
      {
        onOpen: () => {
          link.send(JSON.stringify({ v: 1, type: 'hello', token }));
          const next = () => {
            if (sent++ >= frames) return;
            link.send(fuzzFrame(random));
            this.time.after(1, 'fuzz', next);
          };
          this.time.after(20, 'fuzz', next);
        },
        onFrame: () => {},
        onClose: () => {},
      },
    );
  }

  // ---- rogues: hostile clients as a fault kind ------------------------------

  /** Link names rogues connected under (their sessions are theirs, whatever id they forged). */
  private readonly rogueLinks = new Set<string>();

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
      sessionIds: () =>
        [...this.hub.getSnapshot().context.sessions.entries()].filter(([, s]) => s.getSnapshot().matches('open') && !this.rogueLinks.has(s.getSnapshot().context.link)).map(([id]) => id),
      publish: (event) => this.hub.send({ type: 'PUBLISH', event }),
    };
  }

  /** Every rogue left and the server holds nothing of theirs (a run over real sockets waits for it). */
  roguesGone(): boolean {
    const plan = this.input.plan.rogues ?? [];
    if (plan.length === 0) return true;
    if (this.time.now < Math.max(...plan.map((r) => r.leaveAt))) return false;
    const hub = this.hub.getSnapshot().context;
    const live = [...this.liveSessions()].some((s) => this.rogueLinks.has(s.getSnapshot().context.link));
    return !live && hub.logs.countOwned((o) => /^rogue\d+$/.test(o.user)) === 0;
  }

  /**
   * The server's state, now and then while rogues are about: the quota gauges
   * must stay within the scenario's limits, the rogue gauges be back at 0 once
   * they left (sim/rogue-checks.ts judges both).
   */
  private sampleQuotas(every: number, until: number): void {
    const tick = () => {
      this.writeQuotaGauges();
      if (this.time.now + every <= until) this.time.after(every, 'quota sample', tick);
    };
    this.time.after(every, 'quota sample', tick);
  }

  private writeQuotaGauges(): void {
    const t = this.time.now;
    const hub = this.hub.getSnapshot().context;
    const sessions = [...this.liveSessions()].map((s) => s.getSnapshot().context);
    const isRogue = (user: string) => /^rogue\d+$/.test(user);
    const gauge = (name: string, value: number) => this.trace.append({ t, k: 'gauge', name, owner: 'hub', value });
    // the quotas are judged against the scenario's contract (rogue-checks), not the protocol under test
    gauge('quota.logsPerUser', hub.logs.maxPerUser());
    gauge('quota.logsPerTenant', hub.logs.maxPerTenant());
    gauge('quota.streamsPerSession', Math.max(0, ...sessions.map((s) => s.streams.size)));
    gauge('server.sessions', sessions.length);
    gauge('server.logs', hub.logs.count);
    gauge('server.logBytes', hub.logs.bytes());
    gauge('rogue.sessions', sessions.filter((s) => this.rogueLinks.has(s.link) || (s.identity !== null && isRogue(s.identity.user))).length);
    gauge('rogue.logs', hub.logs.countOwned((o) => isRogue(o.user)));
  }

  // ---- gauges: buffers against their caps ------------------------------------

  /** Sample the sessions' backlogs now and then (a measurement, not a verdict input of delivery). */
  sampleGauges(every: number, until: number): void {
    const tick = () => {
      for (const session of this.hub.getSnapshot().context.sessions.values()) {
        this.outboxHighWater = Math.max(this.outboxHighWater, session.getSnapshot().context.stats.highWater);
      }
      if (this.time.now + every <= until) this.time.after(every, 'gauge sample', tick);
    };
    this.time.after(every, 'gauge sample', tick);
  }

  writeGauges(): void {
    const t = this.time.now;
    // a session's backlog is a window over the replay log: the log's cap is what bounds memory
    this.trace.append({ t, k: 'gauge', name: 'outbox.highWater', owner: 'sessions', value: this.outboxHighWater });
    const logs = this.hub.getSnapshot().context.logs;
    this.trace.append({ t, k: 'gauge', name: 'replayLog.highWater', owner: 'hub', value: logs.highWater(), cap: logs.capacity });
    this.trace.append({ t, k: 'gauge', name: 'wire.retransmissions', owner: 'server', value: this.wire.retransmissions() });
    this.trace.append({ t, k: 'gauge', name: 'wire.maxSendsPerSeq', owner: 'server', value: this.wire.maxSendsPerSeq() });
    this.trace.append({ t, k: 'gauge', name: 'wire.chunkedSeqs', owner: 'server', value: this.wire.chunkedSeqs() });
    this.trace.append({ t, k: 'gauge', name: 'routing.notifies', owner: 'hub', value: this.notifies });
    this.trace.append({ t, k: 'gauge', name: 'buffers.unacked', owner: 'everyone', value: this.unackedBuffers() });
    if (this.input.plan.rogues?.length) this.writeQuotaGauges();
  }

  /** Frames still held for want of an ack: session windows and client release buffers. */
  private unackedBuffers(): number {
    let n = 0;
    // a closed tab or session holds nothing any more: its memory goes with its actor
    for (const session of this.liveSessions()) {
      for (const stream of session.getSnapshot().context.streams.values()) n += stream.inflight;
    }
    for (const client of this.clients.values()) {
      if (client.getSnapshot().status !== 'active') continue;
      for (const cursor of Object.values(client.getSnapshot().context.streams)) n += cursor.heldCount;
    }
    return n;
  }

  /**
   * A model of the bytes the protocol holds (replay logs, session and client
   * buffers): deterministic, unlike the heap, so a spec may assert on it.
   */
  memoryModel(): number {
    let bytes = this.hub.getSnapshot().context.logs.bytes();
    for (const session of this.hub.getSnapshot().context.sessions.values()) bytes += 512 + 64 * session.getSnapshot().context.streams.size;
    for (const client of this.clients.values()) {
      for (const cursor of Object.values(client.getSnapshot().context.streams)) {
        bytes += 64;
        for (const frame of Object.values(cursor.held)) bytes += 128 + (frame.event?.payload.length ?? 0);
      }
    }
    return bytes;
  }

  /** Memory model at a third of the run (after warm-up) and at the end of the load. */
  sampleMemory(warmAt: number, endAt: number): void {
    this.time.at(warmAt, 'memory sample', () => this.trace.append({ t: this.time.now, k: 'gauge', name: 'memory.warm', owner: 'world', value: this.memoryModel() }));
    this.time.at(endAt, 'memory sample', () => this.trace.append({ t: this.time.now, k: 'gauge', name: 'memory.end', owner: 'world', value: this.memoryModel() }));
  }

  // ---- the end: stop everything and count what is left ----------------------

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
    this.trace.append({ t, k: 'gauge', name: 'server.leftovers', owner: 'hub', value: this.serverLeftovers() });
    this.trace.append({ t, k: 'end', pendingTimers, liveActors: this.liveActors(), openLinks: this.network.openLinks(), healedAt });
  }

  /** The hub's sessions still running (a finished one may wait in the map for its SESSION_DONE). */
  private *liveSessions() {
    for (const session of this.hub.getSnapshot().context.sessions.values()) if (session.getSnapshot().status === 'active') yield session;
  }

  /** Sessions and routing entries left on the server after everyone left. */
  serverLeftovers(): number {
    return this.hub.getSnapshot().context.index.size + [...this.liveSessions()].length;
  }

  liveActors(): number {
    let live = (this.hub.getSnapshot().status === 'active' ? 1 : 0) + [...this.liveSessions()].length;
    for (const actor of this.clients.values()) if (actor.getSnapshot().status === 'active') live++;
    return live;
  }

  get transitionCount(): number {
    return this.transitions;
  }
}

/** A user may be drawn more than once: every poison counts, the highest failure rate applies. */
function mergeFailures(failures: AppFailure[]): AppFailure | undefined {
  if (failures.length === 0) return undefined;
  return { ...failures[0]!, failRate: Math.max(...failures.map((f) => f.failRate)), poison: failures.flatMap((f) => f.poison) };
}

/** Give each request its payload: deterministic text of the run's size. */
function withPayload(step: AgentRunRequest, run: RunSpec, k: number): AgentRunRequest {
  return { ...step, payload: makePayload(`${run.id}#${k}`, run.payloadBytes) };
}

/** When the last scheduled thing of the workload or the plan happens. */
export function horizonOf(workload: Workload, plan: FaultPlan): number {
  let t = plan.healAt;
  for (const u of workload.users) for (const r of u.runs) t = Math.max(t, r.startAt + (r.steps.length - 1) * r.intervalMs);
  for (const c of workload.roleChanges) t = Math.max(t, c.at);
  for (const c of workload.subscriptionChanges) t = Math.max(t, c.at);
  for (const r of plan.restarts) t = Math.max(t, r.at + r.downMs);
  for (const r of plan.rogues ?? []) t = Math.max(t, r.leaveAt);
  for (const c of plan.cluster?.crashes ?? []) t = Math.max(t, c.at + c.downMs);
  for (const f of plan.cluster?.broker ?? []) t = Math.max(t, f.at + f.forMs);
  return t;
}

export function runWorld(input: WorldInput): WorldResult {
  return runWorldOn(input, (i, setup) => new World(i, setup));
}

/** One run in simulated time of the world `make` builds (the embedded server's, or a cluster's). */
export function runWorldOn(input: WorldInput, make: (input: WorldInput, setup: WorldSetup, scheduler: Scheduler) => World): WorldResult {
  const scheduler = new Scheduler();
  const clock = new SimClock(scheduler);
  const world = make(input, {
    time: scheduler,
    clock,
    transport: (w) =>
      new SimNetwork({ scheduler, random: w.random.fork('network'), trace: w.trace, plan: input.plan, onRestart: () => w.restartServer() }),
  }, scheduler);
  world.start();
  const healedAt = horizonOf(input.workload, input.plan);
  world.sampleGauges(250, healedAt + input.settleMs);
  world.sampleMemory(Math.floor(healedAt / 3), healedAt);
  scheduler.runUntil(healedAt + input.settleMs);
  world.writeGauges();
  world.shutdown();
  // closes travel one latency; nothing should be left after that
  scheduler.runUntil(scheduler.now + 10_000);
  world.end(scheduler.size, healedAt);
  const rogues = input.plan.rogues?.length ?? 0;
  const faults = { ...world.network.stats(), ...(rogues > 0 ? { rogue: rogues } : {}) };
  return { trace: world.trace, faults, healedAt, endedAt: scheduler.now, transitions: world.transitionCount, schedulerSteps: scheduler.steps };
}
