/**
 * The server's bounded replay log: one per stream (tenant, user, thread), the
 * single copy of every event a session may still have to send. Sessions keep
 * only cursors into it, so a session holds no event of its own and its memory
 * is freed as soon as it is acked. A log keeps at most `capacity` entries; a
 * resume from before its start must be answered `resync_required`.
 */
import type { AgentEvent } from './frames.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';

export interface LogEntry {
  seq: number;
  event: AgentEvent;
}

export class ReplayLog {
  private entries: LogEntry[] = [];
  private offset = 0; // index of the first live entry in `entries`
  private last: number; // seq of the newest entry (0 = none yet)
  /** Appended to since the store's last idle sweep. */
  touched = true;

  /** `head`: a log recreated after an eviction numbers on from the evicted one's head. */
  constructor(readonly capacity: number, head = 0) {
    this.last = head;
  }

  /** Sequence of the newest entry (0 when empty). */
  get head(): number {
    return this.last;
  }

  /** Sequence of the oldest entry still held (head + 1 when empty). */
  get start(): number {
    return this.last - this.size + 1;
  }

  get size(): number {
    return this.entries.length - this.offset;
  }

  append(event: AgentEvent): LogEntry {
    const entry = { seq: ++this.last, event };
    this.entries.push(entry);
    this.touched = true;
    if (this.size > this.capacity) this.evictOne();
    return entry;
  }

  /**
   * Holds `event` at the `seq` another node's store gave it: the next one, or,
   * past a gap (the store capped the entries between), a new start. What is
   * already held is kept (false). A clustered node mirrors the store this way.
   */
  put(seq: number, event: AgentEvent): boolean {
    if (seq <= this.last) return false;
    if (seq > this.last + 1) this.restartAt(seq);
    this.entries.push({ seq: ++this.last, event });
    if (this.size > this.capacity) this.evictOne();
    return true;
  }

  /** Empty, continuing at `seq` (a store that lost its data starts again at 1). */
  restartAt(seq: number): void {
    this.entries = [];
    this.offset = 0;
    this.last = seq - 1;
  }

  /** The entry with this sequence, if still held. */
  get(seq: number): LogEntry | undefined {
    if (seq < this.start || seq > this.last) return undefined;
    return this.entries[this.offset + (seq - this.start)];
  }

  /** Approximate bytes held (payloads), for memory gauges. */
  bytes(): number {
    let n = 0;
    for (let i = this.offset; i < this.entries.length; i++) n += this.entries[i]!.event.payload.length + 128;
    return n;
  }

  private evictOne(): void {
    this.offset++;
    // compact now and then so eviction stays O(1) amortised
    if (this.offset > 1024 && this.offset * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.offset);
      this.offset = 0;
    }
  }
}

/** Key of a stream on the server. Tenant first: ids collide across tenants. */
export const streamKey = (tenant: string, user: string, thread: string): string => `${tenant}\u0000${user}\u0000${thread}`;

/** Whose a log is: quotas are counted per user and per tenant. */
export interface LogOwner {
  tenant: string;
  user: string;
}

export type LogQuota = Pick<Limits, 'maxLogsPerUser' | 'maxLogsPerTenant' | 'tombstones'>;

/** A subscriber's view of opening a stream's log. */
export type Opened =
  | { ok: true; log: ReplayLog; /** Recreated with no memory of the evicted head: the client's position cannot be trusted. */ forgotten: boolean }
  | { ok: false; reason: string };

/** A log of the store, with whose it is: one object per stream (an idle session's stream costs one log, not a log and a record). */
class HeldLog extends ReplayLog {
  /** Consecutive idle sweeps (no subscriber, no append). */
  idle = 0;

  constructor(capacity: number, head: number, readonly owner: LogOwner | undefined) {
    super(capacity, head);
  }
}

/**
 * All the logs of one server instance (lost on restart: a new epoch starts).
 *
 * Producers create logs freely (they are trusted); a subscriber creates one
 * only within its user's and tenant's quota. A log nobody follows or appends
 * to is evicted by `sweep`; its head is remembered (a bounded FIFO of
 * tombstones) so a recreated log numbers on and old positions read as
 * `beyond_window`, never as fresh events.
 */
export class ReplayLogStore {
  private logs = new Map<string, HeldLog>();
  private perUser = new Map<string, number>();
  private perTenant = new Map<string, number>();
  private tombstones = new Map<string, number>();
  /** Logs evicted so far (a gauge). */
  evicted = 0;
  readonly quota: LogQuota;

  constructor(readonly capacity: number, quota: Partial<LogQuota> = {}) {
    this.quota = { maxLogsPerUser: quota.maxLogsPerUser ?? DEFAULT_LIMITS.maxLogsPerUser, maxLogsPerTenant: quota.maxLogsPerTenant ?? DEFAULT_LIMITS.maxLogsPerTenant, tombstones: quota.tombstones ?? DEFAULT_LIMITS.tombstones };
  }

  /** The log of a stream, by its routing key (see `streamKey`), created if absent (the producer's side). */
  log(key: string, owner?: LogOwner): ReplayLog {
    return this.logs.get(key) ?? this.create(key, owner, 0);
  }

  /**
   * A subscriber opens a stream at `from`: the log if it exists, else a new
   * one within the owner's quotas. A log recreated with no tombstone starts
   * at the client's position and says it `forgotten` what came before.
   */
  open(key: string, owner: LogOwner, from: number): Opened {
    const held = this.logs.get(key);
    if (held) {
      held.touched = true;
      return { ok: true, log: held, forgotten: false };
    }
    if ((this.perUser.get(userKey(owner)) ?? 0) >= this.quota.maxLogsPerUser) return { ok: false, reason: `at most ${this.quota.maxLogsPerUser} streams per user` };
    if ((this.perTenant.get(owner.tenant) ?? 0) >= this.quota.maxLogsPerTenant) return { ok: false, reason: `at most ${this.quota.maxLogsPerTenant} streams per tenant` };
    const tomb = this.tombstones.get(key);
    const forgotten = tomb === undefined && from > 1;
    return { ok: true, log: this.create(key, owner, tomb ?? (forgotten ? from - 1 : 0)), forgotten };
  }

  /**
   * One idle sweep: a log with no subscriber and no append since the last
   * sweep counts one idle sweep; after `evictAfter` of them it is evicted.
   */
  sweep(subscribed: (key: string) => boolean, evictAfter: number): void {
    for (const [key, held] of this.logs) {
      if (held.touched || subscribed(key)) {
        held.touched = false;
        held.idle = 0;
      } else if (++held.idle >= evictAfter) this.evict(key, held);
    }
  }

  private create(key: string, owner: LogOwner | undefined, head: number): HeldLog {
    const held = new HeldLog(this.capacity, head, owner);
    this.logs.set(key, held);
    this.tombstones.delete(key);
    if (owner) {
      bump(this.perUser, userKey(owner), 1);
      bump(this.perTenant, owner.tenant, 1);
    }
    return held;
  }

  private evict(key: string, held: HeldLog): void {
    this.logs.delete(key);
    this.evicted++;
    if (held.owner) {
      bump(this.perUser, userKey(held.owner), -1);
      bump(this.perTenant, held.owner.tenant, -1);
    }
    if (held.head === 0) return;
    this.tombstones.set(key, held.head);
    // the oldest tombstone goes first (a Map iterates in insertion order)
    if (this.tombstones.size > this.quota.tombstones) this.tombstones.delete(this.tombstones.keys().next().value!);
  }

  /** Logs held for one tenant (a quota gauge). */
  tenantCount(tenant: string): number {
    return this.perTenant.get(tenant) ?? 0;
  }

  /** The largest number of logs any one user / tenant holds (quota gauges). */
  maxPerUser(): number {
    return Math.max(0, ...this.perUser.values());
  }

  maxPerTenant(): number {
    return Math.max(0, ...this.perTenant.values());
  }

  /** Logs whose owner matches (a gauge: what some clients made the server hold). */
  countOwned(match: (owner: LogOwner) => boolean): number {
    let n = 0;
    for (const { owner } of this.logs.values()) if (owner && match(owner)) n++;
    return n;
  }

  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  /** Largest log size, for the bounded-buffer invariant. */
  highWater(): number {
    let max = 0;
    for (const log of this.logs.values()) max = Math.max(max, log.size);
    return max;
  }

  /** Approximate bytes held by every log (payloads and per-entry overhead). */
  bytes(): number {
    let n = 0;
    for (const log of this.logs.values()) n += log.bytes();
    return n;
  }

  get count(): number {
    return this.logs.size;
  }
}

const userKey = (owner: LogOwner): string => `${owner.tenant}\u0000${owner.user}`;

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
