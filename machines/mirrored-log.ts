/**
 * A node's local copy of one stream's window in the store: the same surface
 * as `ReplayLog` (start, head, get, size, bytes), so sessions can send from it
 * unchanged, but filled from the store at the seqs the store gave, which may
 * begin anywhere (the store capped what came before).
 */
import type { AgentEvent } from './frames.ts';
import type { LogView } from './log-view.ts';
import type { LogEntry } from './replay-log.ts';

export class MirroredLog implements LogView {
  private entries: LogEntry[] = [];
  private offset = 0;
  private first = 1;

  constructor(readonly capacity: number) {}

  /** Sequence of the newest entry held (start - 1 when empty). */
  get head(): number {
    return this.first + this.size - 1;
  }

  /** Sequence of the oldest entry held (head + 1 when empty). */
  get start(): number {
    return this.first;
  }

  get size(): number {
    return this.entries.length - this.offset;
  }

  get(seq: number): LogEntry | undefined {
    if (seq < this.first || seq > this.head) return undefined;
    return this.entries[this.offset + (seq - this.first)];
  }

  /**
   * Hold `event` at `seq`: the next one, or, past a gap (the store capped the
   * entries between), a new start; what is already held is kept (false).
   */
  put(seq: number, event: AgentEvent): boolean {
    if (seq <= this.head) return false;
    if (seq > this.head + 1) this.restartAt(seq);
    this.entries.push({ seq, event });
    if (this.size > this.capacity) this.evictOne();
    return true;
  }

  /** Empty, continuing at `seq` (a store that lost its data starts again at 1). */
  restartAt(seq: number): void {
    this.entries = [];
    this.offset = 0;
    this.first = seq;
  }

  bytes(): number {
    let n = 0;
    for (let i = this.offset; i < this.entries.length; i++) n += this.entries[i]!.event.payload.length + 128;
    return n;
  }

  private evictOne(): void {
    this.offset++;
    this.first++;
    // compact now and then so eviction stays O(1) amortised
    if (this.offset > 1024 && this.offset * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.offset);
      this.offset = 0;
    }
  }
}
