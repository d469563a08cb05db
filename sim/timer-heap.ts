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
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class TimerHeap {
  private items: Entry[] = [];

  /** Entries held, cancelled ones included. */
  get length(): number {
    return this.items.length;
  }

  push(entry: Entry): void {
    const heap = this.items;
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

  /** The first live entry, cancelled ones above it dropped; undefined when none is left. */
  top(): Entry | undefined {
    const heap = this.items;
    while (heap.length > 0 && heap[0]!.fn === null) this.pop();
    return heap[0];
  }

  /** Remove and return the top entry (live or not); the heap must not be empty. */
  pop(): Entry {
    const heap = this.items;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Drop cancelled entries and restore heap order bottom-up (O(n)). */
  compact(): void {
    const heap = this.items.filter((e) => e.fn !== null);
    this.items = heap;
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i, heap[i]!);
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

  /** Place `entry` at or below index i. */
  private siftDown(start: number, entry: Entry): void {
    const heap = this.items;
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
