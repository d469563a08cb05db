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
 */
import { assign, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import type { AgentEvent, Role } from './frames.ts';
import type { Directory } from './identity.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { DEFAULT_POLICY, type AccessPolicy } from './policy.ts';
import { ReplayLogStore, streamKey } from './replay-log.ts';
import { serverSessionMachine, type SessionConfig, type SessionInput, type SessionPort, type SessionServices } from './server-session.ts';
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
  | { type: 'PUBLISH'; event: AgentEvent }
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
  return {
    epoch: context.epoch,
    restarted: context.restarted,
    policy: context.policy,
    authenticate: (token) => context.directory.authenticate(token),
    log: (tenant, user, thread) => context.logs.log(context.routeKey(tenant, user, thread), { tenant, user }),
    open: (tenant, user, thread, from) => context.logs.open(context.routeKey(tenant, user, thread), { tenant, user }, from),
    index: (tenant, user, thread, connId, on) => {
      const key = context.routeKey(tenant, user, thread);
      if (on) context.index.add(key, connId);
      else context.index.remove(key, connId);
    },
  };
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

export const hubMachine = setup({
  types: {
    context: {} as HubContext,
    events: {} as HubEvent,
    input: {} as HubInput,
  },
  actors: { session: serverSessionMachine, ticker: tickerMachine },
  actions: {
    // typed by its own signature: setup's action type cannot name a function built outside it
    spawnSession: spawnSessionNamed(freshId) as never,
    /** A finished session leaves the map and the hub's children: nothing of it is kept. */
    forgetSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SESSION_DONE') return;
      context.sessions.delete(event.connId);
      enqueue.stopChild(event.connId);
    }),
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
  context: ({ input }) => ({
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
  }),
  initial: 'running',
  states: {
    running: {
      // a log idle for two sweeps in a row was idle for at least the TTL (and is evicted within 1.5 × TTL)
      invoke: { id: 'sweeper', src: 'ticker', input: ({ context }) => ({ everyMs: context.limits.logIdleTtlMs / 2, event: { type: 'SWEEP' } }) },
      on: {
        SWEEP: { actions: 'sweepLogs' },
        CONNECT: { actions: 'spawnSession' },
        PUBLISH: { actions: 'route' },
        SET_ROLE: { actions: 'changeRole' },
        REVOKE: { actions: 'revoke' },
        SESSION_DONE: { actions: 'forgetSession' },
        SHUTDOWN: { target: 'stopped', actions: 'shutdownSessions' },
      },
    },
    stopped: { type: 'final' },
  },
});

export type HubMachine = typeof hubMachine;
export type HubRef = ActorRefFrom<typeof hubMachine>;
