/**
 * The server: spawns one session per connection, keeps the replay logs and the
 * routing index, and routes each published event by tenant → user → thread to
 * the sessions subscribed to that stream only (O(subscribers), not O(sessions)).
 * Role-based access is applied by each session at send time with the policy
 * the hub lends it, so a role change applies to the next event sent.
 *
 * A restart is a new hub with a new epoch: the logs are gone and every resume
 * that refers to the old epoch is answered `resync_required`.
 *
 * Connection ids are the hub's own, drawn from the id source it is given
 * (crypto on a real server, the world's PRNG in simulation) and checked for
 * collisions: nothing a client sends names or reaches another connection.
 * Idle replay logs are swept on the hub's clock (see Limits.logIdleTtlMs).
 *
 * Clustered (a `store` in the input): the logs live in the store, shared by
 * every node, and the hub serves from its `StoreMirror`. A publish is
 * answered once the store stored it; sessions are woken when the mirror grew
 * (whoever published); the epoch is the store's, so a node that restarts is
 * not a new epoch, and a store that lost its data makes every session resync
 * its streams with `epoch_changed`. The node refuses connections (1013) until
 * it knows the store's epoch.
 */
import { assign, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import type { AgentEvent, Role } from './frames.ts';
import type { Directory } from './identity.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { DEFAULT_POLICY, type AccessPolicy } from './policy.ts';
import { CloseCode } from './frames.ts';
import { ReplayLogStore, streamKey } from './replay-log.ts';
import { serverSessionMachine, type SessionConfig, type SessionInput, type SessionPort, type SessionServices } from './server-session.ts';
import type { Store, StreamName } from './store.ts';
import { StoreMirror, type AppendDone } from './store-mirror.ts';
import { SubscriberIndex } from './subscriber-index.ts';
import { tickerMachine } from './ticker.ts';

export type SessionRef = ActorRefFrom<typeof serverSessionMachine>;

/** How a stream is keyed for routing and for its log (tenant first: ids collide across tenants). */
export type RouteKey = (tenant: string, user: string, thread: string) => string;

export interface HubInput {
  epoch: string;
  /** The server restarted: an earlier epoch's logs are lost. */
  restarted?: boolean;
  directory: Directory;
  policy?: AccessPolicy;
  logCapacity?: number;
  sessionConfig?: Partial<SessionConfig>;
  routeKey?: RouteKey;
  limits?: Partial<Limits>;
  /**
   * Where connection ids come from: must be unguessable on a real server
   * (`transport/session-ids.ts`), the world's PRNG in simulation. Default: a
   * counter, for tests that need no secrecy.
   */
  sessionIds?: () => string;
  /** Share the logs through this store (a cluster); without it the logs are the hub's own. */
  store?: Store;
  /** This node's name on the store (diagnostics and faults only). */
  node?: string;
  /** How often a clustered node re-asks the store for streams it is behind on (ms, default 1000). */
  storeRefreshMs?: number;
  /**
   * How long a clustered node keeps its clients while its store link is down
   * (ms, default 5000). Past it, every session is closed 1013 "store
   * unavailable" and new connections are refused the same way until the link
   * is back: clients reconnect, through the balancer, to a node that has it.
   */
  storeGraceMs?: number;
}

export interface HubContext {
  epoch: string;
  restarted: boolean;
  directory: Directory;
  policy: AccessPolicy;
  routeKey: RouteKey;
  logs: ReplayLogStore;
  index: SubscriberIndex;
  sessions: Map<string, SessionRef>;
  sessionConfig: Partial<SessionConfig>;
  limits: Limits;
  sessionIds: () => string;
  published: number;
  /** The node's view of the store (clustered only). */
  mirror: StoreMirror | undefined;
  /** The store link is up (always true without a store). */
  storeUp: boolean;
  storeRefreshMs: number;
  storeGraceMs: number;
}

export type HubEvent =
  /**
   * A transport accepted a link. `link` is the transport's name for it (traces
   * only); `token` the one it was admitted with; `accepted` hears the session
   * the hub made for it, under an id of the hub's own.
   */
  | {
      type: 'CONNECT';
      link: string;
      port: SessionPort;
      token?: string;
      /** The id the client asked for: never used (a client choosing ids took over sessions, issue 10). */
      hint?: string;
      accepted?: (session: SessionRef) => void;
    }
  /** `done` hears the store's answer (clustered): the seq, or a failure the producer should retry. */
  | { type: 'PUBLISH'; event: AgentEvent; done?: AppendDone }
  | { type: 'STORE_LOADED'; stream: StreamName }
  | { type: 'STORE_GREW'; stream: StreamName }
  | { type: 'STORE_EPOCH'; epoch: string }
  | { type: 'STORE_LINK'; up: boolean }
  | { type: 'STORE_REFRESH' }
  | { type: 'SET_ROLE'; tenant: string; user: string; role: Role }
  | { type: 'REVOKE'; token: string }
  | { type: 'SHUTDOWN'; code: number; reason: string }
  | { type: 'SESSION_DONE'; connId: string }
  | { type: 'SWEEP' };

/** A fresh id the map does not hold: a collision is drawn again, never shared. */
export function freshId(context: HubContext): string {
  for (;;) {
    const id = context.sessionIds();
    if (!context.sessions.has(id)) return id;
  }
}

/** The default id source: a counter (tests only; a real server injects crypto). */
function counterIds(): () => string {
  let n = 0;
  return () => `s${++n}`;
}

/** What a session may use of the hub: its logs, within quotas, and the routing index. */
function servicesOf(context: HubContext): SessionServices {
  if (context.mirror) return mirroredServices(context, context.mirror);
  return {
    epoch: context.epoch,
    restarted: context.restarted,
    policy: context.policy,
    authenticate: (token) => context.directory.authenticate(token),
    log: (tenant, user, thread) => context.logs.log(context.routeKey(tenant, user, thread), { tenant, user }),
    open: (tenant, user, thread, from) => context.logs.open(context.routeKey(tenant, user, thread), { tenant, user }, from),
    index: (tenant, user, thread, connId, on) => indexOf(context, context.routeKey(tenant, user, thread), connId, on),
  };
}

function indexOf(context: HubContext, key: string, connId: string, on: boolean): void {
  if (on) context.index.add(key, connId);
  else context.index.remove(key, connId);
}

/**
 * A clustered session's services: logs are the mirror's (keyed like the
 * store, by `streamKey`), the epoch is the store's as last heard, and each
 * stream this session opened is released when it leaves.
 */
function mirroredServices(context: HubContext, mirror: StoreMirror): SessionServices {
  const opened = new Set<string>();
  return {
    get epoch() {
      return mirror.epoch ?? context.epoch;
    },
    restarted: false,
    policy: context.policy,
    authenticate: (token) => context.directory.authenticate(token),
    log: (tenant, user, thread) => context.logs.log(streamKey(tenant, user, thread), { tenant, user }),
    open: (tenant, user, thread) => {
      const key = streamKey(tenant, user, thread);
      if (opened.has(key)) return { ok: true, log: mirror.log(key)!, forgotten: false };
      opened.add(key);
      return { ok: true, log: mirror.open({ tenant, user, thread }), forgotten: false };
    },
    ready: (tenant, user, thread) => mirror.isLoaded(streamKey(tenant, user, thread)),
    index: (tenant, user, thread, connId, on) => {
      const key = streamKey(tenant, user, thread);
      indexOf(context, key, connId, on);
      if (!on && opened.delete(key)) mirror.release({ tenant, user, thread });
    },
  };
}

/** The mirror, its callbacks turned into hub events (the store never calls back from inside `send`). */
function mirrorOf(input: HubInput, self: { send(event: HubEvent): void }): StoreMirror | undefined {
  if (!input.store) return undefined;
  return new StoreMirror(input.store, input.node ?? 'node', {
    loaded: (_key, stream) => self.send({ type: 'STORE_LOADED', stream }),
    grew: (_key, stream) => self.send({ type: 'STORE_GREW', stream }),
    known: (epoch) => self.send({ type: 'STORE_EPOCH', epoch }),
    epochChanged: (epoch) => self.send({ type: 'STORE_EPOCH', epoch }),
    link: (up) => self.send({ type: 'STORE_LINK', up }),
  });
}

/** Wake the sessions subscribed to a stream (also those whose answer waited for its load). */
function wake(context: HubContext, stream: StreamName): void {
  for (const connId of context.index.subscribers(streamKey(stream.tenant, stream.user, stream.thread))) {
    context.sessions.get(connId)?.send({ type: 'NOTIFY', thread: stream.thread });
  }
}

export type ConnectEvent = Extract<HubEvent, { type: 'CONNECT' }>;

/**
 * The hub's spawnSession action, naming each session with `name`: the hub's
 * own is `freshId` (a broken variant in the specs shows what a client-chosen
 * name did).
 */
export function spawnSessionNamed(name: (context: HubContext, event: ConnectEvent) => string) {
  return assign(({ context, event, spawn, self }: { context: HubContext; event: HubEvent; spawn: (src: 'session', options: { id: string; input: SessionInput }) => SessionRef; self: { send(event: HubEvent): void } }) => {
    if (event.type !== 'CONNECT') return {};
    const connId = name(context, event);
    // by name, so `hubMachine.provide({ actors: { session } })` swaps the session machine
    const ref = spawn('session', {
      id: connId,
      input: {
        connId, link: event.link, port: event.port, services: servicesOf(context), config: context.sessionConfig, limits: context.limits,
        ...(event.token !== undefined ? { upgradeToken: event.token } : {}),
      },
    });
    context.sessions.set(connId, ref);
    // a session that ends leaves the map at once: routing never reaches a dead session
    ref.subscribe({ complete: () => self.send({ type: 'SESSION_DONE', connId }) });
    event.accepted?.(ref);
    return {};
  });
}

/** What the hub does in either mode. */
const commonHandlers = {
  SWEEP: { actions: 'sweepLogs' },
  CONNECT: { actions: 'spawnSession' },
  SET_ROLE: { actions: 'changeRole' },
  REVOKE: { actions: 'revoke' },
  SESSION_DONE: { actions: 'forgetSession' },
  SHUTDOWN: { target: '#hub.stopped', actions: 'shutdownSessions' },
} as const;

export const hubMachine = setup({
  types: {
    context: {} as HubContext,
    events: {} as HubEvent,
    input: {} as HubInput,
  },
  actors: { session: serverSessionMachine, ticker: tickerMachine },
  delays: { storeGrace: ({ context }) => context.storeGraceMs },
  guards: {
    clustered: ({ context }) => context.mirror !== undefined,
    /** A clustered node that has not heard the store's epoch yet. */
    epochUnknown: ({ context }) => context.epoch === '',
    linkUp: ({ event }) => event.type === 'STORE_LINK' && event.up,
    linkDown: ({ event }) => event.type === 'STORE_LINK' && !event.up,
  },
  actions: {
    // typed by its own signature: setup's action type cannot name a function built outside it
    spawnSession: spawnSessionNamed(freshId) as never,
    /** A finished session leaves the map and the hub's children: nothing of it is kept. */
    forgetSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SESSION_DONE') return;
      context.sessions.delete(event.connId);
      enqueue.stopChild(event.connId);
    }),
    /** Clustered: the store appends; the mirror's STORE_GREW wakes the sessions, `done` answers the producer. */
    storePublish: assign(({ context, event }) => {
      if (event.type !== 'PUBLISH' || !context.mirror) return {};
      context.mirror.publish(event.event, event.done ?? (() => {}));
      return { published: context.published + 1 };
    }),
    wakeStream: ({ context, event }) => {
      if (event.type === 'STORE_LOADED' || event.type === 'STORE_GREW') wake(context, event.stream);
    },
    /** The store's epoch: first heard (the node may now accept), or changed (it lost its data: every stream resyncs). */
    storeEpoch: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'STORE_EPOCH') return;
      const changed = context.epoch !== '' && context.epoch !== event.epoch;
      enqueue.assign({ epoch: event.epoch });
      if (changed) for (const ref of context.sessions.values()) ref.send({ type: 'EPOCH_CHANGED' });
    }),
    storeLink: assign(({ event }) => (event.type === 'STORE_LINK' ? { storeUp: event.up } : {})),
    storeRefresh: ({ context }) => context.mirror?.refresh(),
    /** The store stayed away past the grace period: clients go to a node that has it (1013 is a reconnect code). */
    shedForStore: ({ context }) => {
      for (const ref of [...context.sessions.values()]) ref.send({ type: 'SHUTDOWN', code: CloseCode.tryAgainLater, reason: 'store unavailable' });
    },
    /** A node that does not know the store's epoch yet cannot answer a hello truthfully: try again later. */
    refuseConnect: ({ event }) => {
      if (event.type === 'CONNECT') event.port.close(CloseCode.tryAgainLater, 'store not ready');
    },
    refuseConnectStoreLost: ({ event }) => {
      if (event.type === 'CONNECT') event.port.close(CloseCode.tryAgainLater, 'store unavailable');
    },
    /** Append to the stream's log, then notify that stream's subscribers only. */
    route: assign(({ context, event }) => {
      if (event.type !== 'PUBLISH') return {};
      const { tenant, user, thread } = event.event;
      const key = context.routeKey(tenant, user, thread);
      context.logs.log(key, { tenant, user }).append(event.event);
      for (const connId of context.index.subscribers(key)) {
        const ref = context.sessions.get(connId);
        // a session whose flush is already scheduled will send this event with it: one wake-up per burst
        if (!ref || ref.getSnapshot().matches({ open: { outbox: 'scheduled' } })) continue;
        ref.send({ type: 'NOTIFY', thread });
      }
      return { published: context.published + 1 };
    }),
    changeRole: ({ context, event }) => {
      if (event.type !== 'SET_ROLE') return;
      context.directory.setRole(event.tenant, event.user, event.role);
      for (const ref of context.sessions.values()) {
        const identity = ref.getSnapshot().context.identity;
        if (identity && identity.tenant === event.tenant && identity.user === event.user) ref.send({ type: 'ROLE_CHANGED', role: event.role });
      }
    },
    revoke: ({ context, event }) => {
      if (event.type === 'REVOKE') context.directory.revoke(event.token);
    },
    /** Evict the logs nobody followed or appended to for the TTL. */
    sweepLogs: ({ context }) => context.logs.sweep((key) => context.index.subscribers(key).size > 0, 2),
    shutdownSessions: ({ context, event }) => {
      if (event.type !== 'SHUTDOWN') return;
      for (const ref of [...context.sessions.values()]) ref.send({ type: 'SHUTDOWN', code: event.code, reason: event.reason });
    },
  },
}).createMachine({
  id: 'hub',
  context: ({ input, self }) => ({
    epoch: input.epoch,
    restarted: input.restarted ?? false,
    directory: input.directory,
    policy: input.policy ?? DEFAULT_POLICY,
    routeKey: input.routeKey ?? streamKey,
    logs: new ReplayLogStore(input.logCapacity ?? 10_000, { ...DEFAULT_LIMITS, ...input.limits }),
    index: new SubscriberIndex(),
    sessions: new Map(),
    sessionConfig: input.sessionConfig ?? {},
    limits: { ...DEFAULT_LIMITS, ...input.limits },
    sessionIds: input.sessionIds ?? counterIds(),
    published: 0,
    // clustered, the epoch is the store's: unknown ('') until heard
    ...(input.store ? { epoch: '' } : {}),
    mirror: mirrorOf(input, self),
    storeUp: input.store === undefined,
    storeRefreshMs: input.storeRefreshMs ?? 1000,
    storeGraceMs: input.storeGraceMs ?? 5000,
  }),
  initial: 'running',
  states: {
    running: {
      // a clustered hub runs in `clustered` (an embedded one's states, and so its traces, are unchanged)
      always: { guard: 'clustered', target: 'clustered' },
      // a log idle for two sweeps in a row was idle for at least the TTL (and is evicted within 1.5 × TTL)
      invoke: { id: 'sweeper', src: 'ticker', input: ({ context }) => ({ everyMs: context.limits.logIdleTtlMs / 2, event: { type: 'SWEEP' } }) },
      on: {
        ...commonHandlers,
        PUBLISH: { actions: 'route' },
      },
    },
    clustered: {
      // the store link: up, down within the grace period, or lost (sessions shed, connections refused)
      initial: 'unlinked',
      states: {
        linked: { on: { STORE_LINK: { guard: 'linkDown', target: 'unlinked', actions: 'storeLink' } } },
        unlinked: {
          after: { storeGrace: { target: 'lost', actions: 'shedForStore' } },
          on: { STORE_LINK: { guard: 'linkUp', target: 'linked', actions: 'storeLink' } },
        },
        lost: {
          on: {
            STORE_LINK: { guard: 'linkUp', target: 'linked', actions: 'storeLink' },
            CONNECT: { actions: 'refuseConnectStoreLost' },
          },
        },
      },
      invoke: [
        { id: 'sweeper', src: 'ticker', input: ({ context }) => ({ everyMs: context.limits.logIdleTtlMs / 2, event: { type: 'SWEEP' } }) },
        // a read that failed while the link stayed up is asked again on this clock (see StoreMirror.refresh)
        { id: 'refresher', src: 'ticker', input: ({ context }) => ({ everyMs: context.storeRefreshMs, event: { type: 'STORE_REFRESH' } }) },
      ],
      on: {
        ...commonHandlers,
        CONNECT: [{ guard: 'epochUnknown', actions: 'refuseConnect' }, { actions: 'spawnSession' }],
        PUBLISH: { actions: 'storePublish' },
        STORE_LOADED: { actions: 'wakeStream' },
        STORE_GREW: { actions: 'wakeStream' },
        STORE_EPOCH: { actions: 'storeEpoch' },
        STORE_LINK: { actions: 'storeLink' },
        STORE_REFRESH: { actions: 'storeRefresh' },
      },
    },
    // the store link goes with the hub: no callback reaches a stopped actor
    stopped: { type: 'final', entry: ({ context }) => context.mirror?.close() },
  },
});

export type HubMachine = typeof hubMachine;
export type HubRef = ActorRefFrom<typeof hubMachine>;
