/** Category: connection-state-management — lifecycle, heartbeat, reconnect, many tabs, timeouts. */
import fc from 'fast-check';
import { backoffBounds, backoffResets, buffersFreed, heartbeatDetection, timeoutsEndInFailure } from '../checks.ts';
import { backoffAfterSuccess, gaveUp, heartbeatTimeout, outlivedMaxAttempts, reconnected, tabClosedMidRun } from '../coverage.ts';
import { planShape } from '../fault-arbitraries.ts';
import type { Violation } from '../oracle.ts';
import { STRICT, type Scenario } from '../scenario.ts';
import { shape } from '../workload.ts';
import { inputOf, perRunStreams, streamsOf } from './build.ts';

const category = 'connection-state-management' as const;

/** Tabs that live for minutes: one slow run of 100–140 events at one a second. */
const LONG_LIVED = shape({ tenants: [1, 1], usersPerTenant: [1, 1], tabs: [1, 2], threadsPerUser: [1, 1], runsPerUser: [1, 1], toolsPerRun: [0, 2], thinkingPerRun: [100, 140], rateHz: [1, 1] });

export const connectionStateManagement: Scenario[] = [
  {
    id: 'connection_lifecycle_management',
    category,
    does: 'tabs connect, open, drop and close for good mid-run',
    holds: 'every state and transition covered (model-based spec); nothing left running after close',
    input: inputOf(shape({ tabs: [1, 3], tabCloses: [1, 3] }), planShape({ latencyMs: [2, 20], jitterMs: [0, 10], disconnectEveryMs: [800, 3000], drop: [0, 0.05] })),
    settleMs: 10_000,
    thresholds: STRICT,
    checks: [buffersFreed],
    sometimes: [tabClosedMidRun, reconnected],
    runs: 25,
  },
  {
    id: 'connection_heartbeat_monitoring',
    category,
    does: 'a peer goes silent: half-open links in either direction',
    holds: 'dead peer detected within H+T on both sides; the client reconnects',
    input: inputOf(shape({ rateHz: [2, 10], thinkingPerRun: [2, 6] }), planShape({ latencyMs: [5, 10], halfOpen: [1, 3], halfOpenMs: [6000, 10_000], healAfterMs: 12_000 })),
    settleMs: 20_000,
    thresholds: STRICT,
    checks: [heartbeatDetection],
    sometimes: [heartbeatTimeout],
    runs: 25,
  },
  {
    id: 'connection_auto_reconnect_mechanism',
    category,
    does: 'random disconnects and partitions',
    holds: 'backoff within bounds; resume with no gap and no duplicate; 100% reconnect while reachable',
    input: fc.oneof(
      { withCrossShrink: true },
      { weight: 5, arbitrary: inputOf(shape({ rateHz: [5, 50], thinkingPerRun: [2, 8] }), planShape({ latencyMs: [2, 20], jitterMs: [0, 10], disconnectEveryMs: [300, 1500], partitions: [0, 2], partitionMs: [500, 3000], windowsAtEdges: true })) },
      // long-lived tabs: a slow agent for minutes of simulated time, a disconnect every second or so
      { weight: 1, arbitrary: inputOf(LONG_LIVED, planShape({ latencyMs: [2, 10], disconnectEveryMs: [600, 1200] })) },
    ),
    settleMs: 12_000,
    thresholds: STRICT,
    checks: [backoffBounds, backoffResets],
    sometimes: [reconnected, backoffAfterSuccess, outlivedMaxAttempts],
    runs: 30,
  },
  {
    id: 'concurrent_connection_management',
    category,
    does: '20+ users with several tabs each; some tabs close mid-run',
    holds: 'each connection independent; closing one changes nothing for another',
    input: inputOf(shape({ tenants: [2, 3], usersPerTenant: [7, 8], tabs: [2, 3], runsPerUser: [1, 1], tabCloses: [1, 3] }), planShape({ latencyMs: [2, 10], jitterMs: [0, 5] })),
    settleMs: 8_000,
    thresholds: STRICT,
    compare: (input, run): Violation[] => {
      const closed = new Set(input.workload.tabCloses.map((c) => `${c.tenant}/${c.user}/${c.tab}`));
      const withCloses = run(input);
      const without = run({ ...input, workload: { ...input.workload, tabCloses: [] } });
      const a = perRunStreams(streamsOf(withCloses.result.trace.records, (c) => !closed.has(c)));
      const b = perRunStreams(streamsOf(without.result.trace.records, (c) => !closed.has(c)));
      const out: Violation[] = [];
      for (const [conn, stream] of b) {
        if (a.get(conn) !== stream) out.push({ invariant: 'isolation', t: 0, conn, message: `${conn} received a different stream when other tabs closed` });
      }
      return out;
    },
    sometimes: [tabClosedMidRun],
    runs: 3,
  },
  {
    id: 'connection_timeout_handling',
    category,
    does: 'the handshake (connect or welcome) or every pong is never answered for some tabs',
    holds: 'timeouts fire, back off, and end in `failed` with a reason after max attempts; never a hang',
    input: inputOf(shape({ usersPerTenant: [2, 3], tabs: [1, 2] }), planShape({ latencyMs: [5, 10], blackholes: [0, 2], blackholeMs: [300, 1500] }), (plan, workload) => {
      const first = workload.users[0]!;
      const second = workload.users[1] ?? first;
      // tab 0 of the first user never connects; tab 0 of the second never hears the server
      const forever = plan.healAt + 30_000;
      return {
        ...plan,
        healAt: forever,
        blackholes: [...plan.blackholes.filter((w) => !w.target.includes(`${first.tenant}/${first.user}`)), { target: `endpoint:${first.tenant}/${first.user}/0`, from: 0, to: forever }],
        halfOpen: second === first ? [] : [{ target: `endpoint:${second.tenant}/${second.user}/0`, dir: 's2c', from: 0, to: forever }],
      };
    }),
    protocol: { clientConfig: { maxAttempts: 8, connectTimeoutMs: 500, authTimeoutMs: 500, backoffCapMs: 400 } },
    settleMs: 5_000,
    thresholds: { ...STRICT, allowFailedClients: true },
    checks: [timeoutsEndInFailure],
    sometimes: [gaveUp],
    runs: 20,
  },
];
