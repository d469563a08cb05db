/**
 * The server's bounded replay log: one per stream (tenant, user, thread), the
 * single copy of every event a session may still have to send. Sessions keep
 * only cursors into it, so a session holds no event of its own and its memory
 * is freed as soon as it is acked. A log keeps at most `capacity` entries; a
 * resume from before its start must be answered `resync_required`.
 */
import type { AgentEvent } from './frames.ts';

export interface LogEntry {
  seq: number;
  event: AgentEvent;
}

export class ReplayLog {
  private entries: LogEntry[] = [];
  private offset = 0; // index of the first live entry in `entries`
  private last = 0; // seq of the newest entry (0 = none yet)

  constructor(readonly capacity: number) {}

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
    if (this.size > this.capacity) this.evictOne();
    return entry;
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

/** All the logs of one server instance (lost on restart: a new epoch starts). */
export class ReplayLogStore {
  private logs = new Map<string, ReplayLog>();

  constructor(readonly capacity: number) {}

  /** The log of a stream, by its routing key (see `streamKey`). */
  log(key: string): ReplayLog {
    let log = this.logs.get(key);
    if (!log) {
      log = new ReplayLog(this.capacity);
      this.logs.set(key, log);
    }
    return log;
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
