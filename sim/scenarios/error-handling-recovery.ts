/** Category: error-handling-recovery — restarts, failing apps, garbage, slow consumers, faults next door. */
import { everyFuzzRefused, poisonDeadLetters, resyncRepeated } from '../checks.ts';
import { appRetried, deadLetter, epochChangeResync, evictedBeforeSent, fuzzRejected, lostResyncRepeated, reconnected, resumeAtWindowEdge, resumeBehindEvictedLog, shed } from '../coverage.ts';
import { planShape } from '../fault-arbitraries.ts';
import type { Violation } from '../oracle.ts';
import { STRICT, type Check, type Scenario } from '../scenario.ts';
import { shape } from '../workload.ts';
import { calmed, inputOf, perRunStreams, streamsOf } from './build.ts';

const category = 'error-handling-recovery' as const;

/** Every shed (1013) is followed by a new link for that client: it came back and resumed. */
const shedThenResumed: Check = (records) => {
  const out: Violation[] = [];
  const links = records.filter((r) => r.k === 'link');
  for (const r of links) {
    if (r.k !== 'link' || r.event !== 'close' || r.code !== 1013) continue;
    const client = r.link.split('#')[0]!;
    const back = links.some((o) => o.k === 'link' && o.event === 'open' && o.t > r.t && o.link.startsWith(`${client}#`));
    if (!back) out.push({ invariant: 'reconnect', t: r.t, conn: client, message: `${client} was shed with 1013 and never came back` });
  }
  return out;
};

export const errorHandlingRecovery: Scenario[] = [
  {
    id: 'connection_failure_recovery',
    category,
    does: 'server restarts (the replay logs are lost) and partitions',
    holds: 'clients recover and resume; loss beyond the replay window is an explicit resync, never silent',
    // a small replay log: partitions and restarts overflow it, so resumes land before, at and after its start
    input: inputOf(
      shape({ rateHz: [10, 30], thinkingPerRun: [8, 20] }),
      planShape({ latencyMs: [2, 15], drop: [0, 0.05], disconnectEveryMs: [200, 1000], restarts: [1, 2], restartDownMs: [200, 2000], partitions: [1, 2], partitionMs: [500, 6000] }),
    ),
    protocol: { logCapacity: 3 },
    settleMs: 12_000,
    thresholds: STRICT,
    checks: [resyncRepeated],
    sometimes: [epochChangeResync, resumeBehindEvictedLog, evictedBeforeSent, lostResyncRepeated, resumeAtWindowEdge(-1), resumeAtWindowEdge(0), resumeAtWindowEdge(1)],
    runs: 30,
  },
  {
    id: 'message_delivery_failure_retry',
    category,
    does: 'app handlers throw (some always, on poison events), frames are lost, a small send buffer pushes back',
    holds: 'retried until delivered; a poison event dead-letters with a clear error and the stream goes on',
    input: inputOf(shape({ appFailures: true, runsPerUser: [1, 3], thinkingPerRun: [2, 6] }), planShape({ latencyMs: [2, 15], drop: [0, 0.1], bandwidth: [50_000, 200_000], sendBufferBytes: 2_000 })),
    settleMs: 10_000,
    thresholds: STRICT,
    checks: [poisonDeadLetters],
    sometimes: [deadLetter, appRetried],
    runs: 30,
  },
  {
    id: 'malformed_message_handling',
    category,
    does: 'a rogue connection sends ≥2,000 fuzzed frames per run; frames are corrupted both ways',
    holds: 'each rejected with a typed error and counted; no crash; others unaffected',
    input: inputOf(shape({ fuzzFrames: [2000, 2400] }), planShape({ latencyMs: [2, 10], corrupt: [0.02, 0.1] })),
    settleMs: 10_000,
    thresholds: STRICT,
    checks: [everyFuzzRefused],
    sometimes: [fuzzRejected],
    runs: 6,
  },
  {
    id: 'resource_exhaustion_recovery',
    category,
    does: 'a slow consumer (a few KB/s) under a heavy stream: its outbox runs over the cap',
    holds: 'critical events never dropped; memory bounded by the caps; shed with 1013 and resume',
    input: inputOf(
      shape({ tenants: [1, 1], usersPerTenant: [1, 3], tabs: [1, 1], threadsPerUser: [1, 1], runsPerUser: [1, 2], toolsPerRun: [1, 4], thinkingPerRun: [4, 40], rateHz: [30, 50], payloadBytes: [400, 800] }),
      planShape({ latencyMs: [5, 10], slowLinks: [1, 1], slowBandwidth: [4_000, 8_000], sendBufferBytes: 4_000, targets: 'first-user' }),
    ),
    protocol: { sessionConfig: { coalesceAbove: 4, shedAbove: 24, windowFrames: 8 } },
    settleMs: 30_000,
    thresholds: STRICT,
    checks: [shedThenResumed],
    sometimes: [shed],
    runs: 20,
  },
  {
    id: 'concurrent_error_isolation',
    category,
    does: 'partitions, half-open links and blackholes on user A only',
    holds: 'user B’s delivered stream identical with and without A’s faults',
    input: inputOf(
      shape({ tenants: [1, 2], usersPerTenant: [2, 3] }),
      planShape({ latencyMs: [5, 5], partitions: [1, 2], halfOpen: [0, 2], blackholes: [0, 1], targets: 'first-user' }),
    ),
    settleMs: 12_000,
    thresholds: STRICT,
    compare: (input, run): Violation[] => {
      const a = input.workload.users[0]!;
      const isA = (conn: string) => conn.startsWith(`${a.tenant}/${a.user}/`);
      const faulty = run(input);
      const calm = run({ ...calmed(input), workload: { ...input.workload, appFailures: [] } });
      const withFaults = perRunStreams(streamsOf(faulty.result.trace.records, (c) => !isA(c)));
      const without = perRunStreams(streamsOf(calm.result.trace.records, (c) => !isA(c)));
      const out: Violation[] = [];
      for (const [conn, stream] of without) {
        if (withFaults.get(conn) !== stream) out.push({ invariant: 'isolation', t: 0, conn, message: `${conn} received a different stream when ${a.tenant}/${a.user} had faults` });
      }
      return out;
    },
    sometimes: [reconnected],
    runs: 8,
  },
];
