/**
 * A scenario is data: a workload arbitrary, a fault-plan arbitrary, the
 * protocol's configuration, the invariants to check and the thresholds of
 * DESIGN.md's "must hold" column. The specs, `wsim run`, `wsim replay`, the
 * swarm and the benchmarks all run scenarios through this module and nothing
 * else, so there is one definition of each scenario.
 *
 * A run is a pure function of its input ({ workload, plan, worldSeed }); the
 * input is drawn by fast-check from (seed, path), so a failing property's
 * seed and path replay the exact shrunk counterexample.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { DEFAULT_CLIENT_CONFIG, type ClientConfig } from '../machines/client-connection.ts';
import { DEFAULT_SESSION_CONFIG, type SessionConfig } from '../machines/server-session.ts';
import { reachedIn, type Sometimes } from './coverage.ts';
import { applyOverrides, type FaultOverrides } from './fault-arbitraries.ts';
import type { FaultPlan } from './fault-plan.ts';
import { judge, type Metrics, type Verdict, type Violation } from './oracle.ts';
import type { TraceRecord } from './records.ts';
import { runClusterWorld } from './cluster-world.ts';
import { runWorld } from './run-driver.ts';
import type { ProtocolVariant, WorldResult } from './world.ts';
import type { Workload } from './workload.ts';

export const CATEGORIES = [
  'event-delivery-reliability',
  'connection-state-management',
  'event-routing-isolation',
  'error-handling-recovery',
  'performance-load-handling',
  'hostile-clients',
  'cluster',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface ScenarioInput {
  workload: Workload;
  plan: FaultPlan;
  /** Seed of the world's own randomness (network draws, jitter, app failures). */
  worldSeed: number;
}

export interface Thresholds {
  minDeliveryRate: number;
  maxDuplicates: number;
  maxOrderViolations: number;
  maxLeaks: number;
  maxP99LatencyMs?: number | undefined;
  /** Retransmissions must stop: no sequence goes out more often than this on one link. */
  maxSendsPerSeq?: number;
  /** The scenario's faults must make the protocol retransmit at least this often (over all runs). */
  minRetransmissions?: number;
  /** Clients may end in `failed` (timeouts, refused auth) — judged by a scenario check instead. */
  allowFailedClients?: boolean;
}

/** The hub's replay-log capacity when a scenario sets none (machines/hub.ts). */
const DEFAULT_LOG_CAPACITY = 10_000;

export const STRICT: Thresholds = { minDeliveryRate: 1, maxDuplicates: 0, maxOrderViolations: 0, maxLeaks: 0 };

/** The effective configuration a check may need (heartbeat bounds, backoff cap, ...). */
export interface CheckContext {
  input: ScenarioInput;
  client: ClientConfig;
  session: SessionConfig;
  /** Entries each replay log keeps. */
  logCapacity: number;
  metrics: Metrics;
  result: WorldResult;
}

/** A scenario-specific invariant, judged from the trace (and the plan that was injected). */
export type Check = (records: readonly TraceRecord[], ctx: CheckContext) => Violation[];

export interface Scenario {
  id: string;
  category: Category;
  /** What the world does. */
  does: string;
  /** What must hold. */
  holds: string;
  input: fc.Arbitrary<ScenarioInput>;
  protocol?: ProtocolVariant;
  settleMs: number;
  thresholds: Thresholds;
  checks?: Check[];
  /** Conditions the scenario exists to reach ("sometimes"): each must be reached in some default run. */
  sometimes?: Sometimes[];
  /** Default property runs (the CLI and the specs may scale them: cli/env.ts). */
  runs: number;
  /**
   * Scenarios that compare worlds (isolation under faults, cost as sessions grow)
   * judge a run by running more than one world; they return extra violations.
   */
  compare?: (input: ScenarioInput, run: (input: ScenarioInput) => RunOutcome) => Violation[];
}

export interface RunOptions {
  seed: number;
  path?: string;
  /** A broken or tuned protocol laid over the scenario's own configuration. */
  variant?: ProtocolVariant;
  overrides?: FaultOverrides;
  /**
   * The plan is not the scenario's own though no overrides are given (a swarm's
   * transformed plan): judged as under overrides, performance figures reported only.
   */
  offPlan?: boolean;
  keepTrace?: boolean;
  traceTransitions?: boolean;
  inspect?: Parameters<typeof runWorld>[0]['inspect'];
}

export interface RunOutcome {
  scenario: string;
  seed: number;
  path: string;
  input: ScenarioInput;
  result: WorldResult;
  verdict: Verdict;
  violations: Violation[];
  /** Threshold and invariant failures, one line each. */
  failures: string[];
  passed: boolean;
  traceHash: string;
  /** The scenario's declared conditions this run reached. */
  reached: string[];
}

export function mergeProtocol(base: ProtocolVariant | undefined, over: ProtocolVariant | undefined): ProtocolVariant {
  return {
    ...base,
    ...over,
    clientConfig: { ...base?.clientConfig, ...over?.clientConfig },
    sessionConfig: { ...base?.sessionConfig, ...over?.sessionConfig },
  };
}

/** Threshold failures of one run's metrics. */
export function thresholdFailures(t: Thresholds, m: Metrics): string[] {
  const out: string[] = [];
  if (m.deliveryRate < t.minDeliveryRate) out.push(`delivery rate ${m.deliveryRate.toFixed(4)} < ${t.minDeliveryRate} (${m.lost} lost)`);
  if (m.duplicatesToApp > t.maxDuplicates) out.push(`${m.duplicatesToApp} duplicates reached an app (max ${t.maxDuplicates})`);
  if (m.orderViolations > t.maxOrderViolations) out.push(`${m.orderViolations} order violations (max ${t.maxOrderViolations})`);
  if (m.leaks > t.maxLeaks) out.push(`${m.leaks} leaks (timers, actors or links left after close)`);
  if (t.maxP99LatencyMs != null && m.latencyP99Ms >= t.maxP99LatencyMs) out.push(`p99 latency ${m.latencyP99Ms} ms ≥ ${t.maxP99LatencyMs} ms`);
  if (t.maxSendsPerSeq !== undefined && m.maxSendsPerSeq > t.maxSendsPerSeq) out.push(`a sequence went out ${m.maxSendsPerSeq} times on one link (max ${t.maxSendsPerSeq})`);
  return out;
}

/** Run one input of a scenario and judge it. */
export function runInput(scenario: Scenario, input: ScenarioInput, options: RunOptions): RunOutcome {
  const protocol = mergeProtocol(scenario.protocol, options.variant);
  const plan = options.overrides ? applyOverrides(input.plan, options.overrides, input.workload) : input.plan;
  const effective = { ...input, plan };
  // a plan with a cluster runs N nodes on a simulated broker
  const result = (plan.cluster ? runClusterWorld : runWorld)({
    scenario: scenario.id,
    seed: input.worldSeed,
    ...(options.path !== undefined ? { path: options.path } : {}),
    workload: input.workload,
    plan,
    protocol,
    settleMs: scenario.settleMs,
    keepTrace: options.keepTrace ?? true,
    traceTransitions: options.traceTransitions ?? true,
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  return judgeRun(scenario, effective, result, { ...options, compare: true });
}

/**
 * Judge a finished world: the oracle, the scenario's checks (and its compared
 * worlds, in simulation) and its thresholds, by the scenario's own contract.
 */
export function judgeRun(scenario: Scenario, effective: ScenarioInput, result: WorldResult, options: RunOptions & { compare: boolean }): RunOutcome {
  const records = result.trace.records;
  // the oracle and the checks judge by the scenario's contract, never by the variant under test
  const contract = scenario.protocol ?? {};
  const verdict = judge(records, contract.policy ? { policy: contract.policy } : {});
  const ctx: CheckContext = {
    input: effective,
    client: { ...DEFAULT_CLIENT_CONFIG, ...contract.clientConfig },
    session: { ...DEFAULT_SESSION_CONFIG, ...contract.sessionConfig },
    logCapacity: contract.logCapacity ?? DEFAULT_LOG_CAPACITY,
    metrics: verdict.metrics,
    result,
  };
  const violations = [...verdict.violations.filter((v) => !(scenario.thresholds.allowFailedClients && v.invariant === 'reconnect'))];
  for (const check of scenario.checks ?? []) violations.push(...check(records, ctx));
  if (scenario.compare && options.compare) violations.push(...scenario.compare(effective, (other) => runInput({ ...scenario, compare: undefined }, other, { ...options, path: options.path ?? '0' })));
  // Fault overrides (or a swarm's transform) make a plan other than the scenario's: safety and
  // delivery must still hold, but latency and waste then measure the faults, not the protocol.
  const harsher = options.overrides !== undefined || options.offPlan === true;
  const thresholds = harsher ? { ...scenario.thresholds, maxP99LatencyMs: undefined } : scenario.thresholds;
  const judged = harsher ? violations.filter((v) => !v.nominalOnly) : violations;
  // a runaway sender stopped the run: what went missing after it follows from it, so it is named first
  const line = (v: Violation) => `${v.invariant}: ${v.message}`;
  const failures = [
    ...judged.filter((v) => v.invariant === 'runaway').map(line),
    ...thresholdFailures(thresholds, verdict.metrics),
    ...judged.filter((v) => v.invariant !== 'runaway' && v.invariant !== 'completeness' && v.invariant !== 'exactly_once' && v.invariant !== 'order').map(line),
  ];
  // a lost, duplicated or reordered event is also a threshold failure; name the first one
  const first = violations.find((v) => v.invariant === 'completeness' || v.invariant === 'exactly_once' || v.invariant === 'order');
  if (first && failures.length > 0) failures.push(`first ${first.invariant} violation: ${first.message}`);
  return {
    scenario: scenario.id,
    seed: options.seed,
    path: options.path ?? '0',
    input: effective,
    result,
    verdict,
    violations,
    failures,
    passed: failures.length === 0,
    traceHash: result.trace.hash(),
    reached: reachedIn(scenario.sometimes ?? [], records, ctx),
  };
}

/** The input fast-check draws at (seed, path): path "i" is the i-th run, "i:j:k" a shrink of it. */
export function resolveInput(scenario: Scenario, seed: number, path: string): ScenarioInput | undefined {
  let found: ScenarioInput | undefined;
  fc.check(
    fc.property(scenario.input, (input) => {
      found = input;
      return false;
    }),
    { seed, path, numRuns: 1, endOnFailure: true },
  );
  return found;
}

export function runAt(scenario: Scenario, options: RunOptions & { path: string }): RunOutcome | undefined {
  const input = resolveInput(scenario, options.seed, options.path);
  return input ? runInput(scenario, input, options) : undefined;
}

export interface ScenarioReport {
  scenario: Scenario;
  seed: number;
  runs: number;
  passed: boolean;
  outcomes: RunOutcome[];
  /** The first failing run: its path replays it. */
  failure?: RunOutcome;
  traceHash: string;
}

/**
 * `runs` runs of a scenario from one seed (paths 0..runs-1), stopping at the
 * first failure. The report's trace hash covers every run's hash in order.
 */
export function runScenario(
  scenario: Scenario,
  options: RunOptions & { runs: number; onStart?: (path: string, input: ScenarioInput) => void; onRun?: (o: RunOutcome) => void },
): ScenarioReport {
  const outcomes: RunOutcome[] = [];
  let index = 0;
  fc.check(
    fc.property(scenario.input, (input) => {
      options.onStart?.(String(index), input);
      const outcome = runInput(scenario, input, { ...options, path: String(index++) });
      outcomes.push(outcome);
      options.onRun?.(outcome);
      return outcome.passed;
    }),
    { seed: options.seed, numRuns: options.runs, endOnFailure: true },
  );
  return reportOf(scenario, options.seed, outcomes);
}

/** A scenario's runs as one report: the first failure, and one hash over every run's hash in order (a single run's own). */
export function reportOf(scenario: Scenario, seed: number, outcomes: RunOutcome[]): ScenarioReport {
  const failure = outcomes.find((o) => !o.passed);
  const hash = createHash('sha256');
  for (const o of outcomes) hash.update(o.traceHash);
  return { scenario, seed, runs: outcomes.length, passed: !failure, outcomes, ...(failure ? { failure } : {}), traceHash: outcomes.length === 1 ? outcomes[0]!.traceHash : hash.digest('hex') };
}
