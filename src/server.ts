/**
 * `wsim/server`: the protocol's server for an app of your own. It is the same
 * hub and session machines the simulator proves, behind the `ws` transport,
 * plus the producer side: `publish` checks each event against the run
 * contract and is idempotent on (tenant, user, thread, run, idx).
 *
 * With a `store` (e.g. `RedisStore`) the server is one node of a cluster:
 * the logs, sequences and epoch are the store's, any node serves any client,
 * and `publishStored` answers once the store stored the events (idempotent
 * across nodes: the store's append is, on (tenant, user, thread, run, idx)).
 */
import type http from 'node:http';
import { createActor } from 'xstate';
import { HookedDirectory, type IdentityResolver } from '../machines/hooked-directory.ts';
import type { HubRef } from '../machines/hub.ts';
import { Directory, type Identity } from '../machines/identity.ts';
import type { Limits } from '../machines/limits.ts';
import { PublishLedger } from '../machines/publish-ledger.ts';
import type { AgentEvent, Role } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import type { Store, StoreReply } from '../machines/store.ts';
import { checkPublishRequest, DEFAULT_PUBLISH_LIMITS, type PublishError, type PublishLimits, type PublishRequest } from '../machines/publish-request.ts';
import type { SessionConfig } from '../machines/server-session.ts';
import type { ServerHandler } from '../transport/link.ts';
import { realClock } from '../transport/real-clock.ts';
import { createServerHandler, servingHub } from '../transport/server-endpoint.ts';
import { cryptoSessionIds } from '../transport/session-ids.ts';
import { startWsServer, type WsServer } from '../transport/ws-server.ts';
import { countRejected, emptyTotals, followSession, type Totals } from './server-stats.ts';

export type { Identity, PublishError, PublishRequest };

export interface WsimServerLimits {
  /** Largest WebSocket message a client may send (bytes; default 2 MB, then 1009). */
  maxPayload?: number;
  /** Per-connection message rate (default 2,000 burst, 1,000/s; false = none). */
  rateLimit?: { burst: number; perSecond: number } | false;
  /** Events kept per stream for resumes (default 10,000). */
  logCapacity?: number;
  /** Runs remembered for idempotent publishing (default 100,000). */
  maxRuns?: number;
  publish?: Partial<PublishLimits>;
  session?: Partial<SessionConfig>;
  /** Hostile-client quotas: threads per session, logs per user and tenant, idle-log TTL, replay budget (README, Security). */
  quotas?: Partial<Limits>;
}

export interface WsimServerOptions {
  /** Attach to this http server (on `path`); otherwise wsim listens on `host`:`port`. */
  server?: http.Server;
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** The WebSocket path (default '/ws'). */
  path?: string;
  /** token → identity. */
  tokens?: Readonly<Record<string, Identity>>;
  /** Your own auth: asked for any token not in `tokens`; null = refused. */
  authenticate?: IdentityResolver;
  limits?: WsimServerLimits;
  /** Names this server's replay logs; a new epoch after a restart makes clients resync explicitly. Default: random. */
  epoch?: string;
  /** Share the streams through this store (a cluster node); the epoch is then the store's. */
  store?: Store;
  /** This node's name on the store (diagnostics). */
  node?: string;
}

export interface Accepted {
  thread: string;
  seq: number;
  /** A retry of an event already published: nothing was appended. */
  duplicate: boolean;
}

export type PublishResult = { ok: true; accepted: Accepted[] } | { ok: false; error: PublishError; index: number };

/** A stored publish may also find the store unavailable: nothing is acknowledged that was not stored (retry: it is idempotent). */
export type StoredPublishResult = PublishResult | { ok: false; unavailable: string };

export interface WsimServerStats extends Totals {
  connections: number;
  sessions: number;
  /** Connections closed by the server with 1013 (a slow consumer shed). */
  shed: number;
  upgradesRefused: number;
  /** Clustered only: the store link and the epoch as this node knows them. */
  store?: { up: boolean; epoch: string };
}

export interface WsimServer {
  /** ws://host:port/path */
  readonly url: string;
  readonly port: number;
  /** One event or an array: all accepted, or none (the first error and its index). */
  publish(events: unknown): PublishResult;
  /**
   * The same, answered once stored: in memory at once, on a store when it
   * acknowledged every event. The only way to publish on a clustered node.
   */
  publishStored(events: unknown): Promise<StoredPublishResult>;
  /** Change a user's role, effective from the next event sent to them. */
  setRole(tenant: string, user: string, role: Role): void;
  /** Cut the sockets of a user (or of everyone): their clients reconnect and resume. Returns how many. */
  disconnect(filter?: { tenant?: string; user?: string }): number;
  stats(): WsimServerStats;
  /** 1001 to every client, then stop. */
  close(): Promise<void>;
}

const randomEpoch = (): string => `e${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

function directoryOf(options: WsimServerOptions): Directory {
  const directory = options.authenticate ? new HookedDirectory(options.authenticate) : new Directory();
  for (const [token, identity] of Object.entries(options.tokens ?? {})) directory.add(token, identity);
  return directory;
}

/** The hub's endpoint, with every new session followed for the totals (the endpoint says when the hub made one). */
function trackedHandler(hub: HubRef, totals: Totals): ServerHandler {
  return createServerHandler({
    hub: () => hub,
    observer: { rejected: (_link, code) => countRejected(totals, code), opened: (_link, session) => followSession(session, totals) },
  });
}

function checkAll(events: unknown, limits: PublishLimits): { ok: true; requests: PublishRequest[] } | { ok: false; error: PublishError; index: number } {
  const list = Array.isArray(events) ? events : [events];
  if (list.length === 0) return { ok: false, index: 0, error: { code: 'bad_request', message: 'no event to publish' } };
  const requests: PublishRequest[] = [];
  for (const [index, item] of list.entries()) {
    const checked = checkPublishRequest(item, limits, Array.isArray(events) ? `[${index}].` : '');
    if (!checked.ok) return { ok: false, error: checked.error, index };
    requests.push(checked.value);
  }
  return { ok: true, requests };
}

/** A clustered node answers clients only once it knows the store's epoch (the store may be slow to come up). */
function epochKnown(hub: HubRef): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => hub.getSnapshot().context.epoch !== '';
    if (check()) return resolve();
    const sub = hub.subscribe(() => {
      if (!check()) return;
      sub.unsubscribe();
      resolve();
    });
  });
}

/** Store every event through the hub; all stored, or the first failure (the producer retries the same batch). */
function storeAll(hub: HubRef, requests: readonly PublishRequest[]): Promise<StoredPublishResult> {
  return Promise.all(
    requests.map(
      (request) =>
        new Promise<StoreReply>((resolve) => hub.send({ type: 'PUBLISH', event: { ...request, hash: payloadHash(request.payload) }, done: resolve })),
    ),
  ).then((replies) => {
    const failed = replies.find((r) => r.kind === 'failed');
    if (failed?.kind === 'failed') return { ok: false, unavailable: `store ${failed.reason}: ${failed.message}` };
    return { ok: true, accepted: replies.map((r) => (r.kind === 'appended' ? { thread: r.stream.thread, seq: r.seq, duplicate: r.duplicate } : { thread: '', seq: 0, duplicate: false })) };
  });
}

export async function createWsimServer(options: WsimServerOptions = {}): Promise<WsimServer> {
  const limits = options.limits ?? {};
  const publishLimits = { ...DEFAULT_PUBLISH_LIMITS, ...limits.publish };
  const hub = createActor(servingHub(), {
    // zero delays (a session's `after: 0` flush) on setImmediate, not Node's ≥ 1 ms setTimeout
    clock: realClock,
    // connection ids from crypto: no client can guess another's (see README, Security)
    input: { epoch: options.epoch ?? randomEpoch(), directory: directoryOf(options), sessionIds: cryptoSessionIds, ...(limits.logCapacity ? { logCapacity: limits.logCapacity } : {}), ...(limits.session ? { sessionConfig: limits.session } : {}), ...(limits.quotas ? { limits: limits.quotas } : {}), ...(options.store ? { store: options.store, node: options.node ?? 'node' } : {}) },
  }).start();
  if (options.store) await epochKnown(hub);
  const ledger = new PublishLedger(limits.maxRuns);
  const totals = emptyTotals();
  const ws: WsServer = await startWsServer({
    handler: trackedHandler(hub, totals),
    authenticate: (token) => hub.getSnapshot().context.directory.authenticate(token),
    path: options.path ?? '/ws',
    ...(options.server ? { server: options.server } : { host: options.host ?? '127.0.0.1', port: options.port ?? 0 }),
    ...(limits.maxPayload !== undefined ? { maxPayload: limits.maxPayload } : {}),
    ...(limits.rateLimit !== undefined ? { rateLimit: limits.rateLimit } : {}),
  });

  /** One PUBLISH for the whole array (each subscriber told once per stream), and the sequence each event got. */
  const append = (events: readonly AgentEvent[]): number[] => {
    hub.send({ type: 'PUBLISH', events });
    const { logs, routeKey } = hub.getSnapshot().context;
    totals.published += events.length;
    // each log's head is its stream's last event of the array: count back from it
    const later = new Map<string, number>();
    const seqs: number[] = new Array(events.length);
    for (let i = events.length - 1; i >= 0; i--) {
      const { tenant, user, thread } = events[i]!;
      const key = routeKey(tenant, user, thread);
      const after = later.get(key) ?? 0;
      seqs[i] = logs.log(key, { tenant, user }).head - after;
      later.set(key, after + 1);
    }
    return seqs;
  };

  /** The identity of each link's session, by the transport's link name. */
  const identities = (): Map<string, Identity | null> => {
    const byLink = new Map<string, Identity | null>();
    for (const ref of hub.getSnapshot().context.sessions.values()) {
      const { link, identity } = ref.getSnapshot().context;
      byLink.set(link, identity);
    }
    return byLink;
  };

  const publishNow = (events: unknown): PublishResult => {
    if (options.store) throw new Error('a clustered server publishes through publishStored (the store answers later)');
    const checked = checkAll(events, publishLimits);
    if (!checked.ok) return checked;
    const admitted = ledger.admit(checked.requests, append);
    if (admitted.ok) totals.repeats += admitted.accepted.filter((a) => a.duplicate).length;
    return admitted;
  };

  return {
    url: ws.url,
    port: ws.port,
    publish: publishNow,
    async publishStored(events) {
      if (!options.store) return publishNow(events);
      const checked = checkAll(events, publishLimits);
      if (!checked.ok) return checked;
      const stored = await storeAll(hub, checked.requests);
      if (stored.ok) {
        const repeats = stored.accepted.filter((a) => a.duplicate).length;
        totals.published += stored.accepted.length - repeats;
        totals.repeats += repeats;
      }
      return stored;
    },
    setRole(tenant, user, role) {
      hub.send({ type: 'SET_ROLE', tenant, user, role });
    },
    disconnect(filter = {}) {
      let cut = 0;
      const byLink = identities();
      for (const link of ws.links()) {
        const identity = byLink.get(link.id) ?? null;
        if (filter.tenant !== undefined && identity?.tenant !== filter.tenant) continue;
        if (filter.user !== undefined && identity?.user !== filter.user) continue;
        link.socket.terminate();
        cut++;
      }
      return cut;
    },
    stats() {
      const wsStats = ws.stats();
      return {
        ...totals,
        rejected: { ...totals.rejected, ...(wsStats.rejected.unauthorized ? { unauthorized: wsStats.rejected.unauthorized } : {}) },
        connections: wsStats.open,
        sessions: hub.getSnapshot().context.sessions.size,
        shed: wsStats.closedByServer[1013] ?? 0,
        upgradesRefused: wsStats.rejected.unauthorized + wsStats.rejected.notReady + wsStats.rejected.badPath,
        ...(options.store ? { store: { up: hub.getSnapshot().context.storeUp, epoch: hub.getSnapshot().context.epoch } } : {}),
      };
    },
    async close() {
      await ws.close();
      hub.stop();
      hub.getSnapshot().context.mirror?.close();
    },
  };
}
