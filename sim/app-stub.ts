/**
 * The app behind each simulated tab: it writes what it receives to the trace
 * (the oracle's evidence of delivery), and fails as the workload says (a
 * failure rate, poison events that always throw) so the client's retries and
 * dead letters are exercised.
 */
import type { AgentEvent } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import type { AppSink } from '../transport/client-endpoint.ts';
import type { Random } from './random.ts';
import type { Trace } from './trace.ts';
import type { AppFailure } from './workload.ts';

export interface AppStubHost {
  readonly trace: Trace;
  now(): number;
}

/** The app of connection `id`; `random` draws its failures. */
export function appStub(host: AppStubHost, id: string, random: Random, failure: AppFailure | undefined): AppSink {
  const { trace } = host;
  const now = () => host.now();
  const poisoned = (e: AgentEvent) => failure?.poison.some((p) => p.run === e.run && p.idx === e.idx) ?? false;
  return {
    deliver: (thread, seq, event) => {
      if (failure && (poisoned(event) || random.chance(failure.failRate))) {
        return { ok: false, message: poisoned(event) ? `app handler throws on ${event.run}#${event.idx} (poison)` : 'app handler threw' };
      }
      trace.append({
        t: now(), k: 'app', conn: id, tenant: event.tenant, user: event.user, thread, run: event.run, idx: event.idx, type: event.type, seq,
        sensitivity: event.sensitivity, redacted: event.redacted === true, hash: event.hash, receivedHash: payloadHash(event.payload),
      });
      return { ok: true };
    },
    appFailed: (thread, seq, event, attempt, message) =>
      trace.append({ t: now(), k: 'app_error', conn: id, thread, seq, run: event.run, idx: event.idx, attempt, dead: false, message }),
    deadLetter: (thread, seq, event, message, attempts) =>
      trace.append({ t: now(), k: 'app_error', conn: id, thread, seq, run: event.run, idx: event.idx, attempt: attempts, dead: true, message }),
    resync: (thread, from, to, reason) => trace.append({ t: now(), k: 'resync', conn: id, thread, from, to, reason }),
    rejected: (code, detail) => trace.append({ t: now(), k: 'reject', side: 'client', link: id, code, detail }),
  };
}

/** A user may be drawn more than once: every poison counts, the highest failure rate applies. */
export function mergeFailures(failures: AppFailure[]): AppFailure | undefined {
  if (failures.length === 0) return undefined;
  return { ...failures[0]!, failRate: Math.max(...failures.map((f) => f.failRate)), poison: failures.flatMap((f) => f.poison) };
}
