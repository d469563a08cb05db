/**
 * Repetitions and their summary: every figure of the bench is the median of
 * several runs, reported with its spread (min..max) so a noisy machine shows.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every repetition, in the order it ran. */
  runs: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: [...values] };
}

/** p-th percentile (0..100), nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Round for reports: significant digits that a human reads (and JSON keeps small). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const factor = 10 ** Math.max(0, digits - 1 - magnitude);
  return Math.round(value * factor) / factor;
}

export const roundSpread = (s: Spread, digits = 3): Spread => ({ median: round(s.median, digits), min: round(s.min, digits), max: round(s.max, digits), runs: s.runs.map((v) => round(v, digits)) });

/** Progress to stderr: stdout belongs to the report. */
export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Yield to the event loop (sockets, timers) between measurements. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The garbage collector, when reachable: node --expose-gc, or the flag set at
 * run time and `gc` taken from a fresh context (V8 installs it there once the
 * flag is on).
 */
export async function gcFunction(): Promise<(() => void) | null> {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const fromContext = vm.runInNewContext('gc') as unknown;
  return typeof fromContext === 'function' ? (fromContext as () => void) : null;
}

/**
 * Heap in use after full collections, repeated (a tick apart) until one frees
 * less than 64 KB more. Two passes are not always enough: finalizers free more
 * on a second pass, and now and then a dropped 15 MB world was still counted
 * after two (a third collection freed it), which read as a third of the
 * bytes per session.
 */
export async function settledHeap(gc: () => void, maxPasses = 8): Promise<number> {
  let heap = Infinity;
  for (let pass = 0; pass < maxPasses; pass++) {
    gc();
    const now = process.memoryUsage().heapUsed;
    if (pass > 0 && heap - now < 64 * 1024) return Math.min(now, heap);
    heap = now;
    await tick();
  }
  return heap;
}

/** Wait for `promise`, at most `ms` (the timer is cleared: a finished bench does not linger). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
