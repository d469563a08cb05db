/**
 * The world's gauges, and the only place in sim/ that reads the machines'
 * state (hub, session and client snapshots): buffers against their caps, the
 * server's quotas while rogues are about, a deterministic memory model, and
 * what was left running at the end. The rest of the world talks to actors by
 * events; when a machine's context changes shape, this file changes with it.
 */
import type { HubRef, SessionRef } from '../machines/hub.ts';
import { inflightOf } from '../machines/server-session.ts';
import type { ClientActor } from '../transport/client-endpoint.ts';
import type { FaultPlan } from './fault-plan.ts';
import type { Trace } from './trace.ts';
import type { WireMeter } from './wire-meter.ts';
import type { WorldTime } from './world.ts';

export interface GaugeHost {
  readonly trace: Trace;
  readonly time: WorldTime;
  readonly wire: WireMeter;
  readonly plan: FaultPlan;
  /** Links rogues connected under (their sessions are theirs, whatever id they forged). */
  readonly rogueLinks: ReadonlySet<string>;
  /** The hub the buffer gauges read (a cluster's first node). */
  hub(): HubRef;
  /** Every hub that may hold something (a cluster's nodes). */
  hubs(): HubRef[];
  clients(): Iterable<ClientActor>;
}

const isRogue = (user: string): boolean => /^rogue\d+$/.test(user);

/** A hub's sessions still running (a finished one may wait in the map for its xstate.done.actor event). */
function* liveSessions(hub: HubRef) {
  for (const session of hub.getSnapshot().context.sessions.values()) if (session.getSnapshot().status === 'active') yield session;
}

const liveSessionCount = (hub: HubRef): number => [...liveSessions(hub)].length;

/** How many streams a session serves. */
const streamCount = (session: SessionRef): number => Object.keys(session.getSnapshot().context.streams).length;

/** The links of a hub's sessions (a crashed node's, which the network then closes). */
export const sessionLinksOf = (hub: HubRef): string[] => [...hub.getSnapshot().context.sessions.values()].map((s) => s.getSnapshot().context.link);

/** A clustered hub's mirror of the store (closed when its node crashes). */
export const mirrorOf = (hub: HubRef) => hub.getSnapshot().context.mirror;

export class Gauges {
  private outboxHighWater = 0;
  /** Notifications sessions received from the router (routing cost, counted on the inspection stream). */
  private notifies = 0;

  constructor(private readonly host: GaugeHost) {}

  /** The world's inspector saw the router notify a session. */
  notified(): void {
    this.notifies++;
  }

  // ---- buffers against their caps -------------------------------------------

  /** Sample the sessions' backlogs now and then (a measurement, not a verdict input of delivery). */
  sample(every: number, until: number): void {
    const { time } = this.host;
    const tick = () => {
      for (const session of this.host.hub().getSnapshot().context.sessions.values()) {
        this.outboxHighWater = Math.max(this.outboxHighWater, session.getSnapshot().context.stats.highWater);
      }
      if (time.now + every <= until) time.after(every, 'gauge sample', tick);
    };
    time.after(every, 'gauge sample', tick);
  }

  write(): void {
    const { trace, wire } = this.host;
    const t = this.host.time.now;
    // a session's backlog is a window over the replay log: the log's cap is what bounds memory
    trace.append({ t, k: 'gauge', name: 'outbox.highWater', owner: 'sessions', value: this.outboxHighWater });
    const logs = this.host.hub().getSnapshot().context.logs;
    trace.append({ t, k: 'gauge', name: 'replayLog.highWater', owner: 'hub', value: logs.highWater(), cap: logs.capacity });
    trace.append({ t, k: 'gauge', name: 'wire.retransmissions', owner: 'server', value: wire.retransmissions() });
    trace.append({ t, k: 'gauge', name: 'wire.maxSendsPerSeq', owner: 'server', value: wire.maxSendsPerSeq() });
    trace.append({ t, k: 'gauge', name: 'wire.chunkedSeqs', owner: 'server', value: wire.chunkedSeqs() });
    trace.append({ t, k: 'gauge', name: 'routing.notifies', owner: 'hub', value: this.notifies });
    trace.append({ t, k: 'gauge', name: 'buffers.unacked', owner: 'everyone', value: this.unackedBuffers() });
    if (this.host.plan.rogues?.length) this.writeQuotas();
  }

  /** Frames still held for want of an ack: session windows and client release buffers. */
  private unackedBuffers(): number {
    let n = 0;
    // a closed tab or session holds nothing any more: its memory goes with its actor
    for (const session of liveSessions(this.host.hub())) {
      n += inflightOf(session.getSnapshot().context.streams);
    }
    for (const client of this.host.clients()) {
      if (client.getSnapshot().status !== 'active') continue;
      for (const cursor of Object.values(client.getSnapshot().context.streams)) n += cursor.heldCount;
    }
    return n;
  }

  // ---- memory model ----------------------------------------------------------

  /**
   * A model of the bytes the protocol holds (replay logs, session and client
   * buffers): deterministic, unlike the heap, so a spec may assert on it.
   */
  memoryModel(): number {
    const hub = this.host.hub().getSnapshot().context;
    let bytes = hub.logs.bytes();
    for (const session of hub.sessions.values()) bytes += 512 + 64 * streamCount(session);
    for (const client of this.host.clients()) {
      for (const cursor of Object.values(client.getSnapshot().context.streams)) {
        bytes += 64;
        for (const frame of Object.values(cursor.held)) bytes += 128 + (frame.event?.payload.length ?? 0);
      }
    }
    return bytes;
  }

  /** Memory model at a third of the run (after warm-up) and at the end of the load. */
  sampleMemory(warmAt: number, endAt: number): void {
    const { trace, time } = this.host;
    time.at(warmAt, 'memory sample', () => trace.append({ t: time.now, k: 'gauge', name: 'memory.warm', owner: 'world', value: this.memoryModel() }));
    time.at(endAt, 'memory sample', () => trace.append({ t: time.now, k: 'gauge', name: 'memory.end', owner: 'world', value: this.memoryModel() }));
  }

  // ---- rogues: quotas, and what they leave -----------------------------------

  /**
   * The server's state, now and then while rogues are about: the quota gauges
   * must stay within the scenario's limits, the rogue gauges be back at 0 once
   * they left (sim/rogue-checks.ts judges both).
   */
  sampleQuotas(every: number, until: number): void {
    const { time } = this.host;
    const tick = () => {
      this.writeQuotas();
      if (time.now + every <= until) time.after(every, 'quota sample', tick);
    };
    time.after(every, 'quota sample', tick);
  }

  private writeQuotas(): void {
    const t = this.host.time.now;
    const hub = this.host.hub();
    const logs = hub.getSnapshot().context.logs;
    const sessions = [...liveSessions(hub)].map((s) => s.getSnapshot().context);
    const gauge = (name: string, value: number) => this.host.trace.append({ t, k: 'gauge', name, owner: 'hub', value });
    // the quotas are judged against the scenario's contract (rogue-checks), not the protocol under test
    gauge('quota.logsPerUser', logs.maxPerUser());
    gauge('quota.logsPerTenant', logs.maxPerTenant());
    gauge('quota.streamsPerSession', Math.max(0, ...sessions.map((s) => Object.keys(s.streams).length)));
    gauge('server.sessions', sessions.length);
    gauge('server.logs', logs.count);
    gauge('server.logBytes', logs.bytes());
    gauge('rogue.sessions', sessions.filter((s) => this.host.rogueLinks.has(s.link) || (s.identity !== null && isRogue(s.identity.user))).length);
    gauge('rogue.logs', logs.countOwned((o) => isRogue(o.user)));
  }

  /** Sessions the hub holds, and how many of them have a stream (benchmarks check their setup with these). */
  sessions(): { held: number; subscribed: number } {
    const sessions = [...this.host.hub().getSnapshot().context.sessions.values()];
    return { held: sessions.length, subscribed: sessions.filter((s) => streamCount(s) > 0).length };
  }

  /** The server's ids of honest open connections right now (what a rogue may guess). */
  honestSessionIds(): string[] {
    const sessions = [...this.host.hub().getSnapshot().context.sessions.entries()];
    return sessions.filter(([, s]) => s.getSnapshot().matches('open') && !this.host.rogueLinks.has(s.getSnapshot().context.link)).map(([id]) => id);
  }

  /** Every rogue left and the server holds nothing of theirs (a run over real sockets waits for it). */
  roguesGone(): boolean {
    const plan = this.host.plan.rogues ?? [];
    if (plan.length === 0) return true;
    if (this.host.time.now < Math.max(...plan.map((r) => r.leaveAt))) return false;
    const hub = this.host.hub();
    const live = [...liveSessions(hub)].some((s) => this.host.rogueLinks.has(s.getSnapshot().context.link));
    return !live && hub.getSnapshot().context.logs.countOwned((o) => isRogue(o.user)) === 0;
  }

  // ---- the end: what was left running ----------------------------------------

  /** Sessions and routing entries left on the servers after everyone left. */
  serverLeftovers(): number {
    let n = 0;
    for (const hub of this.host.hubs()) n += hub.getSnapshot().context.index.size + liveSessionCount(hub);
    return n;
  }

  /** Hubs, their sessions and the tabs' clients still running. */
  liveActors(): number {
    let live = 0;
    for (const hub of this.host.hubs()) live += (hub.getSnapshot().status === 'active' ? 1 : 0) + liveSessionCount(hub);
    for (const actor of this.host.clients()) if (actor.getSnapshot().status === 'active') live++;
    return live;
  }
}
