/**
 * Same seed ⇒ same trace: run a world twice and compare record by record, so
 * a failure names the first divergence and its simulated time instead of two
 * unequal hashes.
 */
import type { TraceRecord } from './records.ts';
import { canonicalJSON, type Trace } from './trace.ts';

export type DeterminismResult =
  | { ok: true; hash: string; records: number }
  | { ok: false; index: number; t: number; first: string; second: string; message: string };

const MISSING = '<no record>';

export function checkDeterminism(run: (seed: number) => Trace, seed: number): DeterminismResult {
  const a = run(seed);
  const b = run(seed);
  const hash = a.hash();
  if (hash === b.hash() && a.length === b.length) return { ok: true, hash, records: a.length };
  if (a.records.length !== a.length || b.records.length !== b.length) {
    // Hash-only traces (keep: false) cannot say where they diverged.
    return {
      ok: false, index: -1, t: NaN, first: hash, second: b.hash(),
      message: `seed ${seed}: trace hashes differ (${hash} vs ${b.hash()}); records were not kept, rerun with keep: true to locate the difference`,
    };
  }
  const index = firstDifference(a.records, b.records);
  const ra = a.records[index];
  const rb = b.records[index];
  const first = ra === undefined ? MISSING : canonicalJSON(ra);
  const second = rb === undefined ? MISSING : canonicalJSON(rb);
  const t = (ra ?? rb)?.t ?? NaN;
  return {
    ok: false, index, t, first, second,
    message: `seed ${seed}: runs diverge at record ${index} (t=${t}ms):\n  first:  ${first}\n  second: ${second}`,
  };
}

function firstDifference(a: readonly TraceRecord[], b: readonly TraceRecord[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (canonicalJSON(a[i]) !== canonicalJSON(b[i])) return i;
  return n;
}
