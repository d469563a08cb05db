/**
 * The world's one event queue, ordered by (time, insertion sequence).
 * Everything that happens in the simulated world — XState `after` delays,
 * frame arrivals, faults — is an entry here, so one seed gives one order of
 * events.
 *
 * Two binary heaps hold the entries: one for those due within FAR_MS of the
 * moment they were set (frames in flight, short timers: the churn), one for
 * later ones (a workload's whole schedule, set at the start: tens of
 * thousands). The next entry is the earlier of the two tops, so the order is
 * the one a single heap gives, and the churn works on a heap of hundreds
 * instead of climbing through the whole schedule on every push and pop.
 *
 * Cancellation is lazy: a cancelled entry stays in its heap with `fn = null`
 * and is skipped when it surfaces. That keeps `cancel` O(1) and the hot path
 * (push/pop) free of index bookkeeping; `size` counts live entries only. The
 * id of an entry is the entry itself (opaque to callers), so neither setting
 * nor running one touches a map of live entries.
 */
import { before, TimerHeap, type Entry } from './timer-heap.ts';

/** What `at` and `after` answer, for `cancel`: opaque. */
export interface TimerId {
  readonly seq: number;
}

export interface Pending {
  at: number;
  label: string;
}

/** The world did not settle within its step budget (a liveness failure, not a bug in the kernel). */
export class LivenessError {
  readonly kind = 'liveness';
  constructor(
    readonly message: string,
    readonly steps: number,
    readonly now: number,
    /** The first entries by due time (about 20). */
    readonly pending: Pending[],
  ) {}
}

export type SettleResult =
  | { ok: true; steps: number; now: number }
  | { ok: false; error: LivenessError };

const PENDING_IN_ERROR = 20;
/** An entry due later than this after it was set goes to the far heap. */
const FAR_MS = 1000;

export class Scheduler {
  private near = new TimerHeap();
  private far = new TimerHeap();
  /** Entries set and neither run nor cancelled. */
  private live = 0;
  private seq = 0;
  private time = 0;
  private stepCount = 0;

  get now(): number {
    return this.time;
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Live (not cancelled, not yet run) entries. */
  get size(): number {
    return this.live;
  }

  /** Run fn at absolute time `at` (>= now); ties run in insertion order. */
  at(at: number, label: string, fn: () => void): TimerId {
    if (Number.isNaN(at)) throw new Error(`scheduler.at(${label}): time is NaN`);
    // A time in the past (float rounding, a late caller) runs at `now`: the clock never goes back.
    const due = at < this.time ? this.time : at;
    const far = due - this.time > FAR_MS;
    const entry: Entry = { at: due, seq: this.seq++, label, fn, far };
    this.live++;
    (far ? this.far : this.near).push(entry);
    return entry;
  }

  after(delayMs: number, label: string, fn: () => void): TimerId {
    return this.at(this.time + (delayMs > 0 ? delayMs : 0), label, fn);
  }

  /** True if the entry was live (it will now never run). `id` is one this scheduler's `at` or `after` gave. */
  cancel(id: TimerId): boolean {
    const entry = id as Partial<Entry>;
    // already run or cancelled (or not an entry at all)
    if (typeof entry.fn !== 'function') return false;
    entry.fn = null;
    this.live--;
    // Timers re-armed on every frame (heartbeats) leave garbage behind; rebuild
    // the heap once garbage dominates so memory stays proportional to live entries.
    const held = this.near.length + this.far.length;
    if (held > 1024 && held > 4 * this.live) {
      this.near.compact();
      this.far.compact();
    }
    return true;
  }

  /** The first `limit` live entries by due time, without disturbing the heaps. */
  pending(limit = PENDING_IN_ERROR): Pending[] {
    const first = [...this.near.firstLive(limit), ...this.far.firstLive(limit)].sort((a, b) => (before(a, b) ? -1 : 1));
    return first.slice(0, limit).map((e) => ({ at: e.at, label: e.label }));
  }

  /** Run the next live entry; false if there is none. */
  step(): boolean {
    const entry = this.popLive();
    if (entry === undefined) return false;
    const fn = entry.fn!;
    entry.fn = null;
    this.live--;
    this.time = entry.at;
    this.stepCount++;
    fn();
    return true;
  }

  /** Run every entry due at or before t (including ones scheduled meanwhile), then set now = t. */
  runUntil(t: number): number {
    let n = 0;
    for (;;) {
      const top = this.peekLive();
      if (top === undefined || top.at > t) break;
      this.step();
      n++;
    }
    if (t > this.time) this.time = t;
    return n;
  }

  /**
   * Run until the queue is empty or `settled()` holds (checked before the
   * first step and after each step). Running out of steps is a liveness
   * failure naming what was still pending — never a hang.
   */
  runUntilSettled(opts: { maxSteps: number; settled?: () => boolean }): SettleResult {
    const settled = opts.settled;
    let n = 0;
    for (;;) {
      if (settled !== undefined && settled()) break;
      if (this.peekLive() === undefined) break;
      if (n >= opts.maxSteps) return { ok: false, error: this.livenessError(n) };
      this.step();
      n++;
    }
    return { ok: true, steps: n, now: this.time };
  }

  private livenessError(steps: number): LivenessError {
    const pending = this.pending(PENDING_IN_ERROR);
    const listed = pending.map((p) => `${p.label}@${p.at}`).join(', ');
    const message =
      `not settled after ${steps} steps at t=${this.time}ms; ${this.size} pending, ` +
      `first by due time: ${listed}${this.size > pending.length ? ', ...' : ''}`;
    return new LivenessError(message, steps, this.time, pending);
  }

  /** The next live entry (cancelled ones above it dropped), or undefined. */
  private peekLive(): Entry | undefined {
    const a = this.near.top();
    const b = this.far.top();
    if (a === undefined) return b;
    return b !== undefined && before(b, a) ? b : a;
  }

  private popLive(): Entry | undefined {
    const next = this.peekLive();
    // peekLive left it at the top of its heap
    if (next !== undefined) (next.far ? this.far : this.near).pop();
    return next;
  }
}
