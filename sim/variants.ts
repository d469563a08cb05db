/**
 * Broken variants of the protocol (the teeth), each made with
 * `machine.provide()` or a configuration override, never a flag inside a
 * machine. Each names the scenario that must catch it; those that lose,
 * duplicate or reorder an event must also be caught by the headline scenario.
 * They live in sim/ so that `wsim run|replay|inspect --variant NAME` can run
 * them: a user can watch a scenario catch a bug and read its timeline.
 */
import { assign, enqueueActions } from 'xstate';
import { clientConnectionMachine, type ClientContext, type ClientEvent } from '../machines/client-connection.ts';
import { encode, PROTOCOL_VERSION } from '../machines/protocol.ts';
import { hubMachine, publishedEvents, type HubContext, type HubEvent } from '../machines/hub.ts';
import { inflight, openedStream, type OutboundStream } from '../machines/outbound-stream.ts';
import { pendingAck, restartAt, skipTo } from '../machines/stream-cursor.ts';
import type { AccessPolicy } from '../machines/policy.ts';
import { flushStep, flushWith, onlyThinking, serverSessionMachine, type IoAction, type SessionContext, type SessionEvent } from '../machines/server-session.ts';
import type { ProtocolVariant } from './world.ts';

/** The headline scenario: it must catch every variant that loses, duplicates or reorders an event. */
export const HEADLINE = 'mission_critical_events_delivery_guaranteed';

export interface Broken {
  /** A short id for the command line (`--variant NAME`). */
  name: string;
  /** What is broken, in words. */
  title: string;
  /** The scenario whose property must fail on this variant. */
  caughtBy: string;
  /** The variant loses, duplicates or reorders events: the headline scenario must catch it too. */
  corruptsDelivery: boolean;
  variant: ProtocolVariant;
}

const deliverAll = { public: 'deliver', internal: 'deliver', restricted: 'deliver' } as const;
const ignoreRoles: AccessPolicy = { viewer: deliverAll, analyst: deliverAll, admin: deliverAll };

/** The client acks what it has received, not what the app has: a gap is acked away. */
const received = (context: ClientContext) =>
  Object.values(context.streams).map((c) => ({ cursor: c, upTo: Math.max(c.next - 1, ...Object.keys(c.held).map(Number)) }));
const ackBeforeApp = clientConnectionMachine.provide({
  guards: {
    hasPendingAcks: ({ context }: { context: ClientContext }) => received(context).some(({ cursor, upTo }) => upTo > cursor.acked),
  },
  actions: {
    flushAcks: enqueueActions(({ context, enqueue }) => {
      const acks: Record<string, number> = {};
      const streams = { ...context.streams };
      for (const { cursor, upTo } of received(context)) if (upTo > cursor.acked) streams[cursor.thread] = { ...cursor, acked: (acks[cursor.thread] = upTo) };
      if (Object.keys(acks).length === 0) return;
      enqueue.assign({ streams });
      enqueue({ type: 'sendFrame', params: { frame: { v: PROTOCOL_VERSION, type: 'ack', acks } } });
    }),
  },
});

/** The client forgets its position on reconnect and resumes every stream from sequence 1. */
const resumeFromZero = clientConnectionMachine.provide({
  actions: {
    sendResume: enqueueActions(({ context, enqueue }) => {
      const positions: Record<string, number> = {};
      const streams = { ...context.streams };
      for (const thread of context.threads) {
        const cursor = streams[thread];
        if (cursor) streams[thread] = { ...cursor, next: 1, acked: 0, held: {}, heldCount: 0, confirmed: false };
        positions[thread] = 1;
      }
      enqueue.assign({ streams });
      if (context.epoch === null) for (const thread of context.threads) enqueue({ type: 'sendFrame', params: { frame: { v: PROTOCOL_VERSION, type: 'subscribe', thread, from: 1 } } });
      else enqueue({ type: 'sendFrame', params: { frame: { v: PROTOCOL_VERSION, type: 'resume', epoch: context.epoch, positions } } });
    }),
  },
});

/** A session action that changes its context and enqueues its I/O (as the machine's own do). */
const sessionIo = (collect: Parameters<typeof enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent, never, IoAction, never, never, never>>[0]) =>
  enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent, never, IoAction, never, never, never>(collect);

/** A hub action that sends its sessions events (as the hub's own do). */
const hubIo = (collect: Parameters<typeof enqueueActions<HubContext, HubEvent, undefined, HubEvent, never, never, never, never, never>>[0]) =>
  enqueueActions<HubContext, HubEvent, undefined, HubEvent, never, never, never, never, never>(collect);

/** The server answers a resume from the head of the log and calls it recovered: the gap is skipped silently. */
const resumeFromLatest = hubMachine.provide({
  actors: {
    session: serverSessionMachine.provide({
      actions: {
        handleResume: sessionIo(({ context, event, enqueue }) => {
          if (event.type !== 'frame.resume') return;
          const identity = context.identity!;
          let streams = context.streams;
          for (const thread of Object.keys(event.frame.positions)) {
            const log = context.services.log(identity.tenant, identity.user, thread);
            enqueue({ type: 'sendFrame', params: { data: encode({ v: PROTOCOL_VERSION, type: 'subscribed', thread, epoch: context.services.epoch, from: log.head + 1, recovered: true }) } });
            streams = { ...streams, [thread]: openedStream(thread, log, log.head + 1, context.openings + 1) };
            enqueue({ type: 'follow', params: { thread, on: true } });
          }
          enqueue.assign({ streams });
        }),
      },
    }),
  },
});

/** Backpressure folds every kind of event, critical ones too. */
const backpressureDropsCritical = hubMachine.provide({
  actors: { session: serverSessionMachine.provide({ actions: { flush: flushWith(() => true) } }) },
});

/** The router notifies every session of every event (each session filters): O(sessions) per event. */
const broadcastRouter = hubMachine.provide({
  actions: {
    route: hubIo(({ context, event, enqueue }) => {
      if (event.type !== 'PUBLISH') return;
      for (const one of publishedEvents(event)) {
        const { tenant, user, thread } = one;
        context.logs.log(context.routeKey(tenant, user, thread)).append(one);
        for (const ref of context.sessions.values()) enqueue.sendTo(ref, { type: 'NOTIFY', thread });
      }
    }) as never,
  },
});

/** A session inside the hub, with some of its behaviour replaced. */
const withSession = (overrides: Parameters<typeof serverSessionMachine.provide>[0]) => hubMachine.provide({ actors: { session: serverSessionMachine.provide(overrides) } });

/** The cumulative ack claims one more than the app has: a lost frame right after it is never sent again. */
const ackOffByOne = clientConnectionMachine.provide({
  actions: {
    flushAcks: enqueueActions(({ context, enqueue }) => {
      const acks: Record<string, number> = {};
      const streams = { ...context.streams };
      for (const cursor of Object.values(context.streams)) {
        const upTo = pendingAck(cursor);
        if (upTo === undefined) continue;
        streams[cursor.thread] = { ...cursor, acked: upTo };
        acks[cursor.thread] = upTo + 1;
      }
      if (Object.keys(acks).length === 0) return;
      enqueue.assign({ streams });
      enqueue({ type: 'sendFrame', params: { frame: { v: PROTOCOL_VERSION, type: 'ack', acks } } });
    }),
  },
});

/** On a resync the client moves one past the stream's new start: the event at the start is dropped, though the app was told only of the gap before it. */
const resyncSkipsOne = clientConnectionMachine.provide({
  actions: {
    applyResync: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'frame.resync_required') return;
      const frame = event.frame;
      const cursor = context.streams[frame.thread];
      if (!cursor) return;
      const rebase = frame.reason === 'epoch_changed';
      const moved = rebase ? restartAt(cursor, frame.from + 1) : skipTo(cursor, frame.from + 1);
      enqueue.assign({
        streams: { ...context.streams, [frame.thread]: { ...moved, confirmed: true, epoch: frame.epoch } },
        epoch: frame.epoch,
        stats: { ...context.stats, resyncs: context.stats.resyncs + 1 },
      });
      enqueue({ type: 'notifyResync', params: { thread: frame.thread, from: cursor.next, to: rebase ? frame.from : Math.max(cursor.next, frame.from), reason: frame.reason } });
    }),
  },
});

/** The client hands each event to the app as it arrives, with no in-order buffer: a retransmitted frame comes late or not at all. */
const releaseOnArrival = clientConnectionMachine.provide({
  actions: {
    acceptEvent: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'frame.event') return;
      const frame = event.frame;
      // heard as the real acceptEvent hears it: only the release is broken
      if (!context.heard) enqueue.raise({ type: 'HEARD' });
      const cursor = context.streams[frame.thread];
      if (!cursor) {
        enqueue.assign({ heard: true });
        return;
      }
      enqueue.assign({ heard: true, streams: { ...context.streams, [frame.thread]: { ...cursor, next: Math.max(cursor.next, (frame.through ?? frame.seq) + 1) } } });
      // the app's answer finds no stream waiting on it (withApp is never set) and is ignored
      if (frame.event) enqueue({ type: 'deliver', params: { thread: frame.thread, seq: frame.seq, event: frame.event } });
      enqueue.raise({ type: 'ACK_DUE' });
    }),
  },
});

/** A batch's run of events goes to the app whole whenever the stream has nothing with the app: it is never checked to continue the stream (a gap, a duplicate, an overtaken frame). */
const runOrderUnchecked = clientConnectionMachine.provide({
  guards: {
    isPlainRun: ({ context, event }: { context: ClientContext; event: ClientEvent }) => {
      if (event.type !== 'frame.events') return false;
      const cursor = context.streams[event.frames[0]!.thread];
      return cursor !== undefined && context.threads.includes(cursor.thread) && cursor.withApp === 0;
    },
  },
});

/** A successful connection does not reset the attempt counter: a long-lived tab gives up after maxAttempts disconnects in all. */
const attemptsNeverReset = clientConnectionMachine.provide({
  actions: { recordWelcome: assign(({ event }: { event: ClientEvent }) => (event.type === 'frame.welcome' ? { epoch: event.frame.epoch } : {})) },
});

/** The session ignores unsubscribe: it keeps sending (and indexing) the thread; the client drops it, the session retransmits. */
const keepsSendingAfterUnsubscribe = withSession({ actions: { handleUnsubscribe: () => undefined } });

/** Unsubscribe drops the session's stream but leaves it in the routing index: every event of the thread still wakes the session. */
const unsubscribeKeepsIndex = withSession({
  actions: {
    handleUnsubscribe: assign(({ context, event }: { context: SessionContext; event: SessionEvent }) => {
      if (event.type !== 'frame.unsubscribe') return {};
      const { [event.frame.thread]: _gone, ...streams } = context.streams;
      return { streams };
    }),
  },
});

/** Go-back-N resends from one past the first unacked frame: the lost frame waits for an ack timeout and a resume. */
const retransmitSkipsFirst = withSession({
  actions: {
    retransmit: assign(({ context }: { context: SessionContext }) => {
      const streams: Record<string, OutboundStream> = {};
      for (const [thread, stream] of Object.entries(context.streams)) streams[thread] = inflight(stream) > 1 ? { ...stream, sent: stream.acked + 1 } : stream;
      const retransmitted = Object.values(context.streams).reduce((n, s) => n + inflight(s), 0);
      return {
        streams,
        stats: { ...context.stats, retransmitted: context.stats.retransmitted + retransmitted },
        retransmits: context.retransmits + 1,
        rto: Math.min(context.config.rtoCapMs, context.rto * 2),
      };
    }),
  },
});

/** The eviction path sends resync_required once but does not repeat it on the frames that follow (the bug before issue 12). */
const evictionResyncOnce = withSession({
  actions: {
    flush: sessionIo(({ context, enqueue }) => {
      const step = flushStep(context, onlyThinking);
      // the resync the eviction path set is dropped: the frames after it no longer repeat it
      const streams: Record<string, OutboundStream> = {};
      for (const [thread, stream] of Object.entries(step.patch.streams)) {
        const before = context.streams[thread]?.resync;
        const { resync: _dropped, ...rest } = stream;
        streams[thread] = before ? { ...rest, resync: before } : rest;
      }
      enqueue.assign({ ...step.patch, streams });
      for (const action of step.io) enqueue(action);
      if (step.done) for (const e of step.done) enqueue.raise(e);
      else enqueue.raise({ type: 'FLUSH_MORE' });
    }),
  },
});

/** A role change reaches live sessions but not the directory: a tab that reconnects authenticates with its old role. */
const roleChangeForgotten = hubMachine.provide({
  actions: {
    changeRole: hubIo(({ context, event, enqueue }) => {
      if (event.type !== 'SET_ROLE') return;
      for (const ref of context.sessions.values()) enqueue.sendTo(ref, { type: 'ROLE_CHANGED', tenant: event.tenant, user: event.user, role: event.role });
    }) as never,
  },
});

const broken = (name: string, title: string, caughtBy: string, variant: ProtocolVariant, corruptsDelivery = false): Broken => ({ name, title, caughtBy, corruptsDelivery, variant });

export const BROKEN: Broken[] = [
  broken('dedup-off', 'dedup guard always false', HEADLINE, { clientMachine: clientConnectionMachine.provide({ guards: { isDuplicate: () => false } }) }, true),
  broken('router-ignores-tenant', 'router ignores tenant', 'multi_tenant_event_isolation', { routeKey: (_tenant, user, thread) => `${user}\u0000${thread}` }),
  broken('router-ignores-role', 'router ignores role', 'event_routing_with_role_based_access', { policy: ignoreRoles }),
  broken('ack-before-app', 'ack before the app has the event', HEADLINE, { clientMachine: ackBeforeApp }, true),
  broken('resume-from-zero', 'resume from sequence 0', 'connection_auto_reconnect_mechanism', { clientMachine: resumeFromZero }, true),
  broken('resume-from-latest', 'resume from the latest (skips the gap)', 'connection_auto_reconnect_mechanism', { hubMachine: resumeFromLatest }, true),
  broken('no-heartbeat-timeout', 'no heartbeat timeout', 'connection_heartbeat_monitoring', { clientMachine: clientConnectionMachine.provide({ delays: { pongTimeout: 1e9 } }), sessionConfig: { reapAfterMs: 1e9 } }),
  broken('retransmit-unbounded', 'retransmission without limit', 'event_delivery_retry_mechanism', { sessionConfig: { maxRetransmits: 1e9, rtoMs: 20, rtoCapMs: 20 } }),
  broken('backpressure-drops-critical', 'backpressure drops critical events', 'resource_exhaustion_recovery', { hubMachine: backpressureDropsCritical }, true),
  broken('router-broadcasts', 'router broadcasts to every session', 'event_routing_performance_under_load', { hubMachine: broadcastRouter }),
  broken('ack-off-by-one', 'cumulative ack one past what the app has', HEADLINE, { clientMachine: ackOffByOne }, true),
  broken('resync-skips-one', 'a resync skips the event at the new start', 'connection_failure_recovery', { clientMachine: resyncSkipsOne }, true),
  broken('release-on-arrival', 'events released as they arrive, no in-order buffer', HEADLINE, { clientMachine: releaseOnArrival }, true),
  broken('run-order-unchecked', "a batch's run goes to the app whole, never checked to continue the stream", HEADLINE, { clientMachine: runOrderUnchecked }, true),
  broken('attempts-never-reset', 'the attempt counter never resets after a successful connection', 'connection_auto_reconnect_mechanism', { clientMachine: attemptsNeverReset }),
  broken('sends-after-unsubscribe', 'the server keeps sending a thread after unsubscribe', 'thread_specific_event_routing', { hubMachine: keepsSendingAfterUnsubscribe }),
  broken('unsubscribe-keeps-index', 'unsubscribe leaves the routing index entry', 'thread_specific_event_routing', { hubMachine: unsubscribeKeepsIndex }),
  broken('retransmit-skips-first', 'go-back-N skips the first unacked frame', 'event_delivery_retry_mechanism', { hubMachine: retransmitSkipsFirst }),
  broken('eviction-resync-once', 'the eviction path does not repeat its resync', 'connection_failure_recovery', { hubMachine: evictionResyncOnce }),
  broken('role-change-forgotten', 'a role change is forgotten on reconnect', 'event_routing_with_role_based_access', { hubMachine: roleChangeForgotten }),
];

export const VARIANT_NAMES = BROKEN.map((b) => b.name);

export const findVariant = (name: string): Broken | undefined => BROKEN.find((b) => b.name === name);
