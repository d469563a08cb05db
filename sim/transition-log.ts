/**
 * State transitions into the trace, from XState's inspection stream: one
 * `transition` record each time an actor's state value changes (the timeline
 * draws them), and a count of every macrostep (a benchmark's figure).
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { Trace } from './trace.ts';

/** Flatten a state value to one readable string ('open(heartbeat.waiting,acks.idle)'). */
function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const parts: string[] = [];
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const sub = stateName(inner);
    parts.push(typeof inner === 'string' ? `${key}.${sub}` : `${key}(${sub})`);
  }
  return parts.join(',');
}

export class TransitionLog {
  /** XState macrosteps (snapshots) across all actors. */
  count = 0;
  private readonly lastState = new Map<string, string>();

  /** `write: false` counts without writing (benchmarks). */
  constructor(
    private readonly trace: Trace,
    private readonly now: () => number,
    private readonly write: boolean,
  ) {}

  observe(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    this.count++;
    if (!this.write) return;
    const snapshot = event.snapshot as { value?: unknown; status?: string };
    if (snapshot.value === undefined) return;
    const actor = (event.actorRef as AnyActorRef).id;
    const to = stateName(snapshot.value);
    const from = this.lastState.get(actor) ?? '';
    if (from === to) return;
    this.lastState.set(actor, to);
    this.trace.append({ t: this.now(), k: 'transition', actor, from, to, event: event.event.type });
  }
}
