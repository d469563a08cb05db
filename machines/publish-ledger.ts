/**
 * The server's memory of published runs: it makes publishing idempotent and
 * holds producers to the run contract.
 *
 * - Idempotent on (tenant, user, thread, run, idx): a retry of an event
 *   already appended returns the sequence it got then and appends nothing,
 *   so a producer that retries after a timeout never duplicates an event.
 *   A "retry" whose content differs is refused (`conflicting_retry`).
 * - The run contract is the agent-run machine's own (agent-run.ts), stepped
 *   with XState's pure `transition`: the same rules the simulated producers
 *   obey, so the server accepts exactly the runs the simulator proves.
 * - Events of a run arrive in idx order; a gap is refused (`out_of_order`)
 *   rather than held, because the producer that skipped will retry it.
 *
 * A batch is planned as a whole before anything is appended: one refused
 * event refuses the batch, and nothing of it is appended. Memory is bounded
 * by `maxRuns`: the oldest run is forgotten first (a retry into a forgotten
 * run is refused as `out_of_order`, never appended twice).
 */
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { agentRunMachine, type AgentRunRequest } from './agent-run.ts';
import type { AgentEvent } from './frames.ts';
import { payloadHash } from './hash.ts';
import type { PublishError, PublishRequest } from './publish-request.ts';

type RunSnapshot = SnapshotFrom<typeof agentRunMachine>;

interface RunRecord {
  snapshot: RunSnapshot;
  /** By idx: the sequence each event got, and what it was (to tell a retry from a conflict). */
  seqs: number[];
  prints: string[];
}

/** One event of a planned batch: append it (`event`), or answer with the sequence it already has. */
export type PlannedStep =
  | { kind: 'append'; event: AgentEvent; key: string; snapshot: RunSnapshot }
  | { kind: 'repeat'; thread: string; key: string; idx: number };

export type Plan = { ok: true; steps: PlannedStep[] } | { ok: false; index: number; error: PublishError };

export const DEFAULT_MAX_RUNS = 100_000;

const runKey = (r: PublishRequest): string => [r.tenant, r.user, r.thread, r.run].join('\u0000');

const fingerprint = (r: PublishRequest, hash: string): string => [r.type, r.toolId ?? '', r.sensitivity, hash].join('\u0000');

function requestOf(r: PublishRequest): AgentRunRequest {
  switch (r.type) {
    case 'agent_started':
      return { type: 'START', payload: r.payload };
    case 'agent_thinking':
      return { type: 'THINK', payload: r.payload };
    case 'tool_executing':
      return { type: 'TOOL_START', toolId: r.toolId ?? '', payload: r.payload };
    case 'tool_completed':
      return { type: 'TOOL_END', toolId: r.toolId ?? '', payload: r.payload };
    case 'agent_completed':
      return { type: 'COMPLETE', payload: r.payload };
  }
}

export class PublishLedger {
  private readonly runs = new Map<string, RunRecord>();

  constructor(readonly maxRuns: number = DEFAULT_MAX_RUNS) {}

  get size(): number {
    return this.runs.size;
  }

  /** Decide every event of a batch, in order, as if the earlier ones were appended; change nothing. */
  plan(requests: readonly PublishRequest[]): Plan {
    const draft = new Map<string, RunRecord>();
    const steps: PlannedStep[] = [];
    for (const [index, request] of requests.entries()) {
      const key = runKey(request);
      const record = draft.get(key) ?? this.copyOf(key, request);
      const step = this.decide(record, request, key);
      if ('code' in step) return { ok: false, index, error: step };
      draft.set(key, record);
      steps.push(step);
    }
    return { ok: true, steps };
  }

  /** Record that a planned append got `seq` (call in plan order, right after appending). */
  committed(step: Extract<PlannedStep, { kind: 'append' }>, seq: number): void {
    const record = this.runs.get(step.key) ?? { snapshot: step.snapshot, seqs: [], prints: [] };
    record.snapshot = step.snapshot;
    record.seqs.push(seq);
    record.prints.push(fingerprint(step.event, step.event.hash));
    // most recently used last: eviction takes the run that has been quiet longest
    this.runs.delete(step.key);
    this.runs.set(step.key, record);
    while (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
  }

  /** The sequence an event of a run got (after its append was committed). */
  seqOf(step: Extract<PlannedStep, { kind: 'repeat' }>): number {
    return this.runs.get(step.key)?.seqs[step.idx] ?? 0;
  }

  private copyOf(key: string, request: PublishRequest): RunRecord {
    const held = this.runs.get(key);
    return held ? { snapshot: held.snapshot, seqs: [...held.seqs], prints: [...held.prints] } : this.fresh(request);
  }

  private fresh(r: Pick<PublishRequest, 'tenant' | 'user' | 'thread' | 'run'>): RunRecord {
    const [snapshot] = initialTransition(agentRunMachine, { tenant: r.tenant, user: r.user, thread: r.thread, run: r.run });
    return { snapshot, seqs: [], prints: [] };
  }

  /** One event against its run's draft record (advanced in place when accepted). */
  private decide(record: RunRecord, request: PublishRequest, key: string): PlannedStep | PublishError {
    const hash = payloadHash(request.payload);
    const next = record.snapshot.context.idx;
    if (request.idx < next) {
      if (record.prints[request.idx] !== fingerprint(request, hash))
        return { code: 'conflicting_retry', field: 'idx', message: `event ${request.idx} of run ${request.run} was published before with different content` };
      return { kind: 'repeat', thread: request.thread, key, idx: request.idx };
    }
    if (request.idx > next) return { code: 'out_of_order', field: 'idx', message: `run ${request.run} expects idx ${next} next, not ${request.idx}` };
    const [after] = transition(agentRunMachine, record.snapshot, requestOf(request));
    const refusal = after.context.refusals.at(-1);
    if (after.context.refusals.length > record.snapshot.context.refusals.length && refusal)
      return { code: 'illegal_order', field: 'type', message: `${request.type} refused: ${refusal.reason}` };
    record.snapshot = after;
    record.seqs.push(0);
    record.prints.push(fingerprint(request, hash));
    const event: AgentEvent = { ...request, hash };
    return { kind: 'append', event, key, snapshot: after };
  }
}
