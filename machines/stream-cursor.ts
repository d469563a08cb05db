/**
 * The client's view of one stream: which sequence the app needs next, the
 * frames that arrived early (held until the gap fills), and what was acked.
 * Releasing strictly from `next` is what makes the app see each stream once,
 * in order, whatever the network does to the frames.
 */
import type { AgentEvent, EventFrame } from './frames.ts';

export type DeliverResult = { ok: true } | { ok: false; message: string };

/** How the cursor hands an event to the app (the client's port). */
export interface Release {
  deliver(seq: number, event: AgentEvent): DeliverResult;
  deadLetter(seq: number, event: AgentEvent, message: string, attempts: number): void;
  failed(seq: number, event: AgentEvent, attempt: number, message: string): void;
}

export type DrainOutcome = 'drained' | 'stalled';

export class StreamCursor {
  /** Next sequence to release to the app. */
  next = 1;
  /** Highest sequence acknowledged to the server. */
  acked = 0;
  /** Frames ahead of `next`, by sequence. */
  readonly buffer = new Map<number, EventFrame>();
  /** Consecutive app failures on the frame at `next`. */
  failures = 0;
  /** The server answered the last subscribe/resume for this stream. */
  confirmed = false;
  /** The server epoch `next` refers to (null until the server first answered). */
  epoch: string | null = null;
  /** The epoch of the last event frame seen (it may arrive before the answer that names it). */
  seenEpoch: string | null = null;

  constructor(readonly thread: string, readonly bufferCap: number) {}

  /** A frame this cursor has released already, or holds already. */
  isDuplicate(frame: EventFrame): boolean {
    return frame.seq < this.next || this.buffer.has(frame.seq);
  }

  /** Hold a frame until its turn (a full buffer refuses: the server will send it again). */
  hold(frame: EventFrame): boolean {
    if (this.buffer.size >= this.bufferCap && frame.seq !== this.next) return false;
    this.buffer.set(frame.seq, frame);
    return true;
  }

  /** Release every frame that is next in line; stop at a gap or an app failure. */
  drain(release: Release, maxAttempts: number): DrainOutcome {
    for (let frame = this.buffer.get(this.next); frame; frame = this.buffer.get(this.next)) {
      if (frame.event) {
        const result = release.deliver(frame.seq, frame.event);
        if (!result.ok && !this.failOnce(release, frame, result.message, maxAttempts)) return 'stalled';
      }
      this.failures = 0;
      this.buffer.delete(frame.seq);
      this.next = (frame.through ?? frame.seq) + 1;
      // a coalesced frame covered sequences that may also be held singly: they are released now
      if (frame.through !== undefined) for (const seq of this.buffer.keys()) if (seq < this.next) this.buffer.delete(seq);
    }
    return 'drained';
  }

  /** Jump forward after an explicit resync; frames before `from` are gone. */
  skipTo(from: number): void {
    for (const seq of this.buffer.keys()) if (seq < from) this.buffer.delete(seq);
    if (from > this.next) this.next = from;
    if (this.acked < from - 1) this.acked = from - 1;
    this.failures = 0;
  }

  /** Start over at `from` in a new epoch: nothing held or acked refers to it. */
  restartAt(from: number): void {
    this.buffer.clear();
    this.next = from;
    this.acked = from - 1;
    this.failures = 0;
  }

  /** The cumulative ack to send, or undefined when the server is up to date. */
  pendingAck(): number | undefined {
    return this.next - 1 > this.acked ? this.next - 1 : undefined;
  }

  /** true = give up on it (dead letter) and move on; false = retry later. */
  private failOnce(release: Release, frame: EventFrame, message: string, maxAttempts: number): boolean {
    this.failures++;
    if (this.failures < maxAttempts) {
      release.failed(frame.seq, frame.event!, this.failures, message);
      return false;
    }
    release.deadLetter(frame.seq, frame.event!, message, this.failures);
    return true;
  }
}
