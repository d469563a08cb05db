/**
 * What a session reads of a stream's log: the window [start, head] and its
 * entries. The embedded hub's logs and a clustered node's mirrored copies
 * are both `ReplayLog`s (appended to, or `put` at the store's seqs), so
 * sessions send from either unchanged.
 */
import type { LogEntry } from './replay-log.ts';

export interface LogView {
  /** Sequence of the oldest entry held (head + 1 when empty). */
  readonly start: number;
  /** Sequence of the newest entry held. */
  readonly head: number;
  readonly size: number;
  /** The entry with this sequence, if still held. */
  get(seq: number): LogEntry | undefined;
  /** Approximate bytes held, for memory gauges. */
  bytes(): number;
}
