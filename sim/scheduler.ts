/**
 * The world's one event queue: a binary min-heap ordered by (time, insertion
 * sequence). Everything that happens in the simulated world — XState `after`
 * delays, frame arrivals, faults — is an entry here, so one seed gives one
 * order of events.
 *
 * Cancellation is lazy: a cancelled entry stays in the heap with `fn = null`
 * and is skipped when it surfaces. That keeps `cancel` O(1) and the hot path
 * (push/pop) free of index bookkeeping; `size` counts live entries only.
 */

export type TimerId = number;

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

interface Entry {
  at: number;
  seq: number;
  label: string;
  /** null once cancelled or run. */
  fn: (() => void) | null;
}

const PENDING_IN_ERROR = 20;

/** Heap order: earlier time first, then earlier insertion. */
function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class Scheduler {
  private heap: Entry[] = [];
  /** Live entries by id, so cancel can find them. */
  private live = new Map<TimerId, Entry>();
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
    return this.live.size;
  }

  /** Run fn at absolute time `at` (>= now); ties run in insertion order. */
  at(at: number, label: string, fn: () => void): TimerId {
    if (Number.isNaN(at)) throw new Error(`scheduler.at(${label}): time is NaN`);
    // A time in the past (float rounding, a late caller) runs at `now`: the clock never goes back.
    const entry: Entry = { at: at < this.time ? this.time : at, seq: this.seq++, label, fn };
    this.live.set(entry.seq, entry);
    this.push(entry);
    return entry.seq;
  }

  after(delayMs: number, label: string, fn: () => void): TimerId {
    return this.at(this.time + (delayMs > 0 ? delayMs : 0), label, fn);
  }

  /** True if the entry was live (it will now never run). */
  cancel(id: TimerId): boolean {
    const entry = this.live.get(id);
    if (entry === undefined) return false;
    entry.fn = null;
    this.live.delete(id);
    // Timers re-armed on every frame (heartbeats) leave garbage behind; rebuild
    // the heap once garbage dominates so memory stays proportional to live entries.
    if (this.heap.length > 1024 && this.heap.length > 4 * this.live.size) this.compact();
    return true;
  }

  /** The first `limit` live entries by due time, without disturbing the heap. */
  pending(limit = PENDING_IN_ERROR): Pending[] {
    const out: Pending[] = [];
    // Best-first walk of the heap: a small frontier heap of heap indices.
    const frontier: number[] = this.heap.length > 0 ? [0] : [];
    const key = (i: number): Entry => this.heap[i]!;
    while (frontier.length > 0 && out.length < limit) {
      const i = popIndex(frontier, key);
      const e = key(i);
      if (e.fn !== null) out.push({ at: e.at, label: e.label });
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < this.heap.length) pushIndex(frontier, c, key);
    }
    return out;
  }

  /** Run the next live entry; false if there is none. */
  step(): boolean {
    const entry = this.popLive();
    if (entry === undefined) return false;
    const fn = entry.fn!;
    entry.fn = null;
    this.live.delete(entry.seq);
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

  /** Drop cancelled entries off the top so the top is live (or the heap is empty). */
  private peekLive(): Entry | undefined {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.fn === null) this.pop();
    return heap[0];
  }

  private popLive(): Entry | undefined {
    return this.peekLive() === undefined ? undefined : this.pop();
  }

  /** Drop cancelled entries and restore heap order bottom-up (O(n)). */
  private compact(): void {
    const heap = this.heap.filter((e) => e.fn !== null);
    this.heap = heap;
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i, heap[i]!);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Entry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Place `entry` at or below index i. */
  private siftDown(start: number, entry: Entry): void {
    const heap = this.heap;
    const n = heap.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!before(child, entry)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = entry;
  }
}

// A tiny index heap for `pending`: diagnostics only, so clarity over speed.
function pushIndex(h: number[], v: number, key: (i: number) => Entry): void {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(key(h[i]!), key(h[p]!))) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function popIndex(h: number[], key: (i: number) => Entry): number {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length === 0) return top;
  h[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && before(key(h[l]!), key(h[m]!))) m = l;
    if (r < h.length && before(key(h[r]!), key(h[m]!))) m = r;
    if (m === i) break;
    [h[i], h[m]] = [h[m]!, h[i]!];
    i = m;
  }
  return top;
}
