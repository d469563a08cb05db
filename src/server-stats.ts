/**
 * Server-wide counters for `stats()` and /metrics. Sessions keep their own
 * counters and are gone when their connection is; this follows each
 * session's snapshots and keeps the running totals: events acknowledged by
 * clients (delivered), frames sent again (retransmits), streams that began
 * with an explicit resync, and refusals by code.
 */
import type { SessionRef } from '../machines/hub.ts';

export interface Totals {
  published: number;
  /** Publishes answered from the ledger (a producer's retry): nothing appended. */
  repeats: number;
  delivered: number;
  retransmits: number;
  resyncs: number;
  rejected: Record<string, number>;
}

export function emptyTotals(): Totals {
  return { published: 0, repeats: 0, delivered: 0, retransmits: 0, resyncs: 0, rejected: {} };
}

export function countRejected(totals: Totals, code: string): void {
  totals.rejected[code] = (totals.rejected[code] ?? 0) + 1;
}

/** Add a session's progress to the totals as it happens; stops with the session. */
export function followSession(ref: SessionRef, totals: Totals): void {
  let retransmitted = 0;
  // by the stream's opening: a stream reopened (a resume) is a new one, whose start may be a resync
  const acked = new Map<string, number>();
  const subscription = ref.subscribe({
    next: (snapshot) => {
      const { stats, streams } = snapshot.context;
      totals.retransmits += stats.retransmitted - retransmitted;
      retransmitted = stats.retransmitted;
      for (const stream of Object.values(streams)) {
        const key = `${stream.opening}`;
        const seen = acked.get(key);
        if (seen === undefined && stream.resync) totals.resyncs++;
        if (seen !== undefined && stream.acked > seen) totals.delivered += stream.acked - seen;
        if (seen === undefined || stream.acked > seen) acked.set(key, stream.acked);
      }
    },
    complete: () => subscription?.unsubscribe(),
  });
}
