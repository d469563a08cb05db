/**
 * The app behind each simulated tab: it writes what it receives to the trace
 * (the oracle's evidence of delivery), and fails as the workload says (a
 * failure rate, poison events that always throw) so the client's retries and
 * dead letters are exercised.
 */
import type { AgentEvent } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import type { DeliverResult } from '../machines/stream-cursor.ts';
import type { AppSink } from '../transport/client-endpoint.ts';
import type { Random } from './random.ts';
import type { Trace } from './trace.ts';
import type { AppFailure } from './workload.ts';

export interface AppStubHost {
  readonly trace: Trace;
  now(): number;
}

/** The app of connection `id`; `random` draws its failures. */
export const appStub = (host: AppStubHost, id: string, random: Random, failure: AppFailure | undefined): AppSink => new AppStub(host, id, random, failure);

/** Methods, not closures: an idle tab's app is one small object (seven closures per tab were ≈ 0.5 KB, 2.5 KB under tsx's keepNames). */
class AppStub implements AppSink {
  constructor(
    private readonly host: AppStubHost,
    private readonly id: string,
    private readonly random: Random,
    private readonly failure: AppFailure | undefined,
  ) {}

  deliver(thread: string, seq: number, event: AgentEvent): DeliverResult {
    const { failure } = this;
    if (failure && (this.poisoned(event) || this.random.chance(failure.failRate))) {
      return { ok: false, message: this.poisoned(event) ? `app handler throws on ${event.run}#${event.idx} (poison)` : 'app handler threw' };
    }
    this.host.trace.append({
      t: this.host.now(), k: 'app', conn: this.id, tenant: event.tenant, user: event.user, thread, run: event.run, idx: event.idx, type: event.type, seq,
      sensitivity: event.sensitivity, redacted: event.redacted === true, hash: event.hash, receivedHash: payloadHash(event.payload),
    });
    return { ok: true };
  }

  appFailed(thread: string, seq: number, event: AgentEvent, attempt: number, message: string): void {
    this.host.trace.append({ t: this.host.now(), k: 'app_error', conn: this.id, thread, seq, run: event.run, idx: event.idx, attempt, dead: false, message });
  }

  deadLetter(thread: string, seq: number, event: AgentEvent, message: string, attempts: number): void {
    this.host.trace.append({ t: this.host.now(), k: 'app_error', conn: this.id, thread, seq, run: event.run, idx: event.idx, attempt: attempts, dead: true, message });
  }

  resync(thread: string, from: number, to: number, reason: string): void {
    this.host.trace.append({ t: this.host.now(), k: 'resync', conn: this.id, thread, from, to, reason });
  }

  rejected(code: string, detail: string): void {
    this.host.trace.append({ t: this.host.now(), k: 'reject', side: 'client', link: this.id, code, detail });
  }

  private poisoned(e: AgentEvent): boolean {
    return this.failure?.poison.some((p) => p.run === e.run && p.idx === e.idx) ?? false;
  }
}

/** A user may be drawn more than once: every poison counts, the highest failure rate applies. */
export function mergeFailures(failures: AppFailure[]): AppFailure | undefined {
  if (failures.length === 0) return undefined;
  return { ...failures[0]!, failRate: Math.max(...failures.map((f) => f.failRate)), poison: failures.flatMap((f) => f.poison) };
}
