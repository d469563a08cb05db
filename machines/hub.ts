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
 *
 * The hub talks to its sessions by events only (`sendTo`; a session's end is
 * XState's `xstate.done.actor.<id>`), and to the transport through named
 * actions the endpoint supplies with `provide()` (`sessionOpened`,
 * `refuseLink`), as it does the sessions' own I/O (`provide({ actors: {
 * session } })`). Its context changes through `assign` only; the replay logs,
 * the routing index and the store mirror are structures it owns (see
 * `SessionServices` for why they are not copied per event).
 */
import { assign, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import type { AgentEvent, Role } from './frames.ts';
import type { Directory } from './identity.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { DEFAULT_POLICY, type AccessPolicy } from './policy.ts';
import { CloseCode } from './frames.ts';
import { ReplayLogStore, streamKey } from './replay-log.ts';
import { serverSessionMachine, type SessionConfig, type SessionEvent, type SessionInput, type SessionServices } from './server-session.ts';
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
  /** The routing index: the hub's own structure, changed by its sessions' subscriptions (see SessionServices). */
  index: SubscriberIndex;
  /** Live sessions by connection id: a new map on every change, never changed in place. */
  sessions: ReadonlyMap<string, SessionRef>;
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
   * A transport accepted a link. `link` is the transport's name for it (the
   * endpoint's actions find the link by it); `token` the one it was admitted
   * with. The hub names the session with an id of its own and tells the
   * endpoint (`sessionOpened`), or refuses the link (`refuseLink`).
   */
  | {
      type: 'CONNECT';
      link: string;
      token?: string;
      /** The id the client asked for: never used (a client choosing ids took over sessions, issue 10). */
      hint?: string;
    }
  | PublishEvent
  | { type: 'STORE_LOADED'; stream: StreamName }
  | { type: 'STORE_GREW'; stream: StreamName }
  | { type: 'STORE_EPOCH'; epoch: string }
  | { type: 'STORE_LINK'; up: boolean }
  | { type: 'STORE_REFRESH' }
  | { type: 'SET_ROLE'; tenant: string; user: string; role: Role }
  | { type: 'REVOKE'; token: string }
  | { type: 'SHUTDOWN'; code: number; reason: string }
  | { type: 'SWEEP' };

/**
 * One publish: one event (`done` hears the store's answer when clustered: the
 * seq, or a failure the producer should retry), or several at once. Each is
 * appended to its stream's log in order, then each subscriber of a stream is
 * told once (its flush takes every event appended before it): a publish of a
 * hundred events is one NOTIFY and one batch, not a hundred.
 */
export type PublishEvent = { type: 'PUBLISH'; event: AgentEvent; done?: AppendDone } | { type: 'PUBLISH'; events: readonly AgentEvent[] };

export const publishedEvents = (publish: PublishEvent): readonly AgentEvent[] => ('events' in publish ? publish.events : [publish.event]);

/** XState's word that a child ended (a session closed): `xstate.done.actor.<connId>`. */
const DONE_PREFIX = 'xstate.done.actor.';

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

/**
 * What a session may use of the hub: its logs, within quotas, and the routing index.
 * The closures take the hub's structures, never its context: a session outlives many
 * hub contexts, and one it held would keep that context's session map alive with it.
 */
function servicesOf(context: HubContext): SessionServices {
  const { epoch, restarted, policy, directory, logs, routeKey, index, mirror } = context;
  if (mirror) return mirroredServices({ epoch, policy, directory, logs, index }, mirror);
  // every session of a hub gets the same services: made once, not four closures per session
  const last = lent.get(index);
  if (last && last.epoch === epoch && last.restarted === restarted && last.policy === policy && last.directory === directory && last.logs === logs && last.routeKey === routeKey) return last.services;
  const services = localServices(context);
  lent.set(index, { epoch, restarted, policy, directory, logs, routeKey, services });
  return services;
}

/** The services last made for a hub (by its routing index), with what they were made of. */
const lent = new WeakMap<SubscriberIndex, Pick<HubContext, 'epoch' | 'restarted' | 'policy' | 'directory' | 'logs' | 'routeKey'> & { services: SessionServices }>();

function localServices({ epoch, restarted, policy, directory, logs, routeKey, index }: HubContext): SessionServices {
  return {
    epoch,
    restarted,
    policy,
    authenticate: (token) => directory.authenticate(token),
    log: (tenant, user, thread) => logs.log(routeKey(tenant, user, thread), { tenant, user }),
    open: (tenant, user, thread, from) => logs.open(routeKey(tenant, user, thread), { tenant, user }, from),
    index: (tenant, user, thread, connId, on) => indexOf(index, routeKey(tenant, user, thread), connId, on),
  };
}

function indexOf(index: SubscriberIndex, key: string, connId: string, on: boolean): void {
  if (on) index.add(key, connId);
  else index.remove(key, connId);
}

/**
 * A clustered session's services: logs are the mirror's (keyed like the
 * store, by `streamKey`), the epoch is the store's as last heard, and each
 * stream this session opened is released when it leaves.
 */
function mirroredServices(hub: Pick<HubContext, 'epoch' | 'policy' | 'directory' | 'logs' | 'index'>, mirror: StoreMirror): SessionServices {
  const opened = new Set<string>();
  const { policy, directory, logs, index } = hub;
  return {
    get epoch() {
      return mirror.epoch ?? hub.epoch;
    },
    restarted: false,
    policy,
    authenticate: (token) => directory.authenticate(token),
    log: (tenant, user, thread) => logs.log(streamKey(tenant, user, thread), { tenant, user }),
    open: (tenant, user, thread) => {
      const key = streamKey(tenant, user, thread);
      if (opened.has(key)) return { ok: true, log: mirror.log(key)!, forgotten: false };
      opened.add(key);
      return { ok: true, log: mirror.open({ tenant, user, thread }), forgotten: false };
    },
    ready: (tenant, user, thread) => mirror.isLoaded(streamKey(tenant, user, thread)),
    index: (tenant, user, thread, connId, on) => {
      const key = streamKey(tenant, user, thread);
      indexOf(index, key, connId, on);
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

/** The sessions subscribed to a stream key (the index holds live sessions only: a closing one leaves it). */
function subscribersOf(context: HubContext, key: string): SessionRef[] {
  const refs: SessionRef[] = [];
  for (const connId of context.index.subscribers(key)) {
    const ref = context.sessions.get(connId);
    if (ref) refs.push(ref);
  }
  return refs;
}

export type ConnectEvent = Extract<HubEvent, { type: 'CONNECT' }>;

/** The I/O and owned-structure calls a hub action may enqueue (typed here: `setup` cannot infer actions that name each other). */
type HubIo =
  | { type: 'sessionOpened'; params: { link: string; connId: string } }
  | { type: 'refuseLink'; params: { link: string; code: number; reason: string } }
  | { type: 'storeAppend'; params: { event: AgentEvent; done: AppendDone | undefined } }
  | { type: 'append'; params: { key: string; event: AgentEvent } }
  | { type: 'setDirectoryRole'; params: { tenant: string; user: string; role: Role } };

type Collect = Parameters<typeof enqueueActions<HubContext, HubEvent, undefined, HubEvent, never, HubIo, never, never, never>>[0];
const withIo = (collect: Collect) => enqueueActions<HubContext, HubEvent, undefined, HubEvent, never, HubIo, never, never, never>(collect);

/** Send `event` to each of `refs` (by event: the hub never reads a session's state). */
type Enqueue = { sendTo: (ref: SessionRef, event: SessionEvent) => void };
const tell = (enqueue: Enqueue, refs: Iterable<SessionRef>, event: SessionEvent): void => {
  for (const ref of refs) enqueue.sendTo(ref, event);
};

/**
 * The hub's spawnSession action, naming each session with `name`: the hub's
 * own is `freshId` (a broken variant in the specs shows what a client-chosen
 * name did).
 */
export function spawnSessionNamed(name: (context: HubContext, event: ConnectEvent) => string) {
  return withIo(({ context, event, enqueue }) => {
    if (event.type !== 'CONNECT') return;
    const connId = name(context, event);
    const input: SessionInput = {
      connId, link: event.link, services: servicesOf(context), config: context.sessionConfig, limits: context.limits,
      ...(event.token !== undefined ? { upgradeToken: event.token } : {}),
    };
    // by name, so `hubMachine.provide({ actors: { session } })` swaps the session machine
    enqueue.assign(({ context, spawn }) => ({
      sessions: new Map(context.sessions).set(connId, (spawn as unknown as (src: 'session', options: { id: string; input: SessionInput }) => SessionRef)('session', { id: connId, input })),
    }));
    enqueue({ type: 'sessionOpened', params: { link: event.link, connId } });
  });
}

/** What the hub does in either mode. */
const commonHandlers = {
  SWEEP: { actions: 'sweepLogs' },
  CONNECT: { actions: 'spawnSession' },
  SET_ROLE: { actions: 'changeRole' },
  REVOKE: { actions: 'revoke' },
  'xstate.done.actor.*': { actions: 'forgetSession' },
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
    // ---- I/O: supplied by the endpoint with `provide()`; alone, the hub tells nobody
    /** The session `connId` (in the context this action is given: `context.sessions`) serves `link`. */
    sessionOpened: (_, _params: { link: string; connId: string }) => {},
    /** The link gets no session. */
    refuseLink: (_, _params: { link: string; code: number; reason: string }) => {},

    // typed by its own signature: setup's action type cannot name a function built outside it
    spawnSession: spawnSessionNamed(freshId) as never,
    /** A finished session leaves the map and the hub's children: nothing of it is kept. */
    forgetSession: withIo(({ context, event, enqueue }) => {
      if (!event.type.startsWith(DONE_PREFIX)) return;
      const connId = event.type.slice(DONE_PREFIX.length);
      if (!context.sessions.has(connId)) return;
      const sessions = new Map(context.sessions);
      sessions.delete(connId);
      enqueue.assign({ sessions });
      enqueue.stopChild(connId);
    }),
    /** Clustered: the store appends; the mirror's STORE_GREW wakes the sessions, `done` answers the producer. */
    storePublish: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'PUBLISH' || !context.mirror) return;
      // each event is the store's append and its own STORE_GREW: a batch is not gathered here
      const events = publishedEvents(event);
      enqueue.assign({ published: context.published + events.length });
      const done = 'done' in event ? event.done : undefined;
      for (const one of events) enqueue({ type: 'storeAppend', params: { event: one, done } });
    }),
    storeAppend: ({ context }, { event, done }: { event: AgentEvent; done: AppendDone | undefined }) => context.mirror?.publish(event, done ?? (() => {})),
    /** Wake the sessions subscribed to a stream (also those whose answer waited for its load). */
    wakeStream: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'STORE_LOADED' && event.type !== 'STORE_GREW') return;
      const { tenant, user, thread } = event.stream;
      tell(enqueue, subscribersOf(context, streamKey(tenant, user, thread)), { type: 'NOTIFY', thread });
    }),
    /** The store's epoch: first heard (the node may now accept), or changed (it lost its data: every stream resyncs). */
    storeEpoch: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'STORE_EPOCH') return;
      const changed = context.epoch !== '' && context.epoch !== event.epoch;
      enqueue.assign({ epoch: event.epoch });
      if (changed) tell(enqueue, context.sessions.values(), { type: 'EPOCH_CHANGED' });
    }),
    storeLink: assign(({ event }) => (event.type === 'STORE_LINK' ? { storeUp: event.up } : {})),
    storeRefresh: ({ context }) => context.mirror?.refresh(),
    /** The store stayed away past the grace period: clients go to a node that has it (1013 is a reconnect code). */
    shedForStore: withIo(({ context, enqueue }) => {
      tell(enqueue, context.sessions.values(), { type: 'SHUTDOWN', code: CloseCode.tryAgainLater, reason: 'store unavailable' });
    }),
    /** A connection the node cannot serve now (1013, a reconnect code), with why: `reason`. */
    refuseConnect: enqueueActions<HubContext, HubEvent, { reason: string }, HubEvent, never, HubIo, never, never, never>(({ event, enqueue }, { reason }) => {
      if (event.type === 'CONNECT') enqueue({ type: 'refuseLink', params: { link: event.link, code: CloseCode.tryAgainLater, reason } });
    }),
    /** Append to the stream's log, then notify that stream's subscribers only. */
    route: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'PUBLISH') return;
      const events = publishedEvents(event);
      const threads = new Map<string, string>();
      for (const one of events) {
        const key = context.routeKey(one.tenant, one.user, one.thread);
        enqueue({ type: 'append', params: { key, event: one } });
        threads.set(key, one.thread);
      }
      enqueue.assign({ published: context.published + events.length });
      // once per stream, after every append (the NOTIFYs are delivered after the actions ran):
      // a session's flush takes the whole publish; one whose flush is scheduled or blocked waits for it
      for (const [key, thread] of threads) tell(enqueue, subscribersOf(context, key), { type: 'NOTIFY', thread });
    }),
    /** The log is the hub's own structure (see SessionServices): appended to in place. */
    append: ({ context }, { key, event }: { key: string; event: AgentEvent }) => {
      context.logs.log(key, { tenant: event.tenant, user: event.user }).append(event);
    },
    /** The directory is the hub's identity service; every session hears the change, the user's own apply it. */
    changeRole: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'SET_ROLE') return;
      enqueue({ type: 'setDirectoryRole', params: { tenant: event.tenant, user: event.user, role: event.role } });
      tell(enqueue, context.sessions.values(), { type: 'ROLE_CHANGED', tenant: event.tenant, user: event.user, role: event.role });
    }),
    setDirectoryRole: ({ context }, { tenant, user, role }: { tenant: string; user: string; role: Role }) => context.directory.setRole(tenant, user, role),
    revoke: ({ context, event }) => {
      if (event.type === 'REVOKE') context.directory.revoke(event.token);
    },
    /** Evict the logs nobody followed or appended to for the TTL. */
    sweepLogs: ({ context }) => context.logs.sweep((key) => context.index.subscribers(key).size > 0, 2),
    shutdownSessions: withIo(({ context, event, enqueue }) => {
      if (event.type === 'SHUTDOWN') tell(enqueue, context.sessions.values(), { type: 'SHUTDOWN', code: event.code, reason: event.reason });
    }),
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
            CONNECT: { actions: { type: 'refuseConnect', params: { reason: 'store unavailable' } } },
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
        // a node that does not know the store's epoch yet cannot answer a hello truthfully
        CONNECT: [{ guard: 'epochUnknown', actions: { type: 'refuseConnect', params: { reason: 'store not ready' } } }, { actions: 'spawnSession' }],
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
