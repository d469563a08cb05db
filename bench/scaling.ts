/**
 * Scaling: what one routed event costs with 10, 100 and 1,000 sessions.
 *
 * The headline (`costPerEventRatio`) isolates routing: a simulated world with
 * 10 streaming sessions and N − 10 idle ones of the same tenant subscribed to
 * the same (colliding) thread id; the bench publishes one event per active
 * stream per 20 ms of simulated time and times only the hub's PUBLISH
 * handling — log append, subscriber lookup, NOTIFY to the subscribed
 * session(s) and their flush (an idle outbox sends at once, since issue 15;
 * before, it only scheduled it), all synchronous inside `hub.send` —
 * while everything else (delivery, acks, every idle client's heartbeat) runs
 * untimed in between. Cost = wall µs per published event.
 *
 * Alongside, the whole world: `runWorld` of 10 users at 50 events/s plus the
 * idle users (`withIdleUsers`), wall µs per delivered event. That one also
 * pays every idle session's heartbeat, so it grows with sessions by design.
 */
import type { AgentEvent, EventType } from '../machines/frames.ts';
import { payloadHash } from '../machines/hash.ts';
import { CALM_PLAN } from '../sim/fault-plan.ts';
import { withIdleUsers } from '../sim/scenarios/event-routing-isolation.ts';
import { runWorld } from '../sim/run-driver.ts';
import { sustainedInput, sustainedScenario } from './sim-speed.ts';
import { emptyWorkload, idleUsers, openWorld } from './sim-world.ts';
import { log, round, roundSpread, spread, type Spread } from './stats.ts';

export const SESSIONS = [10, 100, 1000] as const;
const ACTIVE = 10;
const FIVE: EventType[] = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed'];

function eventOf(user: string, k: number): AgentEvent {
  const run = `r${Math.floor(k / 5)}`;
  const idx = k % 5;
  const type = FIVE[idx]!;
  const payload = `${user}:${run}:${idx}:`.padEnd(64, 'x');
  return {
    tenant: 't0', user, thread: 'th0', run, idx, type, sensitivity: 'public', payload, hash: payloadHash(payload),
    ...(type === 'tool_executing' || type === 'tool_completed' ? { toolId: `${run}-tool` } : {}),
  };
}

/** µs of hub PUBLISH handling per event, with `sessions` connected sessions. */
export function routingCost(sessions: number, rounds: number): { usPerEvent: number; delivered: number; published: number } {
  const active = Array.from({ length: ACTIVE }, (_, i) => ({ tenant: 't0', user: `s${i}`, role: 'admin' as const, tabs: 1, threads: ['th0'], runs: [] }));
  const users = [...active, ...idleUsers(sessions - ACTIVE, 't0', ['th0'])];
  const { world, scheduler } = openWorld({ scenario: 'scaling', seed: 7, workload: emptyWorkload(users), plan: { ...CALM_PLAN, healAt: 0 }, settleMs: 0 });
  scheduler.runUntil(1500); // everyone connected and subscribed
  const open = world.gauges.sessions().subscribed;
  if (open !== sessions) throw new Error(`scaling: ${open} of ${sessions} sessions subscribed after 1.5 s`);
  const warm = Math.min(20, rounds);
  let timed = 0;
  let published = 0;
  for (let r = 0; r < warm + rounds; r++) {
    const batch = active.map((u) => eventOf(u.user, r));
    const hub = world.currentHub;
    const started = performance.now();
    for (const event of batch) hub.send({ type: 'PUBLISH', event });
    const elapsed = performance.now() - started;
    if (r >= warm) {
      timed += elapsed;
      published += batch.length;
    }
    scheduler.runUntil(scheduler.now + 20);
  }
  scheduler.runUntil(scheduler.now + 500);
  const delivered = world.trace.count('app');
  world.shutdown();
  return { usPerEvent: (timed * 1000) / published, delivered, published: (warm + rounds) * ACTIVE };
}

/** Wall µs per delivered event of the whole world: 10 users streaming, the rest idle. */
export function worldCost(sessions: number, seconds: number): { usPerEvent: number; delivered: number } {
  const scenario = sustainedScenario();
  const input = withIdleUsers(sustainedInput(seconds, ACTIVE), sessions - ACTIVE);
  const started = performance.now();
  const result = runWorld({ scenario: scenario.id, seed: input.worldSeed, workload: input.workload, plan: input.plan, protocol: scenario.protocol ?? {}, settleMs: 1000, keepTrace: false, traceTransitions: false });
  const wall = performance.now() - started;
  const delivered = result.trace.count('app');
  return { usPerEvent: (wall * 1000) / Math.max(1, delivered), delivered };
}

export interface ScalingFigures {
  sessions: number[];
  costPerEventRatio: number;
}

export interface ScalingDetail {
  method: string;
  routingUsPerEvent: Record<string, Spread>;
  world: { method: string; usPerDeliveredEvent: Record<string, Spread>; costPerEventRatio: number };
  delivered: Record<string, number>;
}

export function measureScaling(options: { rounds: number; worldSeconds: number; reps: number }): { figures: ScalingFigures; detail: ScalingDetail } {
  const routing = new Map<number, number[]>(SESSIONS.map((n) => [n, []]));
  const whole = new Map<number, number[]>(SESSIONS.map((n) => [n, []]));
  const delivered: Record<string, number> = {};
  for (let rep = 0; rep < options.reps; rep++) {
    for (const n of SESSIONS) {
      const r = routingCost(n, options.rounds);
      if (r.delivered < r.published) log(`scaling: WARNING ${r.delivered}/${r.published} delivered with ${n} sessions`);
      routing.get(n)!.push(r.usPerEvent);
      const w = worldCost(n, options.worldSeconds);
      whole.get(n)!.push(w.usPerEvent);
      delivered[String(n)] = w.delivered;
      log(`scaling: rep ${rep + 1}/${options.reps}, ${n} sessions: routing ${r.usPerEvent.toFixed(2)} µs/event (${r.delivered}/${r.published} delivered), whole world ${w.usPerEvent.toFixed(1)} µs/delivered event`);
    }
  }
  const med = (m: Map<number, number[]>, n: number) => spread(m.get(n)!).median;
  const table = (m: Map<number, number[]>) => Object.fromEntries(SESSIONS.map((n) => [String(n), roundSpread(spread(m.get(n)!))]));
  return {
    figures: { sessions: [...SESSIONS], costPerEventRatio: round(med(routing, 1000) / med(routing, 10)) },
    detail: {
      method: 'hub PUBLISH handling (log append, subscriber lookup, NOTIFY and flush of the subscribed session), wall µs per published event, 10 streaming sessions + idle sessions of the same tenant on the same thread id',
      routingUsPerEvent: table(routing),
      world: {
        method: `runWorld, 10 users × 50 events/s × ${options.worldSeconds} s plus idle users (withIdleUsers), wall µs per delivered event (includes every idle session's heartbeats)`,
        usPerDeliveredEvent: table(whole),
        costPerEventRatio: round(med(whole, 1000) / med(whole, 10)),
      },
      delivered,
    },
  };
}
