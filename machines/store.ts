/**
 * The store's contract: where the replay logs, their sequence numbers, the
 * epoch and the fan-out live when one server is not enough (DESIGN.md, "Many
 * nodes"). Three implementations keep it: `MemoryStore` (embedded, one
 * process, the default), `SimBroker` (the simulated twin of Redis, on the
 * world's scheduler, with faults) and `RedisStore` (Redis Streams). One
 * contract suite (`spec/store/store-contract.ts`) runs against all three, so
 * the broker the simulator proves behaves like the Redis that ships.
 *
 * Why commands and callbacks, not promises: a machine may not await (a
 * microtask runs outside the world's schedule, so the same seed would no
 * longer give the same trace). A node therefore *sends* a command on its link
 * and the answer comes back later as a call of its listener, which the world
 * schedules: the simulated broker after a simulated latency, the memory store
 * on the next turn its owner gives it, Redis when its socket answers. The
 * node turns each callback into an event for its actor, the same way socket
 * facts reach a session today.
 *
 * Vocabulary:
 * - A **stream** is (tenant, user, thread); tenant first, because user and
 *   thread ids collide across tenants.
 * - A **sequence** (seq) numbers a stream's entries 1, 2, 3, ... with no gap
 *   and no repeat. The store assigns it atomically: appends from any number
 *   of nodes at once never share or skip a number.
 * - The **epoch** names the store's memory. It changes exactly when the store
 *   lost its data (a Redis restarted without persistence, flushed, or an
 *   embedded store that restarted): a position (seq) is only meaningful with
 *   the epoch it was read in. After a change every stream starts again at 1,
 *   and a client that resumes with the old epoch must get `epoch_changed`.
 *   The store creates the epoch lazily (the first command that touches a
 *   store without one) from the candidate its owner supplies (`newEpoch`), and
 *   announces it to every node (`epoch` notice).
 * - A **capped log** holds at most `capacity` entries per stream: the oldest
 *   are dropped first. `start` is the oldest seq still held (head + 1 when
 *   empty); a position before `start` is beyond the window and is answered
 *   with an explicit `beyond_window` resync, never served with a gap.
 * - **Idempotent append**: an event is identified by (tenant, user, thread,
 *   run, idx). Appending one that the log still holds returns its seq with
 *   `duplicate: true` and appends nothing, whichever node sent it, so a
 *   producer's retry never duplicates. The memory of (run, idx) is exactly
 *   as long as the log's window: an entry that was capped away is forgotten,
 *   which bounds the store (a retry older than `capacity` entries is stored
 *   again). The first writer wins: a retry with other content keeps the first.
 * - A **notification** (`appended` notice) goes to every connected node after
 *   the append is stored, so a node that reads on it sees the entry. Notices
 *   are hints, at most once: a node whose link was down may have missed some,
 *   and must re-read the heads of the streams it serves when its link comes
 *   back up (`link` notice).
 *
 * Every command gets exactly one reply, on the link that sent it, in the order
 * the commands were sent. A reply is never delivered from inside `send` (no
 * re-entrance into the caller's transition). `failed` means "not known to be
 * stored": an append that failed may or may not have been stored (the link
 * broke on the way back), and the node retries it with the same (run, idx),
 * which idempotency makes safe. Nothing is acknowledged that was not stored.
 */
import type { AgentEvent } from './frames.ts';
import type { LogEntry } from './replay-log.ts';

export type { LogEntry } from './replay-log.ts';

/** One stream: tenant first, because user and thread ids collide across tenants. */
export interface StreamName {
  tenant: string;
  user: string;
  thread: string;
}

/** A node's own number for a command, echoed by its reply (unique per link). */
export type RequestId = number;

/** Store the event at the end of its stream (idempotent on run and idx). */
export interface AppendCommand {
  kind: 'append';
  req: RequestId;
  event: AgentEvent;
}

/** Read up to `max` entries of a stream from position `from` (max 0: only start and head). */
export interface ReadCommand {
  kind: 'read';
  req: RequestId;
  stream: StreamName;
  from: number;
  max: number;
}

/** Which epoch the store is in (creating it if the store has none). */
export interface EpochCommand {
  kind: 'epoch';
  req: RequestId;
}

export type StoreCommand = AppendCommand | ReadCommand | EpochCommand;

export interface AppendedReply {
  kind: 'appended';
  req: RequestId;
  epoch: string;
  stream: StreamName;
  seq: number;
  /** The log already held this (run, idx): nothing was appended, `seq` is the first one's. */
  duplicate: boolean;
}

/**
 * Entries from max(from, start) on, in seq order, at most `max` of them.
 * `from < start` means the position is beyond the window (see `beyondWindow`).
 */
export interface ReadReply {
  kind: 'read';
  req: RequestId;
  epoch: string;
  stream: StreamName;
  start: number;
  head: number;
  entries: LogEntry[];
}

export interface EpochReply {
  kind: 'epoch';
  req: RequestId;
  epoch: string;
}

/**
 * The command's outcome is unknown (`unavailable`: the link is down or broke
 * before the answer; `timeout`: no answer in time) or it was refused
 * (`error`: the store answered with an error, e.g. out of memory).
 */
export interface FailedReply {
  kind: 'failed';
  req: RequestId;
  reason: 'unavailable' | 'timeout' | 'error';
  message: string;
}

export type StoreReply = AppendedReply | ReadReply | EpochReply | FailedReply;

/** An entry was stored: `seq` is now readable from the store. */
export interface AppendedNotice {
  kind: 'appended';
  stream: StreamName;
  epoch: string;
  seq: number;
}

/** The store created a new epoch: it had lost its data, every earlier position is void. */
export interface EpochNotice {
  kind: 'epoch';
  epoch: string;
}

/** The node's link to the store went down (commands fail, notices are lost) or came (back) up. */
export interface LinkNotice {
  kind: 'link';
  up: boolean;
}

export type StoreNotice = AppendedNotice | EpochNotice | LinkNotice;

/** What a node hands the store: called by the store, never from inside `send`. */
export interface StoreListener {
  reply(reply: StoreReply): void;
  notice(notice: StoreNotice): void;
}

/** One node's connection to the store. It starts down; a `link` notice says when it is up. */
export interface StoreLink {
  send(command: StoreCommand): void;
  /** Leave: no reply or notice is delivered after this. */
  close(): void;
}

export interface Store {
  /** Entries kept per stream. */
  readonly capacity: number;
  /** Connect a node (its name is for diagnostics and faults only). */
  connect(node: string, listener: StoreListener): StoreLink;
}

/** The stream an event belongs to. */
export const streamOf = (event: AgentEvent): StreamName => ({ tenant: event.tenant, user: event.user, thread: event.thread });

/** The identity of an event within its stream, for idempotent append. */
export const appendKey = (event: AgentEvent): string => `${event.run}\u0000${event.idx}`;

/** The asked position was dropped by the cap: the stream can only go on with an explicit resync. */
export const beyondWindow = (reply: ReadReply, from: number): boolean => from < reply.start;

export const sameStream = (a: StreamName, b: StreamName): boolean => a.tenant === b.tenant && a.user === b.user && a.thread === b.thread;

/** Why a command cannot be run as sent (positions are whole numbers from 1; `max` from 0), or undefined. */
export function commandProblem(command: StoreCommand): string | undefined {
  if (command.kind !== 'read') return undefined;
  if (!Number.isSafeInteger(command.from) || command.from < 1) return `read: from must be an integer >= 1, got ${command.from}`;
  if (!Number.isSafeInteger(command.max) || command.max < 0) return `read: max must be an integer >= 0, got ${command.max}`;
  return undefined;
}
