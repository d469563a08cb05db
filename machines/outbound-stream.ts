/**
 * One subscribed stream as a session sends it: a window over the shared replay
 * log. `acked` < seq ≤ `sent` is in flight; `sent` < seq ≤ log.head is the
 * backlog. The session holds no event of its own: what is acked is simply no
 * longer in its window, and the log's cap bounds memory.
 */
import type { LogView } from './log-view.ts';

export class OutboundStream {
  /** Highest sequence the client acknowledged. */
  acked: number;
  /** Highest sequence handed to the link. */
  sent: number;
  /** The log's head when the stream was opened: what is at or below it is history, sent within the replay budget. */
  replayUntil = 0;

  constructor(
    readonly thread: string,
    readonly log: LogView,
    from: number,
    /** Why the stream starts where it does, when the client's position could not be served. */
    public resync?: { from: number; reason: 'epoch_changed' | 'beyond_window' },
  ) {
    this.acked = from - 1;
    this.sent = from - 1;
  }

  /** The resync still to repeat on every frame: until the client acked past the stream's start. */
  get unannounced(): { from: number; reason: 'epoch_changed' | 'beyond_window' } | undefined {
    return this.resync && this.acked < this.resync.from ? this.resync : undefined;
  }

  get inflight(): number {
    return this.sent - this.acked;
  }

  get backlog(): number {
    return this.log.head - this.sent;
  }

  /** Apply a cumulative ack; true when it acknowledged something new. */
  ack(upTo: number): boolean {
    const clamped = Math.min(upTo, this.sent);
    if (clamped <= this.acked) return false;
    this.acked = clamped;
    return true;
  }

  /** Entries up to `from` - 1 were evicted before they were sent: skip them, and repeat the resync on every frame until acked past it. */
  skipEvicted(from: number): { from: number; reason: 'epoch_changed' | 'beyond_window' } {
    // an epoch change the client has not acked past yet still renumbers its stream: keep saying so
    const reason = this.unannounced?.reason ?? 'beyond_window';
    this.acked = this.sent = from - 1;
    this.resync = { from, reason };
    return this.resync;
  }

  /** Go back N: everything unacked goes out again. */
  rewind(): void {
    this.sent = this.acked;
  }
}
