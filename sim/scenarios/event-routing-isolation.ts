/** Category: event-routing-isolation — to the right user, thread, role and tenant only, at any scale. */
import { gauge, quietAfterUnsubscribe, wasteBounds } from '../checks.ts';
import { delivered, reconnected, resumeRecovered, roleChangeBetweenConnections, roleDowngrade, unsubscribeDuringBurst } from '../coverage.ts';
import { planShape } from '../fault-arbitraries.ts';
import type { Violation } from '../oracle.ts';
import { STRICT, type Scenario, type ScenarioInput } from '../scenario.ts';
import { shape, type UserSpec } from '../workload.ts';
import { inputOf } from './build.ts';

const category = 'event-routing-isolation' as const;

const MILD = planShape({ latencyMs: [2, 20], jitterMs: [0, 10], drop: [0, 0.1], dup: [0, 0.1], reorder: [0, 0.1] });

/** Idle users in the same tenants, subscribed to the same (colliding) thread ids, who must never be notified. */
export function withIdleUsers(input: ScenarioInput, count: number): ScenarioInput {
  const tenants = [...new Set(input.workload.users.map((u) => u.tenant))];
  const idle: UserSpec[] = Array.from({ length: count }, (_, i) => ({ tenant: tenants[i % tenants.length]!, user: `idle${i}`, role: 'admin', tabs: 1, threads: ['th0', 'th1'], runs: [] }));
  return { ...input, workload: { ...input.workload, users: [...input.workload.users, ...idle] } };
}


export const eventRoutingIsolation: Scenario[] = [
  {
    id: 'user_specific_event_routing',
    category,
    does: 'generated multi-user workloads over a mildly faulty network',
    holds: '100% of events reach only their user',
    input: inputOf(shape({ tenants: [1, 3], usersPerTenant: [2, 5] }), MILD),
    settleMs: 10_000,
    thresholds: STRICT,
    sometimes: [delivered],
    runs: 25,
  },
  {
    id: 'thread_specific_event_routing',
    category,
    does: 'several threads per user; tabs subscribe and unsubscribe mid-run',
    holds: 'a thread’s events only on connections subscribed to it; none lost',
    input: inputOf(shape({ threadsPerUser: [2, 4], runsPerUser: [2, 4], tabs: [1, 3], subscriptionChanges: [2, 8], rateHz: [5, 30] }), MILD),
    settleMs: 10_000,
    thresholds: STRICT,
    checks: [quietAfterUnsubscribe, wasteBounds({ retransmitsPerEvent: 1.5, recoveriesPerEvent: 0.1 })],
    sometimes: [unsubscribeDuringBurst],
    runs: 30,
  },
  {
    id: 'event_routing_with_role_based_access',
    category,
    does: 'viewer / analyst / admin, public / internal / restricted events, roles changed mid-session',
    holds: 'policy holds for every event; a downgrade takes effect for the next event',
    // disconnects and refused reconnects (blackholes) put role changes between a tab's connections: a resume must authorise again
    input: inputOf(shape({ roles: ['viewer', 'analyst', 'admin'], sensitivities: ['public', 'internal', 'restricted'], roleChanges: [2, 6], runsPerUser: [2, 3] }), { ...MILD, disconnectEveryMs: [300, 1200], blackholes: [1, 2], blackholeMs: [500, 1500] }),
    settleMs: 10_000,
    thresholds: STRICT,
    sometimes: [roleChangeBetweenConnections, roleDowngrade],
    runs: 30,
  },
  {
    id: 'multi_tenant_event_isolation',
    category,
    does: 'tenants with colliding user, thread and run ids; disconnects force resumes from replay logs',
    holds: '0 cross-tenant deliveries; replay logs tenant-scoped',
    input: inputOf(shape({ tenants: [3, 4], usersPerTenant: [1, 3], collideRunIds: true }), { ...MILD, disconnectEveryMs: [400, 1500] }),
    settleMs: 10_000,
    thresholds: STRICT,
    sometimes: [resumeRecovered, reconnected],
    runs: 25,
  },
  {
    id: 'event_routing_performance_under_load',
    category,
    does: 'the same load with 10 sessions, then with hundreds more idle sessions on the same thread ids',
    holds: 'isolation 100%; routing cost per event grows ≤ 2× (O(subscribers), not O(sessions))',
    // up to 10 sessions with load (fewer when shrunk), then the same with idle sessions up to 200
    input: inputOf(shape({ tenants: [2, 2], usersPerTenant: [1, 5], tabs: [1, 1], threadsPerUser: [1, 2], runsPerUser: [1, 1] }), planShape({ latencyMs: [2, 5] })),
    settleMs: 4_000,
    thresholds: STRICT,
    compare: (input, run): Violation[] => {
      const small = run(input);
      const large = run(withIdleUsers(input, 200 - input.workload.users.length));
      const out: Violation[] = large.failures.map((f) => ({ invariant: 'isolation' as const, t: 0, message: `with 200 sessions: ${f}` }));
      const cost = (o: typeof small) => (gauge(o.result.trace.records, 'routing.notifies') ?? 0) / Math.max(1, o.verdict.metrics.produced);
      const ratio = cost(large) / Math.max(1e-9, cost(small));
      if (ratio > 2) out.push({ invariant: 'latency', t: 0, nominalOnly: true, message: `routing cost per event grew ${ratio.toFixed(2)}× from 10 to 200 sessions (${cost(small).toFixed(2)} → ${cost(large).toFixed(2)} notifications per event)` });
      return out;
    },
    sometimes: [delivered],
    runs: 2,
  },
];
