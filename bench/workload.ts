/**
 * The real-socket workload shared by wsim, raw `ws` and Socket.IO: one
 * stream of mission-critical events (runs of agent_started, tool_executing,
 * tool_completed, agent_completed — no agent_thinking, which wsim may
 * coalesce under a burst and a peer would not), and the event frame each
 * becomes on the wire, so every contender carries the same bytes.
 */
import type { AgentEvent, EventType } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import { encode, PROTOCOL_VERSION } from '../machines/protocol.ts';

const CRITICAL: EventType[] = ['agent_started', 'tool_executing', 'tool_completed', 'agent_completed'];
export const PAYLOAD_BYTES = 128;

/** Event k of a user's stream (run k/4, position k%4), 128-byte payload. */
export function criticalEvent(tenant: string, user: string, thread: string, k: number): AgentEvent {
  const run = `r${Math.floor(k / CRITICAL.length)}`;
  const idx = k % CRITICAL.length;
  const type = CRITICAL[idx]!;
  const payload = `${user}:${run}:${idx}:`.padEnd(PAYLOAD_BYTES, 'x');
  return {
    tenant, user, thread, run, idx, type, sensitivity: 'public', payload, hash: payloadHash(payload),
    ...(type === 'tool_executing' || type === 'tool_completed' ? { toolId: `${run}-tool` } : {}),
  };
}

/** Position of an event in its stream (inverse of criticalEvent). */
export const indexOf = (event: { run: string; idx: number }): number => Number(event.run.slice(1)) * CRITICAL.length + event.idx;

/** The event frame of stream sequence k + 1, as wsim puts it on the wire. */
export const eventFrameText = (event: AgentEvent, k: number): string => encode({ v: PROTOCOL_VERSION, type: 'event', thread: event.thread, seq: k + 1, event });

export const streamOf = (count: number, user = 'u0'): AgentEvent[] => Array.from({ length: count }, (_, k) => criticalEvent('t0', user, 'th0', k));

/** Publish `count` items `batch` at a time, one batch per setImmediate (the producer side of every contender). */
export function pace(count: number, batch: number, publish: (k: number) => void): Promise<void> {
  return new Promise((resolve) => {
    let k = 0;
    const step = () => {
      const end = Math.min(count, k + batch);
      for (; k < end; k++) publish(k);
      if (k < count) setImmediate(step);
      else resolve();
    };
    step();
  });
}
