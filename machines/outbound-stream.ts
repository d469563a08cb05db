/**
 * One subscribed stream as a session sends it: a window over the shared replay
 * log. `acked` < seq ≤ `sent` is in flight; `sent` < seq ≤ log.head is the
 * backlog. The session holds no event of its own: what is acked is simply no
 * longer in its window, and the log's cap bounds memory.
 *
 * A stream is an immutable record in the session's context; every operation
 * returns a new one (or the same one when nothing changed). `log` is the
 * hub's log, lent by reference: the hub appends to it on every publish and
 * every subscriber reads it, so a copy per session would cost O(log) per event.
 */
import type { LogView } from './log-view.ts';

export type Resync = { readonly from: number; readonly reason: 'epoch_changed' | 'beyond_window' };

export interface OutboundStream {
  readonly thread: string;
  /** The hub's log of this stream (shared, not the session's: see above). */
  readonly log: LogView;
  /** Highest sequence the client acknowledged. */
  readonly acked: number;
  /** Highest sequence handed to the link. */
  readonly sent: number;
  /** The log's head when the stream was opened: what is at or below it is history, sent within the replay budget. */
  readonly replayUntil: number;
  /** Why the stream starts where it does, when the client's position could not be served. */
  readonly resync?: Resync;
  /** Which opening of this thread in the session (a follower tells a reopened stream from the old one). */
  readonly opening: number;
}

export const openedStream = (thread: string, log: LogView, from: number, opening: number, resync?: Resync): OutboundStream => ({
  thread,
  log,
  acked: from - 1,
  sent: from - 1,
  replayUntil: log.head,
  ...(resync ? { resync } : {}),
  opening,
});

/** The resync still to repeat on every frame: until the client acked past the stream's start. */
export const unannounced = (s: OutboundStream): Resync | undefined => (s.resync && s.acked < s.resync.from ? s.resync : undefined);

export const inflight = (s: OutboundStream): number => s.sent - s.acked;

export const backlog = (s: OutboundStream): number => s.log.head - s.sent;

/** Apply a cumulative ack: the same stream when it acknowledged nothing new. */
export function acked(s: OutboundStream, upTo: number): OutboundStream {
  const clamped = Math.min(upTo, s.sent);
  return clamped <= s.acked ? s : { ...s, acked: clamped };
}

/** Entries up to `from` - 1 were evicted before they were sent: skip them, and repeat the resync on every frame until acked past it. */
export function skipEvicted(s: OutboundStream, from: number): OutboundStream & { resync: Resync } {
  // an epoch change the client has not acked past yet still renumbers its stream: keep saying so
  const reason = unannounced(s)?.reason ?? 'beyond_window';
  return { ...s, acked: from - 1, sent: from - 1, resync: { from, reason } };
}

/** Go back N: everything unacked goes out again. */
export const rewound = (s: OutboundStream): OutboundStream => (s.sent === s.acked ? s : { ...s, sent: s.acked });
