/**
 * Category: cluster — many nodes on one broker (DESIGN.md, "Many nodes"; the
 * world is sim/cluster-world.ts). The plan's `cluster` field says how many
 * nodes, what the broker does wrong and which node crashes when.
 */
import fc from 'fast-check';
import type { BrokerFault } from '../broker-faults.ts';
import type { ClusterPlan, NodeCrash } from '../fault-plan.ts';
import { planShape } from '../fault-arbitraries.ts';
import type { Violation } from '../oracle.ts';
import type { TraceRecord } from '../records.ts';
import { STRICT, type Check, type Scenario, type ScenarioInput } from '../scenario.ts';
import { shape } from '../workload.ts';
import { inputOf } from './build.ts';

const category = 'cluster' as const;
const NODES = 3;
const BROKER_LATENCY = { minMs: 1, maxMs: 4 };

/** The scenario's workload on a calm-ish network, with the cluster part drawn by `cluster`. */
function clusterInput(cluster: fc.Arbitrary<ClusterPlan>): fc.Arbitrary<ScenarioInput> {
  const base = inputOf(shape({ rateHz: [5, 20], thinkingPerRun: [3, 8], tabs: [1, 2] }), planShape({ latencyMs: [2, 10], jitterMs: [0, 5] }));
  return base.chain((input) => cluster.map((c) => ({ ...input, plan: { ...input.plan, cluster: c } })));
}

const plan = (broker: BrokerFault[], crashes: NodeCrash[]): ClusterPlan => ({ nodes: NODES, brokerLatency: BROKER_LATENCY, broker, crashes });
const crashArb = (at: [number, number]): fc.Arbitrary<NodeCrash> =>
  fc.record({ node: fc.integer({ min: 0, max: NODES - 1 }), at: fc.integer({ min: at[0], max: at[1] }), downMs: fc.integer({ min: 200, max: 1500 }) });

/** History lives in the broker: a node's death or restart never needs a resync. */
export const noResync: Check = (records) =>
  records
    .filter((r): r is Extract<TraceRecord, { k: 'resync' }> => r.k === 'resync')
    .map((r) => ({ invariant: 'completeness', t: r.t, conn: r.conn, message: `${r.conn} got a ${r.reason} resync on ${r.thread}: the history was in the broker` }));

/** Every stream a client had received from before the broker lost its data gets an explicit epoch_changed resync. */
export const epochChangedAfterLoss: Check = (records) => {
  const lostAt = records.find((r) => r.k === 'fault' && r.fault === 'broker:restart' && r.detail === 'empty')?.t;
  if (lostAt === undefined) return [];
  const affected = new Set<string>();
  const told = new Set<string>();
  for (const r of records) {
    if (r.k === 'app' && r.t < lostAt) affected.add(`${r.conn}|${r.thread}`);
    if (r.k === 'resync' && r.t >= lostAt && r.reason === 'epoch_changed') told.add(`${r.conn}|${r.thread}`);
  }
  const out: Violation[] = [];
  for (const stream of affected) {
    if (!told.has(stream)) out.push({ invariant: 'explicit_failure', t: lostAt, conn: stream.split('|')[0]!, message: `${stream.replace('|', ' on ')}: the broker lost its data and no epoch_changed resync came` });
  }
  return out;
};

export const cluster: Scenario[] = [
  {
    id: 'node_failover_resume',
    category,
    does: 'a node crashes mid-stream; its clients reconnect to other nodes',
    holds: 'every critical event exactly once, in order; no resync needed (history is in the broker)',
    input: clusterInput(crashArb([200, 1200]).map((c) => plan([], [c]))),
    settleMs: 12_000,
    thresholds: STRICT,
    checks: [noResync],
    runs: 12,
  },
  {
    id: 'broker_partition_recovery',
    category,
    does: 'one node loses the broker for a while; publishers keep publishing on other nodes',
    holds: "events published during the partition reach that node's clients after it heals (or after they move); nothing silent",
    input: clusterInput(
      fc.record({ node: fc.integer({ min: 0, max: NODES - 1 }), at: fc.integer({ min: 100, max: 800 }), forMs: fc.integer({ min: 300, max: 2500 }) }).map((p) => plan([{ kind: 'partition', node: `n${p.node}`, at: p.at, forMs: p.forMs }], [])),
    ),
    settleMs: 12_000,
    thresholds: STRICT,
    checks: [noResync],
    runs: 12,
  },
  {
    id: 'rolling_restart_no_loss',
    category,
    does: 'every node is restarted in turn under load',
    holds: 'no loss, no duplicate, no resync',
    input: clusterInput(
      fc.record({ first: fc.integer({ min: 100, max: 400 }), gap: fc.integer({ min: 300, max: 800 }), downMs: fc.integer({ min: 100, max: 400 }) }).map((r) =>
        // one node down at a time: the next goes once the previous is back
        plan([], Array.from({ length: NODES }, (_, node) => ({ node, at: r.first + node * (r.gap + r.downMs), downMs: r.downMs }))),
      ),
    ),
    settleMs: 12_000,
    thresholds: STRICT,
    checks: [noResync],
    runs: 10,
  },
  {
    id: 'broker_data_loss_explicit_resync',
    category,
    does: 'the broker restarts empty',
    holds: 'every affected stream gets an explicit epoch_changed resync; no silent loss, no duplicate',
    input: clusterInput(fc.record({ at: fc.integer({ min: 300, max: 1200 }), forMs: fc.integer({ min: 50, max: 800 }) }).map((r) => plan([{ kind: 'restart', at: r.at, forMs: r.forMs, keepData: false }], []))),
    settleMs: 12_000,
    thresholds: STRICT,
    checks: [epochChangedAfterLoss],
    runs: 12,
  },
];
