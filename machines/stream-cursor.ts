/**
 * The client's view of one stream: which sequence the app needs next, the
 * frames that arrived early (held until the gap fills), and what was acked.
 * Releasing strictly from `next` is what makes the app see each stream once,
 * in order, whatever the network does to the frames.
 *
 * A cursor is plain, immutable data (it lives in the machine's context and
 * goes through `JSON.stringify` with the snapshot); every operation returns a
 * new cursor. `held` is copied when it changes: it only holds frames ahead of
 * a gap (in-order frames pass through an empty one), and it is capped.
 */
import { EMPTY_RECORD } from './defaults.ts';
import type { EventFrame } from './frames.ts';

export type DeliverResult = { ok: true } | { ok: false; message: string };

export interface StreamCursor {
  readonly thread: string;
  /** Next sequence to release to the app. */
  readonly next: number;
  /** Highest sequence acknowledged to the server. */
  readonly acked: number;
  /** Frames from `next` on, by sequence; the one at `next` is with the app until it answers. */
  readonly held: Readonly<Record<number, EventFrame>>;
  /** How many frames `held` has (counting its keys would make a burst O(n²)). */
  readonly heldCount: number;
  /** Consecutive app failures on the frame at `next`. */
  readonly failures: number;
  /**
   * How many frames from `next` on are with the app: 0 none, 1 the frame at
   * `next` (its answer is `app.delivered`/`app.failed`), more a run handed at
   * once (its answer is `app.run`). Nothing else is handed to the app on this
   * stream until it answers.
   */
  readonly withApp: number;
  /** The server answered the last subscribe/resume for this stream. */
  readonly confirmed: boolean;
  /** The server epoch `next` refers to (null until the server first answered). */
  readonly epoch: string | null;
  /** The epoch of the last event frame seen (it may arrive before the answer that names it). */
  readonly seenEpoch: string | null;
}

export const newCursor = (thread: string, next = 1, epoch: string | null = null): StreamCursor => ({
  thread,
  next,
  acked: next - 1,
  held: EMPTY_RECORD,
  heldCount: 0,
  failures: 0,
  withApp: 0,
  confirmed: false,
  epoch,
  seenEpoch: null,
});

/**
 * The frame repeats a resync this cursor has not heard (its `resync_required`
 * was lost, or the stream is behind the resync's start): it must be heard for
 * the resync, even when its own event is already held.
 */
export const repeatsUnheardResync = (cursor: StreamCursor, f: EventFrame): f is EventFrame & { resync: NonNullable<EventFrame['resync']> } =>
  f.resync !== undefined && (!cursor.confirmed || cursor.epoch !== (f.epoch ?? cursor.epoch) || cursor.next < f.resync.from);

/**
 * A frame this cursor has released already, or holds already. A held frame
 * that repeats an unheard resync is not a duplicate: ignoring it would leave
 * the stream waiting forever for a gap the server can no longer fill.
 */
export const isDuplicate = (cursor: StreamCursor, frame: EventFrame): boolean =>
  frame.seq < cursor.next || (cursor.held[frame.seq] !== undefined && !repeatsUnheardResync(cursor, frame));

/** Hold a frame until its turn; null when the buffer is full (the server will send it again). */
export function hold(cursor: StreamCursor, frame: EventFrame, cap: number): StreamCursor | null {
  if (cursor.heldCount >= cap && frame.seq !== cursor.next) return null;
  const fresh = cursor.held[frame.seq] === undefined;
  return { ...cursor, held: { ...cursor.held, [frame.seq]: frame }, heldCount: cursor.heldCount + (fresh ? 1 : 0) };
}

/** Drop held frames below `from`. */
function dropBelow(cursor: StreamCursor, from: number): Pick<StreamCursor, 'held' | 'heldCount'> {
  const held: Record<number, EventFrame> = {};
  let heldCount = 0;
  for (const [key, frame] of Object.entries(cursor.held)) {
    if (Number(key) < from) continue;
    held[Number(key)] = frame;
    heldCount++;
  }
  return { held, heldCount };
}

/** The frame at `next` is done with (delivered or dead-lettered): move past it. */
export function advance(cursor: StreamCursor): StreamCursor {
  const frame = cursor.held[cursor.next];
  if (!frame) return cursor;
  const next = (frame.through ?? frame.seq) + 1;
  // a coalesced frame covered sequences that may also be held singly: they are released with it
  const rest = cursor.heldCount === 1 ? { held: {}, heldCount: 0 } : dropBelow(cursor, next);
  return { ...cursor, ...rest, next, failures: 0, withApp: 0 };
}

/** A run the app took whole, up to `next` (exclusive): move past it in one step. */
export const advanceTo = (cursor: StreamCursor, next: number): StreamCursor => ({ ...cursor, ...dropBelow(cursor, next), next, failures: 0, withApp: 0 });

/**
 * A run of in-order frames continuing a stream that holds nothing and has
 * nothing with the app, so the whole run can be handed to the app at once.
 */
export function isPlainRun(cursor: StreamCursor, frames: readonly EventFrame[]): boolean {
  if (!cursor.confirmed || cursor.heldCount > 0 || cursor.withApp > 0) return false;
  return frames.every((f, i) => f.thread === cursor.thread && f.seq === cursor.next + i && f.event !== undefined && f.through === undefined && inEpoch(cursor, f));
}

/** The frame is of the cursor's epoch, and the resync it may repeat is one the cursor is past already. */
const inEpoch = (cursor: StreamCursor, f: EventFrame): boolean => (f.epoch === undefined || f.epoch === cursor.epoch) && (f.resync === undefined || cursor.next >= f.resync.from);

/** Hold a plain run (see `isPlainRun`) and mark all of it as with the app. */
export function handRun(cursor: StreamCursor, frames: readonly EventFrame[]): StreamCursor {
  const held: Record<number, EventFrame> = {};
  let seenEpoch = cursor.seenEpoch;
  for (const f of frames) {
    held[f.seq] = f;
    seenEpoch = f.epoch ?? seenEpoch;
  }
  return { ...cursor, held, heldCount: frames.length, withApp: frames.length, seenEpoch };
}

/**
 * Pass over held frames that carry nothing for the app; the frame now at
 * `next` if it is for the app and not with it already, marked as with it.
 */
export function settle(cursor: StreamCursor): { cursor: StreamCursor; head: EventFrame | undefined } {
  let c = cursor;
  for (let frame = c.held[c.next]; frame && !frame.event; frame = c.held[c.next]) c = advance(c);
  const head = c.held[c.next];
  if (!head || c.withApp > 0) return { cursor: c, head: undefined };
  return { cursor: { ...c, withApp: 1 }, head };
}

/** The app failed once more on the frame at `next` (it is handed again later). */
export const failedOnce = (cursor: StreamCursor): StreamCursor => ({ ...cursor, failures: cursor.failures + 1, withApp: 0 });

/** Jump forward after an explicit resync; frames before `from` are gone. */
export function skipTo(cursor: StreamCursor, from: number): StreamCursor {
  if (from <= cursor.next) return { ...cursor, acked: Math.max(cursor.acked, from - 1), failures: 0 };
  return { ...cursor, ...dropBelow(cursor, from), next: from, acked: Math.max(cursor.acked, from - 1), failures: 0, withApp: 0 };
}

/** Start over at `from` in a new epoch: nothing held or acked refers to it. */
export const restartAt = (cursor: StreamCursor, from: number): StreamCursor => ({ ...cursor, held: {}, heldCount: 0, next: from, acked: from - 1, failures: 0, withApp: 0 });

/** The cumulative ack to send, or undefined when the server is up to date. */
export const pendingAck = (cursor: StreamCursor): number | undefined => (unacked(cursor) > 0 ? cursor.next - 1 : undefined);

/** Frames of the stream released and not yet acked. */
export const unacked = (cursor: StreamCursor): number => cursor.next - 1 - cursor.acked;
