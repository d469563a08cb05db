/**
 * `createWsimClient`, written once for browsers and Node: the client machine
 * (every decision: reconnects, resume, dedup, order, acks) behind a socket
 * factory the platform entry supplies (client.ts for Node, browser.ts for the
 * browser bundle). This file only adapts callbacks and keeps the optional
 * saved cursor; it imports nothing of Node.
 */
import type { SnapshotFrom } from 'xstate';
import { savedCursors, type ClientConfig, type ClientConnectionMachine, type SavedCursor } from '../machines/client-connection.ts';
import type { AgentEvent } from '../machines/frames.ts';
import { createClient, type ClientActor } from '../transport/client-endpoint.ts';
import { SocketTransport } from '../transport/socket-transport.ts';
import type { SocketFactory } from '../transport/ws-client.ts';

export type { AgentEvent, ClientConfig };

export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'open' | 'reconnecting' | 'closing' | 'closed' | 'failed';

/** The part of the Web Storage API the client uses (`sessionStorage` in a browser). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface PersistOptions {
  /** Storage key suffix, to keep several clients of one page apart (default 'default'). */
  key?: string;
  /** Default: `sessionStorage`, so a reload of the tab resumes and another tab starts afresh. */
  storage?: StorageLike;
}

export interface EventInfo {
  thread: string;
  seq: number;
}

export interface WsimClientCallbacks {
  /** One event, once, in order per thread. Throwing means "not handled": it is retried, then dead-lettered. */
  onEvent(event: AgentEvent, info: EventInfo): void;
  /** The server could not replay `from`..`to - 1` (its log moved on, or it restarted): an explicit gap. */
  onResync?(info: { thread: string; from: number; to: number; reason: string }): void;
  /** onEvent kept throwing on an event: it is set aside and the stream goes on. */
  onDeadLetter?(info: { thread: string; seq: number; event: AgentEvent; error: string; attempts: number }): void;
  onState?(state: ConnectionState, info: { failure: string | null }): void;
  /** The server sent a frame the decoder refused (counted, never fatal). */
  onRejected?(info: { code: string; detail: string }): void;
}

export interface WsimClientCoreOptions extends WsimClientCallbacks {
  /** ws(s)://host:port/ws */
  url: string;
  token: string;
  threads: readonly string[];
  /** Keep each thread's position so a page reload resumes with no gap and no duplicate (opt-in). */
  persist?: boolean | PersistOptions;
  /** Timeouts, heartbeat, backoff (the machine's configuration). */
  config?: Partial<ClientConfig>;
  /** This client's name in the server's logs (default: random). */
  id?: string;
}

export interface WsimClientStats {
  duplicates: number;
  reconnects: number;
  resyncs: number;
  deadLetters: number;
  rejected: number;
}

export interface WsimClient {
  readonly state: ConnectionState;
  /** Why the client gave up (state 'failed'), else null. */
  readonly failure: string | null;
  /** Connect (and keep reconnecting until stop). */
  start(): WsimClient;
  stop(): void;
  subscribe(thread: string): void;
  unsubscribe(thread: string): void;
  stats(): WsimClientStats;
  /** Drop the current connection as a network failure would (to watch a reconnect and resume). */
  drop(): void;
}

export interface Platform {
  createSocket: SocketFactory;
  tokenIn: 'header' | 'query';
  /** Where `persist: true` keeps cursors. */
  defaultStorage?: () => StorageLike | undefined;
}

type Snapshot = SnapshotFrom<ClientConnectionMachine>;

const stateOf = (snapshot: Snapshot): ConnectionState =>
  (typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value)[0]) as ConnectionState;

const randomId = (): string => `c-${Math.random().toString(36).slice(2, 10)}`;

/** The saved cursors, behind the storage's failures (quota, privacy mode): persistence is best effort, never fatal. */
class CursorStore {
  private last = '';

  constructor(private readonly storage: StorageLike, private readonly key: string) {}

  load(): Record<string, SavedCursor> | undefined {
    try {
      const text = this.storage.getItem(this.key);
      const saved: unknown = text ? JSON.parse(text) : undefined;
      return isCursors(saved) ? saved : undefined;
    } catch {
      return undefined;
    }
  }

  save(cursors: Record<string, SavedCursor>): void {
    const text = JSON.stringify(cursors);
    if (text === this.last) return;
    this.last = text;
    try {
      this.storage.setItem(this.key, text);
    } catch {
      // a full or disabled storage: the next reload subscribes afresh
    }
  }
}

function isCursors(value: unknown): value is Record<string, SavedCursor> {
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).every((c: unknown) => {
    const cursor = c as Partial<SavedCursor> | null;
    return typeof cursor === 'object' && cursor !== null && Number.isSafeInteger(cursor.next) && (cursor.next ?? 0) >= 1 && (cursor.epoch === null || typeof cursor.epoch === 'string');
  });
}

function cursorStore(options: WsimClientCoreOptions, platform: Platform): CursorStore | null {
  if (!options.persist) return null;
  const persist = options.persist === true ? {} : options.persist;
  const storage = persist.storage ?? platform.defaultStorage?.();
  return storage ? new CursorStore(storage, `wsim:cursors:${persist.key ?? 'default'}`) : null;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function createWsimClientOn(platform: Platform, options: WsimClientCoreOptions): WsimClient {
  const transport = new SocketTransport({ url: options.url, createSocket: platform.createSocket, tokenIn: platform.tokenIn });
  const store = cursorStore(options, platform);
  const cursors = store?.load();
  const id = options.id ?? randomId();
  const actor: ClientActor = createClient({
    id,
    endpoint: id,
    token: options.token,
    threads: options.threads,
    transport,
    random: { next: Math.random },
    ...(options.config ? { config: options.config } : {}),
    ...(cursors ? { cursors } : {}),
    app: {
      deliver: (thread, seq, event) => {
        try {
          options.onEvent(event, { thread, seq });
          return { ok: true };
        } catch (error) {
          return { ok: false, message: messageOf(error) };
        }
      },
      appFailed() {},
      deadLetter: (thread, seq, event, error, attempts) => options.onDeadLetter?.({ thread, seq, event, error, attempts }),
      resync: (thread, from, to, reason) => options.onResync?.({ thread, from, to, reason }),
      rejected: (code, detail) => options.onRejected?.({ code, detail }),
    },
  });
  let state: ConnectionState = 'idle';
  let started = false;
  actor.subscribe((snapshot) => {
    // the cursor is saved in the same task as the events it covers: a reload cannot fall between them
    store?.save(savedCursors(snapshot.context));
    const next = stateOf(snapshot);
    if (next === state) return;
    state = next;
    options.onState?.(state, { failure: snapshot.context.failure });
  });
  const client: WsimClient = {
    get state() {
      return state;
    },
    get failure() {
      return actor.getSnapshot().context.failure;
    },
    start() {
      if (!started) {
        started = true;
        actor.start();
        actor.send({ type: 'START' });
      }
      return client;
    },
    stop: () => actor.send({ type: 'STOP' }),
    subscribe: (thread) => actor.send({ type: 'SUBSCRIBE', thread }),
    unsubscribe: (thread) => actor.send({ type: 'UNSUBSCRIBE', thread }),
    stats: () => {
      const { duplicates, reconnects, resyncs, deadLetters, rejected } = actor.getSnapshot().context.stats;
      return { duplicates, reconnects, resyncs, deadLetters, rejected };
    },
    drop: () => transport.link?.socket.close(4000, 'dropped by the app'),
  };
  return client;
}
