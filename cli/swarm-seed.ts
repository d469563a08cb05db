/**
 * One seed of the swarm, as TigerBeetle's VOPR does it: the seed picks a
 * scenario, fast-check draws that scenario's own input at the seed (path 0),
 * and then the seed draws its own fault vector over that input — which kinds
 * of fault are on, how hard — so a swarm explores corners of the fault space
 * that a scenario's fixed shape never reaches. The scenario stays the single
 * definition: its workload, protocol, thresholds and checks are untouched;
 * only the plan is transformed, and `runInput` judges it (safety throughout,
 * liveness after the plan heals).
 *
 * This module is shared by the CLI (in-process) and the worker threads; it
 * must stay free of anything a worker should not load (commander, progress).
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describeFaultPlan, validateFaultPlan, type FaultPlan } from '../sim/fault-plan.ts';
import { resolveInput, runInput, type Scenario, type ScenarioInput } from '../sim/scenario.ts';
import { SCENARIOS, findScenario } from '../sim/scenarios/index.ts';
import type { Workload } from '../sim/workload.ts';

/** What a worker is asked to do. */
export interface SwarmJob {
  scenario: string;
  seed: number;
}

/** A compact result, cheap to post between threads. */
export interface SwarmResult {
  scenario: string;
  seed: number;
  passed: boolean;
  /** The first five failures. */
  failures: string[];
  traceHash: string;
  metrics: SwarmMetrics;
  ms: number;
  /** Only on failure: what is needed to write the failure file. */
  detail?: { transform: SwarmTransform; input: ScenarioInput };
}

export interface SwarmMetrics {
  deliveryRate: number;
  duplicatesToApp: number;
  orderViolations: number;
  leaks: number;
  latencyP99Ms: number;
  reconnects: number;
  retransmissions: number;
  faults: number;
}

/** A probability knob of the plan: on or off, and the factor applied to the scenario's value. */
export interface Knob {
  on: boolean;
  factor: number;
  from: number;
  to: number;
}

/** The fault vector a seed drew over its scenario's plan; written into failure files. */
export interface SwarmTransform {
  drop: Knob;
  dup: Knob;
  reorder: Knob;
  corrupt: Knob;
  /** Disconnect one link every N ms: the scenario's (scaled), one added, or none. */
  disconnect: { from: number | null; to: number | null; added: boolean; keptAt: boolean };
  partitions: { kept: number; added: number };
  halfOpen: { kept: number };
  blackholes: { kept: number };
  restarts: { kept: number };
  /** Whether kinds the scenario does not use could be added (see `escalates`). */
  escalate: boolean;
  /** One line: the transform, then the resulting plan. */
  text: string;
}

/** Per-frame probabilities never go above these (or the scenario's own value, when it is higher). */
export const CAPS = { drop: 0.3, dup: 0.3, reorder: 0.5, corrupt: 0.05 } as const;
/** A kind the scenario uses stays on with this probability. */
const KEEP = 0.75;
/** A kind the scenario does not use (disconnects, partitions) is added with this probability. */
const ADD = 0.25;
/** Separates the swarm's stream from fast-check's own use of the same seed. */
const SALT = 0x5357_4152; // 'SWAR'

/** The scenario of seed j: the one asked for, or all of them round-robin. */
export function scenarioForSeed(seed: number, only?: string): string {
  if (only !== undefined) return only;
  return SCENARIOS[((seed % SCENARIOS.length) + SCENARIOS.length) % SCENARIOS.length]!.id;
}

class Draw {
  private readonly rng;
  constructor(seed: number) {
    this.rng = xoroshiro128plus((seed ^ SALT) | 0);
  }
  /** Uniform in [0, 1) with a millionth's resolution (enough for a knob). */
  unit(): number {
    return uniformInt(this.rng, 0, 999_999) / 1_000_000;
  }
  chance(p: number): boolean {
    return this.unit() < p;
  }
  int(min: number, max: number): number {
    return uniformInt(this.rng, min, max);
  }
  between(min: number, max: number): number {
    return min + (max - min) * this.unit();
  }
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

function knob(d: Draw, from: number, cap: number): Knob {
  const on = d.chance(KEEP);
  const factor = round(d.between(0, 2), 3);
  return { on, factor, from, to: on ? round(Math.min(Math.max(cap, from), from * factor), 6) : 0 };
}

/** Targets an added partition may hit: a user, one tab, a tenant, or everybody. */
function targetsOf(w: Workload): string[] {
  const out = ['all'];
  for (const tenant of new Set(w.users.map((u) => u.tenant))) out.push(`tenant:${tenant}`);
  for (const u of w.users) {
    out.push(`user:${u.tenant}/${u.user}`);
    for (let tab = 0; tab < u.tabs; tab++) out.push(`endpoint:${u.tenant}/${u.user}/${tab}`);
  }
  return out;
}

/**
 * The seed's fault vector over its scenario's input. Every draw happens in a
 * fixed order whatever the outcome, so adding a knob at the end never shifts
 * the others.
 */
export function swarmTransform(input: ScenarioInput, seed: number, escalate = true): { input: ScenarioInput; transform: SwarmTransform } {
  const d = new Draw(seed);
  const p = input.plan;
  const drop = knob(d, p.drop, CAPS.drop);
  const dup = knob(d, p.dup, CAPS.dup);
  const reorder = knob(d, p.reorder, CAPS.reorder);
  const corrupt = knob(d, p.corrupt, CAPS.corrupt);

  // disconnects: the scenario's period scaled by [0.5, 2] (never below 200 ms), or one added
  const disconnectOn = d.chance(KEEP);
  const disconnectFactor = d.between(0.5, 2);
  const addDisconnect = d.chance(ADD);
  const addedEvery = d.int(500, 5000);
  const from = p.disconnect.everyMs ?? null;
  let to: number | null = null;
  if (from !== null) to = disconnectOn ? Math.max(200, Math.round(from * disconnectFactor)) : null;
  else if (addDisconnect && escalate) to = addedEvery;
  const keptAt = disconnectOn;

  // windows: each kind the scenario uses stays (all its windows) or goes; partitions may be added
  const partitionsOn = d.chance(KEEP);
  const drawnPartitions = d.chance(ADD) ? d.int(1, 2) : 0;
  const addPartitions = escalate ? drawnPartitions : 0;
  const targets = targetsOf(input.workload);
  const added = Array.from({ length: 2 }, () => ({ from: d.int(0, Math.max(0, p.healAt - 200)), length: d.int(200, 3000), target: targets[d.int(0, targets.length - 1)]! })).slice(0, addPartitions);
  const halfOpenOn = d.chance(KEEP);
  const blackholesOn = d.chance(KEEP);
  const restartsOn = d.chance(KEEP);

  const partitions = [...(partitionsOn ? p.partitions : []), ...added.map((w) => ({ from: w.from, to: w.from + w.length, target: w.target }))];
  const plan: FaultPlan = {
    ...p,
    drop: drop.to,
    dup: dup.to,
    reorder: reorder.to,
    corrupt: corrupt.to,
    disconnect: { at: keptAt ? p.disconnect.at : [], ...(to !== null ? { everyMs: to } : {}) },
    partitions,
    halfOpen: halfOpenOn ? p.halfOpen : [],
    blackholes: blackholesOn ? p.blackholes : [],
    restarts: restartsOn ? p.restarts : [],
  };
  const checked = validateFaultPlan(plan);
  // the transform only narrows or scales a valid plan; an invalid one is a bug here
  if (!checked.ok) throw new Error(`swarm transform made an invalid plan: ${checked.error.field} ${checked.error.message}`);

  const k = (name: string, x: Knob) => (x.on ? `${name}=${x.from}×${x.factor}→${x.to}` : `${name}=off`);
  const transform: Omit<SwarmTransform, 'text'> = {
    drop, dup, reorder, corrupt,
    disconnect: { from, to, added: from === null && to !== null, keptAt },
    partitions: { kept: partitionsOn ? p.partitions.length : 0, added: addPartitions },
    halfOpen: { kept: halfOpenOn ? p.halfOpen.length : 0 },
    blackholes: { kept: blackholesOn ? p.blackholes.length : 0 },
    restarts: { kept: restartsOn ? p.restarts.length : 0 },
    escalate,
  };
  const text = [
    k('drop', drop), k('dup', dup), k('reorder', reorder), k('corrupt', corrupt),
    `disconnectEvery=${from ?? '-'}→${to ?? '-'}${transform.disconnect.added ? '(added)' : ''}`,
    `partitions=${transform.partitions.kept}/${p.partitions.length}+${addPartitions}`,
    `halfOpen=${transform.halfOpen.kept}/${p.halfOpen.length}`,
    `blackholes=${transform.blackholes.kept}/${p.blackholes.length}`,
    `restarts=${transform.restarts.kept}/${p.restarts.length}`,
    escalate ? 'escalate' : 'no-escalate',
    `| ${describeFaultPlan(plan)}`,
  ].join(' ');
  return { input: { ...input, plan }, transform: { ...transform, text } };
}

/**
 * May the swarm add fault kinds a scenario does not use? Not to scenarios that
 * judge performance (latency, throughput, cost), compare worlds, or let
 * clients give up: their thresholds hold under their own fault model, and a
 * partition dropped into a p99 < 100 ms scenario is a false alarm, not a
 * finding. Those scenarios still
 * get their own kinds switched off and scaled.
 */
export function escalates(scenario: Scenario): boolean {
  return (
    scenario.category !== 'performance-load-handling' &&
    scenario.thresholds.maxP99LatencyMs === undefined &&
    scenario.compare === undefined &&
    // a client that may end in `failed` (few attempts, plans that never heal) fails rightly under more faults
    scenario.thresholds.allowFailedClients !== true
  );
}

/** The swarm's input for a seed: the scenario's own draw at (seed, path 0), transformed by the seed. */
export function swarmInput(scenario: Scenario, seed: number): { input: ScenarioInput; transform: SwarmTransform } {
  const drawn = resolveInput(scenario, seed, '0');
  if (!drawn) throw new Error(`scenario ${scenario.id} drew no input at seed ${seed}`);
  return swarmTransform(drawn, seed, escalates(scenario));
}

const MAX_FAILURES = 5;

/** Run one seed and judge it. A crash is a finding, not a reason to stop the swarm. */
export function runSeed(job: SwarmJob): SwarmResult {
  const started = performance.now();
  const scenario = findScenario(job.scenario);
  const ms = () => Math.round(performance.now() - started);
  const empty: SwarmMetrics = { deliveryRate: 0, duplicatesToApp: 0, orderViolations: 0, leaks: 0, latencyP99Ms: 0, reconnects: 0, retransmissions: 0, faults: 0 };
  if (!scenario) return { ...job, passed: false, failures: [`unknown scenario ${job.scenario}`], traceHash: '', metrics: empty, ms: ms() };
  let drawn: { input: ScenarioInput; transform: SwarmTransform } | undefined;
  try {
    drawn = swarmInput(scenario, job.seed);
    const outcome = runInput(scenario, drawn.input, { seed: job.seed, offPlan: true });
    const m = outcome.verdict.metrics;
    const faults = Object.values(outcome.result.faults).reduce((n, v) => n + v, 0);
    return {
      ...job,
      passed: outcome.passed,
      failures: outcome.failures.slice(0, MAX_FAILURES),
      traceHash: outcome.traceHash,
      metrics: {
        deliveryRate: m.deliveryRate,
        duplicatesToApp: m.duplicatesToApp,
        orderViolations: m.orderViolations,
        leaks: m.leaks,
        latencyP99Ms: round(m.latencyP99Ms, 3),
        reconnects: m.reconnects,
        retransmissions: m.retransmissions,
        faults,
      },
      ms: ms(),
      ...(outcome.passed ? {} : { detail: drawn }),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ...job, passed: false, failures: [`crash: ${message}`], traceHash: '', metrics: empty, ms: ms(), ...(drawn ? { detail: drawn } : {}) };
  }
}
