/** Category: performance-load-handling — rates, users, payload sizes, duration, memory. */
import { buffersFreed, largePayloads, memoryGrowth, noLatencyDrift } from '../checks.ts';
import { bigPayload, delivered, logEvicted, retransmitted } from '../coverage.ts';
import { planShape } from '../fault-arbitraries.ts';
import type { Violation } from '../oracle.ts';
import { STRICT, type RunOutcome, type Scenario, type ScenarioInput } from '../scenario.ts';
import { shape, type UserSpec } from '../workload.ts';
import { inputOf } from './build.ts';

const category = 'performance-load-handling' as const;

/** The same user template, n times (distinct users in one tenant). */
export function withUsers(input: ScenarioInput, n: number): ScenarioInput {
  const template = input.workload.users[0]!;
  const users: UserSpec[] = Array.from({ length: n }, (_, i) => ({
    ...template,
    user: `s${i}`,
    runs: template.runs.map((r) => ({ ...r, id: `${r.id}.s${i}` })),
  }));
  return { ...input, workload: { ...input.workload, users } };
}

/** XState macrosteps per delivered event: a deterministic cost that must stay near-constant. */
const costPerEvent = (o: RunOutcome) => o.result.transitions / Math.max(1, o.verdict.metrics.delivered);

export const USER_STEPS = [1, 20, 200] as const;

export const performanceLoadHandling: Scenario[] = [
  {
    id: 'high_frequency_message_handling',
    category,
    does: '50 events/s per user',
    holds: 'all delivered in order; p99 sim latency < 100 ms',
    input: inputOf(shape({ usersPerTenant: [2, 5], runsPerUser: [2, 3], thinkingPerRun: [20, 40], toolsPerRun: [2, 6], rateHz: [50, 50], earliestStartMs: 500 }), planShape({ latencyMs: [5, 20], jitterMs: [0, 10], dup: [0, 0.05] })),
    settleMs: 5_000,
    thresholds: { ...STRICT, maxP99LatencyMs: 100 },
    sometimes: [delivered],
    runs: 10,
  },
  {
    id: 'concurrent_user_scaling_performance',
    category,
    does: 'the same per-user load with 1, 20 and 200 users',
    holds: 'cost per event near-constant (≤ 2×); delivery and isolation hold',
    input: inputOf(shape({ tenants: [1, 1], usersPerTenant: [1, 1], tabs: [1, 1], threadsPerUser: [1, 1], runsPerUser: [1, 2], rateHz: [10, 50] }), planShape({ latencyMs: [2, 10], jitterMs: [0, 5] })),
    settleMs: 3_000,
    thresholds: STRICT,
    compare: (input, run): Violation[] => {
      const out: Violation[] = [];
      const costs = USER_STEPS.map((n) => {
        const o = run(withUsers(input, n));
        out.push(...o.failures.map((f) => ({ invariant: 'completeness' as const, t: 0, message: `with ${n} users: ${f}` })));
        return costPerEvent(o);
      });
      const ratio = Math.max(...costs) / Math.max(1e-9, Math.min(...costs));
      if (ratio > 2) out.push({ invariant: 'latency', t: 0, nominalOnly: true, message: `cost per event varies ${ratio.toFixed(2)}× across ${USER_STEPS.join('/')} users (${costs.map((c) => c.toFixed(1)).join(' / ')} transitions per event)` });
      return out;
    },
    sometimes: [delivered],
    runs: 1,
  },
  {
    id: 'large_payload_handling_performance',
    category,
    does: '1 KB, 50 KB and 1 MB tool results over a bandwidth-limited link',
    holds: 'integrity (hash) preserved; chunked above the frame limit; latency ∝ size on a bandwidth-limited link',
    input: inputOf(
      shape({ tenants: [1, 1], usersPerTenant: [1, 2], tabs: [1, 1], runsPerUser: [1, 2], toolsPerRun: [1, 2], thinkingPerRun: [0, 1], payloadSizes: [1024, 51_200, 1_048_576], rateHz: [2, 5] }),
      planShape({ latencyMs: [5, 10], bandwidth: [2_000_000, 8_000_000], drop: [0, 0.02] }),
    ),
    settleMs: 15_000,
    thresholds: STRICT,
    checks: [largePayloads],
    sometimes: [bigPayload(10)],
    runs: 10,
  },
  {
    id: 'sustained_load_endurance_performance',
    category,
    does: '30 s of simulated load at 20–50 events/s per user (SIM_RUNS scales the runs; the bench runs longer)',
    holds: 'no latency drift; memory growth < 10% after warm-up',
    input: inputOf(
      shape({ tenants: [1, 1], usersPerTenant: [2, 4], tabs: [1, 1], threadsPerUser: [1, 1], runsPerUser: [1, 1], toolsPerRun: [150, 250], thinkingPerRun: [400, 700], rateHz: [30, 50], earliestStartMs: 500, startWithinMs: 700 }),
      planShape({ latencyMs: [5, 15], jitterMs: [0, 10] }),
    ),
    protocol: { logCapacity: 200 },
    settleMs: 5_000,
    thresholds: STRICT,
    checks: [noLatencyDrift(20), memoryGrowth(0.1)],
    sometimes: [logEvicted],
    runs: 2,
  },
  {
    id: 'websocket_memory_efficiency_optimization',
    category,
    does: 'users connect, take load, then everybody disconnects',
    holds: 'buffers freed after acks; back to baseline (no session, no routing entry) after all leave',
    input: inputOf(shape({ usersPerTenant: [3, 6], tabs: [1, 3] }), planShape({ latencyMs: [2, 15], drop: [0, 0.1], dup: [0, 0.1] })),
    settleMs: 8_000,
    thresholds: STRICT,
    checks: [buffersFreed],
    sometimes: [retransmitted],
    runs: 20,
  },
];
