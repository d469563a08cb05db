/**
 * The server's memory of published runs: it makes publishing idempotent and
 * holds producers to the run contract.
 *
 * - Idempotent on (tenant, user, thread, run, idx): a retry of an event
 *   already appended returns the sequence it got then and appends nothing,
 *   so a producer that retries after a timeout never duplicates an event.
 *   A "retry" whose content differs is refused (`conflicting_retry`).
 * - The run contract is the agent-run machine's own (agent-run.ts): each open
 *   run is an agent-run actor the published events are sent to, so the server
 *   accepts exactly the runs the simulated producers emit. (A live actor per
 *   run: XState's pure `transition` builds a throwaway actor per call, eight
 *   times slower.)
 * - Events of a run arrive in idx order; a gap is refused (`out_of_order`)
 *   rather than held, because the producer that skipped will retry it.
 *
 * A batch is admitted whole or not at all: the runs it touched are put back
 * as they were when one event is refused, and `append` is only called once
 * every event passed. Memory is bounded by `maxRuns` (least recently
 * published first out); a completed run keeps only its sequences. A retry
 * into a forgotten run is refused or, for idx 0, starts the run afresh: the
 * idempotency window is the last `maxRuns` runs.
 */
import { createActor, type Actor, type SnapshotFrom } from 'xstate';
import { agentRunMachine, type AgentRunRequest } from './agent-run.ts';
import type { AgentEvent } from './frames.ts';
import { payloadHash } from './hash.ts';
import type { PublishError, PublishRequest } from './publish-request.ts';

type RunActor = Actor<typeof agentRunMachine>;
type RunSnapshot = SnapshotFrom<typeof agentRunMachine>;

interface RunRecord {
  /** The run's contract, while it is open (null once completed: nothing more can be appended). */
  actor: RunActor | null;
  /** By idx: the sequence each event got, and what it was (to tell a retry from a conflict). */
  seqs: number[];
  prints: string[];
}

/** Where a run stood before a batch touched it, to put it back if the batch is refused. */
interface Undo {
  existed: boolean;
  snapshot: RunSnapshot | null;
  length: number;
}

export type Admitted = { ok: true; accepted: { thread: string; seq: number; duplicate: boolean }[] } | { ok: false; index: number; error: PublishError };

export const DEFAULT_MAX_RUNS = 100_000;

const runKey = (r: PublishRequest): string => `${r.tenant}\u0000${r.user}\u0000${r.thread}\u0000${r.run}`;

const fingerprint = (r: Pick<PublishRequest, 'type' | 'toolId' | 'sensitivity'>, hash: string): string => `${r.type}\u0000${r.toolId ?? ''}\u0000${r.sensitivity}\u0000${hash}`;

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

const runInput = (r: PublishRequest) => ({ tenant: r.tenant, user: r.user, thread: r.thread, run: r.run });

type Step = { append: AgentEvent; key: string; idx: number } | { repeat: string; key: string; idx: number };

export class PublishLedger {
  private readonly runs = new Map<string, RunRecord>();

  constructor(readonly maxRuns: number = DEFAULT_MAX_RUNS) {}

  get size(): number {
    return this.runs.size;
  }

  /**
   * Admit a batch: every event checked in order (each as if the earlier ones
   * were appended), then `append` called once with the new ones, in order
   * (one publish: each subscriber hears once per stream), and the sequence it returns
   * for each remembered. Nothing is appended when one is refused.
   */
  admit(requests: readonly PublishRequest[], append: (events: readonly AgentEvent[]) => readonly number[]): Admitted {
    const undo = new Map<string, Undo>();
    const steps: Step[] = [];
    for (const [index, request] of requests.entries()) {
      const key = runKey(request);
      const record = this.recordFor(key, request, undo);
      const step = this.decide(record, request, key);
      if ('code' in step) {
        this.rollBack(undo, requests);
        return { ok: false, index, error: step };
      }
      steps.push(step);
    }
    const fresh = steps.filter((step) => 'append' in step);
    const seqs = fresh.length > 0 ? append(fresh.map((step) => step.append)) : [];
    fresh.forEach((step, k) => (this.runs.get(step.key)!.seqs[step.idx] = seqs[k]!));
    const accepted = steps.map((step) => {
      const record = this.runs.get(step.key)!;
      if ('repeat' in step) return { thread: step.repeat, seq: record.seqs[step.idx]!, duplicate: true };
      return { thread: step.append.thread, seq: record.seqs[step.idx]!, duplicate: false };
    });
    this.settle(undo.keys());
    return { ok: true, accepted };
  }

  private recordFor(key: string, request: PublishRequest, undo: Map<string, Undo>): RunRecord {
    let record = this.runs.get(key);
    if (!undo.has(key)) undo.set(key, { existed: record !== undefined, snapshot: record?.actor?.getSnapshot() ?? null, length: record?.seqs.length ?? 0 });
    if (!record) {
      record = { actor: createActor(agentRunMachine, { input: runInput(request) }).start(), seqs: [], prints: [] };
      this.runs.set(key, record);
    }
    return record;
  }

  /** One event against its run (the run's actor advances when it is accepted). */
  private decide(record: RunRecord, request: PublishRequest, key: string): Step | PublishError {
    const hash = payloadHash(request.payload);
    const next = record.seqs.length;
    if (request.idx < next) {
      if (record.prints[request.idx] !== fingerprint(request, hash))
        return { code: 'conflicting_retry', field: 'idx', message: `event ${request.idx} of run ${request.run} was published before with different content` };
      return { repeat: request.thread, key, idx: request.idx };
    }
    if (request.idx > next) return { code: 'out_of_order', field: 'idx', message: `run ${request.run} expects idx ${next} next, not ${request.idx}` };
    if (!record.actor) return { code: 'illegal_order', field: 'type', message: `${request.type} refused: the run is completed` };
    const refusals = record.actor.getSnapshot().context.refused;
    record.actor.send(requestOf(request));
    const after = record.actor.getSnapshot().context;
    if (after.refused > refusals) return { code: 'illegal_order', field: 'type', message: `${request.type} refused: ${after.lastRefusal!.reason}` };
    record.seqs.push(0); // its sequence is known once appended
    record.prints.push(fingerprint(request, hash));
    return { append: { ...request, hash }, key, idx: request.idx };
  }

  /** Put every run the batch touched back where it stood. */
  private rollBack(undo: Map<string, Undo>, requests: readonly PublishRequest[]): void {
    for (const [key, was] of undo) {
      const record = this.runs.get(key)!;
      record.actor?.stop();
      if (!was.existed) {
        this.runs.delete(key);
        continue;
      }
      const request = requests.find((r) => runKey(r) === key)!;
      record.actor = was.snapshot ? createActor(agentRunMachine, { snapshot: was.snapshot, input: runInput(request) }).start() : null;
      record.seqs.length = was.length;
      record.prints.length = was.length;
    }
  }

  /** Completed runs drop their actor; touched runs become the most recent; the oldest go past `maxRuns`. */
  private settle(keys: Iterable<string>): void {
    for (const key of keys) {
      const record = this.runs.get(key)!;
      if (record.actor?.getSnapshot().hasTag('done')) {
        record.actor.stop();
        record.actor = null;
      }
      this.runs.delete(key);
      this.runs.set(key, record);
    }
    while (this.runs.size > this.maxRuns) {
      const [oldest, record] = this.runs.entries().next().value as [string, RunRecord];
      record.actor?.stop();
      this.runs.delete(oldest);
    }
  }
}
