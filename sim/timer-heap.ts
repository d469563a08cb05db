/**
 * A binary min-heap of scheduler entries ordered by (time, insertion
 * sequence), with lazy cancellation: a cancelled entry keeps its place with
 * `fn = null` and is dropped when it reaches the top (or at a compaction).
 */

export interface Entry {
  at: number;
  seq: number;
  label: string;
  /** null once cancelled or run. */
  fn: (() => void) | null;
  /** Held by the scheduler's far heap (see scheduler.ts). */
  far: boolean;
}

/** Heap order: earlier time first, then earlier insertion. */
export function before(a: Entry, b: Entry): boolean {
  return keyBefore(a.at, a.seq, b.at, b.seq);
}

/** The heap order on keys: (at, seq) before (at2, seq2). */
function keyBefore(at: number, seq: number, at2: number, seq2: number): boolean {
  return at < at2 || (at === at2 && seq < seq2);
}

export class TimerHeap {
  private items: Entry[] = [];
  /**
   * Each item's (at, seq), beside it: sifting compares these flat arrays of
   * numbers and moves entries without reading them. A world's schedule holds
   * tens of thousands of entries, and reading each compared entry object on
   * the way down (cold in the cache after the machines ran) cost more than
   * the rest of the scheduler.
   */
  private ats: number[] = [];
  private seqs: number[] = [];

  /** Entries held, cancelled ones included. */
  get length(): number {
    return this.items.length;
  }

  push(entry: Entry): void {
    this.items.push(entry);
    this.ats.push(entry.at);
    this.seqs.push(entry.seq);
    this.siftUp(this.items.length - 1, entry);
  }

  /** The first live entry, cancelled ones above it dropped; undefined when none is left. */
  top(): Entry | undefined {
    const heap = this.items;
    while (heap.length > 0 && heap[0]!.fn === null) this.pop();
    return heap[0];
  }

  /** Remove and return the top entry (live or not); the heap must not be empty. */
  pop(): Entry {
    const top = this.items[0]!;
    const last = this.items.pop()!;
    const at = this.ats.pop()!;
    const seq = this.seqs.pop()!;
    if (this.items.length > 0) this.siftDown(0, last, at, seq);
    return top;
  }

  /** Drop cancelled entries and restore heap order bottom-up (O(n)). */
  compact(): void {
    const heap = this.items.filter((e) => e.fn !== null);
    this.items = heap;
    this.ats = heap.map((e) => e.at);
    this.seqs = heap.map((e) => e.seq);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i, heap[i]!, this.ats[i]!, this.seqs[i]!);
  }

  /** The first `limit` live entries in order, without disturbing the heap (diagnostics). */
  firstLive(limit: number): Entry[] {
    const out: Entry[] = [];
    // Best-first walk of the heap: a small frontier heap of heap indices.
    const frontier: number[] = this.items.length > 0 ? [0] : [];
    const key = (i: number): Entry => this.items[i]!;
    while (frontier.length > 0 && out.length < limit) {
      const i = popIndex(frontier, key);
      const e = key(i);
      if (e.fn !== null) out.push(e);
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < this.items.length) pushIndex(frontier, c, key);
    }
    return out;
  }

  /** Move the item at index j to index i. */
  private move(j: number, i: number): void {
    this.items[i] = this.items[j]!;
    this.ats[i] = this.ats[j]!;
    this.seqs[i] = this.seqs[j]!;
  }

  /** Put `entry`, keyed (at, seq), at index i. */
  private place(i: number, entry: Entry, at: number, seq: number): void {
    this.items[i] = entry;
    this.ats[i] = at;
    this.seqs[i] = seq;
  }

  /** Place `entry` (just appended at index start) at or above it. */
  private siftUp(start: number, entry: Entry): void {
    const { at, seq } = entry;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!keyBefore(at, seq, this.ats[parent]!, this.seqs[parent]!)) break;
      this.move(parent, i);
      i = parent;
    }
    this.place(i, entry, at, seq);
  }

  /** Place `entry`, keyed (at, seq), at or below index start. */
  private siftDown(start: number, entry: Entry, at: number, seq: number): void {
    const n = this.items.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const { ats, seqs } = this;
      const c = r < n && keyBefore(ats[r]!, seqs[r]!, ats[l]!, seqs[l]!) ? r : l;
      if (!keyBefore(ats[c]!, seqs[c]!, at, seq)) break;
      this.move(c, i);
      i = c;
    }
    this.place(i, entry, at, seq);
  }
}

// A tiny index heap for `firstLive`: diagnostics only, so clarity over speed.
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
