/** Category: event-delivery-reliability — every event arrives, once, in order, to its owner. */
import fc from 'fast-check';
import { linkUtilisation, wasteBounds } from '../checks.ts';
import { ackLost, delivered, duplicateAfterResume, epochChangeResync, eventFrameDuplicated, eventFrameLost, frameReordered, reconnected, retransmitted } from '../coverage.ts';
import { planShape } from '../fault-arbitraries.ts';
import type { Violation } from '../oracle.ts';
import { STRICT, type Check, type Scenario, type ScenarioInput } from '../scenario.ts';
import { shape } from '../workload.ts';
import { inputOf } from './build.ts';

const category = 'event-delivery-reliability' as const;

const LOSSY = planShape({ latencyMs: [2, 40], jitterMs: [0, 30], drop: [0, 0.2], dup: [0, 0.2] });

/** An event frame lost on its way to a client must be sent again. */
const retransmitsHappen: Check = (records) => {
  const lostEvent = records.some((r) => r.k === 'drop' && r.dir === 's2c' && r.frame.includes('"type":"event"'));
  const retransmissions = records.find((r) => r.k === 'gauge' && r.name === 'wire.retransmissions');
  if (!lostEvent || (retransmissions && retransmissions.k === 'gauge' && retransmissions.value > 0)) return [];
  // under harsher overrides a link may die before its RTO: resume recovers what it lost, so this is nominal only
  return [{ invariant: 'bounded_retransmits', t: 0, nominalOnly: true, message: 'event frames were lost on the wire but nothing was retransmitted' }];
};

/** The bulk load at the seed's rate (50 events/s, no bandwidth limit) must stay under 100 ms p99. */
function atSeedLoad(input: ScenarioInput): ScenarioInput {
  return {
    ...input,
    workload: { ...input.workload, users: input.workload.users.map((u) => ({ ...u, runs: u.runs.map((r) => ({ ...r, intervalMs: 20 })) })) },
    plan: { ...input.plan, bandwidth: undefined, links: [] } as ScenarioInput['plan'],
  };
}

export const eventDeliveryReliability: Scenario[] = [
  {
    id: 'mission_critical_events_delivery_guaranteed',
    category,
    does: 'users × runs emit all five events over a lossy, duplicating, delaying network',
    holds: 'every critical event reaches its app exactly once (100%)',
    // four shapes: a lossy network; the same with disconnects (resumes), with a server restart (resyncs), with a slow tab (backpressure)
    input: fc.oneof(
      { withCrossShrink: true },
      inputOf(shape({ usersPerTenant: [1, 3], runsPerUser: [1, 3] }), LOSSY),
      inputOf(shape({ usersPerTenant: [1, 3], runsPerUser: [1, 3] }), { ...LOSSY, disconnectEveryMs: [300, 1500] }),
      inputOf(shape({ usersPerTenant: [1, 3], runsPerUser: [1, 3] }), { ...LOSSY, restarts: [1, 1], restartDownMs: [100, 1000] }),
      inputOf(shape({ usersPerTenant: [1, 2], runsPerUser: [1, 2], thinkingPerRun: [4, 12], rateHz: [30, 50] }), { ...LOSSY, slowLinks: [1, 1], slowBandwidth: [3_000, 6_000], sendBufferBytes: 2_000 }),
    ),
    // a small window and early coalescing, so backpressure folds thinking events in these short runs
    protocol: { sessionConfig: { windowFrames: 8, coalesceAbove: 3 } },
    settleMs: 10_000,
    thresholds: STRICT,
    checks: [wasteBounds({ retransmitsPerEvent: 1.5, recoveriesPerEvent: 0.1 })],
    sometimes: [eventFrameLost, eventFrameDuplicated, retransmitted, reconnected, duplicateAfterResume, epochChangeResync],
    runs: 40,
  },
  {
    id: 'event_delivery_ordering_consistency',
    category,
    does: 'reorder, jitter and retransmits',
    holds: 'app order = producer order per stream; run contract holds; 0 violations',
    input: inputOf(shape({ toolsPerRun: [1, 4], thinkingPerRun: [2, 8], rateHz: [20, 50] }), planShape({ latencyMs: [2, 20], jitterMs: [10, 60], reorder: [0.1, 0.5], drop: [0, 0.1], dup: [0, 0.1] })),
    settleMs: 10_000,
    thresholds: STRICT,
    sometimes: [frameReordered, retransmitted],
    runs: 30,
  },
  {
    id: 'event_delivery_retry_mechanism',
    category,
    does: 'acks lost (one-way silent windows, drops) or late (jitter)',
    holds: 'retransmits happen, stop at ack, are bounded; no duplicate reaches the app',
    input: inputOf(
      shape({ rateHz: [10, 50], thinkingPerRun: [2, 6] }),
      planShape({ latencyMs: [5, 30], jitterMs: [0, 40], drop: [0.05, 0.2], halfOpen: [1, 3], halfOpenMs: [300, 1500], halfOpenDirs: ['c2s'] }),
    ),
    settleMs: 10_000,
    // one send plus at most maxRetransmits (6) on one link
    thresholds: { ...STRICT, maxSendsPerSeq: 7 },
    checks: [retransmitsHappen, wasteBounds({ retransmitsPerEvent: 3.2, recoveriesPerEvent: 0.1 })],
    sometimes: [retransmitted, ackLost],
    runs: 30,
  },
  {
    id: 'bulk_event_delivery_performance',
    category,
    does: 'bursts of ≥1,000 events per user over a bandwidth-limited link',
    holds: 'all delivered; throughput ≥ 90% of link capacity; p99 < 100 ms at the seed load (50/s)',
    input: inputOf(
      shape({ tenants: [1, 1], usersPerTenant: [1, 2], tabs: [1, 1], threadsPerUser: [1, 1], runsPerUser: [1, 1], toolsPerRun: [500, 520], thinkingPerRun: [0, 0], rateHz: [1000, 1000], payloadBytes: [100, 300], earliestStartMs: 500, startWithinMs: 600 }),
      planShape({ latencyMs: [5, 5], bandwidth: [150_000, 250_000] }),
    ),
    settleMs: 30_000, // a 1,000-event burst on a slow link needs time to drain under heavy loss
    thresholds: STRICT,
    checks: [linkUtilisation(0.9)],
    sometimes: [delivered],
    compare: (input, run): Violation[] => {
      const seedLoad = run(atSeedLoad(input));
      const p99 = seedLoad.verdict.metrics.latencyP99Ms;
      const out: Violation[] = seedLoad.failures.map((f) => ({ invariant: 'latency' as const, t: 0, nominalOnly: true, message: `at the seed load: ${f}` }));
      if (p99 >= 100) out.push({ invariant: 'latency', t: 0, nominalOnly: true, message: `p99 latency ${p99} ms at the seed load (50 events/s), not < 100 ms` });
      return out;
    },
    runs: 2,
  },
  {
    id: 'event_delivery_with_user_context_isolation',
    category,
    does: 'many users share thread and run ids, over a lossy network with disconnects',
    holds: 'no event reaches a non-owner; each user’s stream independent',
    input: inputOf(shape({ tenants: [1, 2], usersPerTenant: [3, 5], collideRunIds: true }), { ...LOSSY, disconnectEveryMs: [500, 2000] }),
    settleMs: 10_000,
    thresholds: STRICT,
    sometimes: [reconnected],
    runs: 25,
  },
];
