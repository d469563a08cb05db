/**
 * Broken variants of the protocol, each made with `machine.provide()` or a
 * configuration override, never a flag inside a machine. Each names the
 * scenario that must catch it.
 */
import { enqueueActions } from 'xstate';
import { clientConnectionMachine, type ClientContext } from '../../machines/client-connection.ts';
import { encode, PROTOCOL_VERSION, type ResumeFrame } from '../../machines/protocol.ts';
import { hubMachine } from '../../machines/hub.ts';
import { OutboundStream } from '../../machines/outbound-stream.ts';
import type { AccessPolicy } from '../../machines/policy.ts';
import { flushWith, serverSessionMachine, type SessionContext } from '../../machines/server-session.ts';
import type { ProtocolVariant } from '../../sim/world.ts';

export interface Broken {
  name: string;
  /** The scenario whose property must fail on this variant. */
  caughtBy: string;
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

/** The server answers a resume from the head of the log and calls it recovered: the gap is skipped silently. */
const resumeFromLatest = hubMachine.provide({
  actors: {
    session: serverSessionMachine.provide({
      actions: {
        handleResume: ({ context, event }: { context: SessionContext; event: { type: string; frame?: unknown } }) => {
          const frame = event.frame as ResumeFrame;
          const identity = context.identity!;
          for (const thread of Object.keys(frame.positions)) {
            const log = context.services.log(identity.tenant, identity.user, thread);
            context.port.send(encode({ v: PROTOCOL_VERSION, type: 'subscribed', thread, epoch: context.services.epoch, from: log.head + 1, recovered: true }));
            context.streams.set(thread, new OutboundStream(thread, log, log.head + 1));
            context.services.index(identity.tenant, identity.user, thread, context.connId, true);
          }
        },
      },
    }),
  },
});

/** Backpressure folds every kind of event, critical ones too. */
const backpressureDropsCritical = hubMachine.provide({
  actors: {
    session: serverSessionMachine.provide({
      actions: { flush: enqueueActions(({ context, enqueue }) => flushWith(context, (event) => enqueue.raise(event), () => true)) },
    }),
  },
});

/** The router notifies every session of every event (each session filters): O(sessions) per event. */
const broadcastRouter = hubMachine.provide({
  actions: {
    route: ({ context, event }) => {
      if (event.type !== 'PUBLISH') return;
      const { tenant, user, thread } = event.event;
      context.logs.log(context.routeKey(tenant, user, thread)).append(event.event);
      for (const ref of context.sessions.values()) ref.send({ type: 'NOTIFY', thread });
    },
  },
});

export const BROKEN: Broken[] = [
  { name: 'dedup guard always false', caughtBy: 'mission_critical_events_delivery_guaranteed', variant: { clientMachine: clientConnectionMachine.provide({ guards: { isDuplicate: () => false } }) } },
  { name: 'router ignores tenant', caughtBy: 'multi_tenant_event_isolation', variant: { routeKey: (_tenant, user, thread) => `${user}\u0000${thread}` } },
  { name: 'router ignores role', caughtBy: 'event_routing_with_role_based_access', variant: { policy: ignoreRoles } },
  { name: 'ack before the app has the event', caughtBy: 'mission_critical_events_delivery_guaranteed', variant: { clientMachine: ackBeforeApp } },
  { name: 'resume from sequence 0', caughtBy: 'connection_auto_reconnect_mechanism', variant: { clientMachine: resumeFromZero } },
  { name: 'resume from the latest (skips the gap)', caughtBy: 'connection_auto_reconnect_mechanism', variant: { hubMachine: resumeFromLatest } },
  {
    name: 'no heartbeat timeout',
    caughtBy: 'connection_heartbeat_monitoring',
    variant: { clientMachine: clientConnectionMachine.provide({ delays: { pongTimeout: 1e9 } }), sessionConfig: { reapAfterMs: 1e9 } },
  },
  { name: 'retransmission without limit', caughtBy: 'event_delivery_retry_mechanism', variant: { sessionConfig: { maxRetransmits: 1e9, rtoMs: 20, rtoCapMs: 20 } } },
  { name: 'backpressure drops critical events', caughtBy: 'resource_exhaustion_recovery', variant: { hubMachine: backpressureDropsCritical } },
  { name: 'router broadcasts to every session', caughtBy: 'event_routing_performance_under_load', variant: { hubMachine: broadcastRouter } },
];
