/**
 * Fault plans as fast-check arbitraries. A scenario names the kinds of faults
 * it wants and how hard (`PlanShape`); targets are drawn from the workload's
 * own endpoints. Every plan heals shortly after the workload's last event, so
 * liveness can be judged after it.
 */
import fc from 'fast-check';
import { CALM_PLAN, type Dir, type FaultPlan, type RogueKind } from './fault-plan.ts';
import { workloadSize, type Workload } from './workload.ts';

type Range = readonly [number, number];

export interface PlanShape {
  latencyMs: Range;
  jitterMs: Range;
  drop: Range;
  dup: Range;
  reorder: Range;
  corrupt: Range;
  /** Disconnect one random link every N ms (null = never). */
  disconnectEveryMs: Range | null;
  partitions: Range;
  partitionMs: Range;
  halfOpen: Range;
  halfOpenMs: Range;
  halfOpenDirs: readonly Dir[];
  blackholes: Range;
  blackholeMs: Range;
  restarts: Range;
  restartDownMs: Range;
  bandwidth?: Range;
  sendBufferBytes?: number;
  /** Some endpoints get a slow link (bytes/s) — slow consumers. */
  slowLinks: Range;
  slowBandwidth: Range;
  /** The plan heals this long after the workload's last event. */
  healAfterMs: number;
  /** Which endpoints faults may target. */
  targets: 'any' | 'first-user';
  /** Fault windows start at the workload's edges (a run's first or last event) more often than a uniform draw would. */
  windowsAtEdges?: boolean;
  /** Hostile clients: how many, of which kinds, staying how long (absent = none, and nothing drawn). */
  rogues?: { count: Range; kinds: readonly RogueKind[]; stayMs: Range };
}

export const CALM_SHAPE: PlanShape = {
  latencyMs: [5, 5],
  jitterMs: [0, 0],
  drop: [0, 0],
  dup: [0, 0],
  reorder: [0, 0],
  corrupt: [0, 0],
  disconnectEveryMs: null,
  partitions: [0, 0],
  partitionMs: [500, 3000],
  halfOpen: [0, 0],
  halfOpenMs: [1000, 4000],
  halfOpenDirs: ['c2s', 's2c'],
  blackholes: [0, 0],
  blackholeMs: [1000, 3000],
  restarts: [0, 0],
  restartDownMs: [200, 2000],
  slowLinks: [0, 0],
  slowBandwidth: [20_000, 100_000],
  healAfterMs: 1000,
  targets: 'any',
};

export const planShape = (overrides: Partial<PlanShape>): PlanShape => ({ ...CALM_SHAPE, ...overrides });

const inRange = ([min, max]: Range) => fc.integer({ min, max });
/**
 * A probability in [min, max] in steps of 1/1000: fc.double is biased towards
 * extreme values (1e-300 is "a drop rate" that never drops), which would make
 * most lossy runs calm ones.
 */
const probability = ([min, max]: Range) =>
  max <= 0 ? fc.constant(0) : fc.integer({ min: Math.round(min * 1000), max: Math.round(max * 1000) }).map((k) => k / 1000);

/** Targets a fault may hit: a tab, a user, a tenant, or everybody. */
function targetsOf(workload: Workload, which: PlanShape['targets']): string[] {
  const users = which === 'first-user' ? workload.users.slice(0, 1) : workload.users;
  const out: string[] = [];
  for (const u of users) {
    out.push(`user:${u.tenant}/${u.user}`);
    for (let tab = 0; tab < u.tabs; tab++) out.push(`endpoint:${u.tenant}/${u.user}/${tab}`);
  }
  if (which === 'any') {
    for (const tenant of new Set(workload.users.map((u) => u.tenant))) out.push(`tenant:${tenant}`);
    out.push('all');
  }
  return out;
}

function windowsArb<T>(count: Range, length: Range, horizon: number, extra: fc.Arbitrary<T>, edges: readonly number[] = []) {
  const uniform = fc.integer({ min: 0, max: Math.max(0, horizon) });
  // half the windows open right at an edge (the bug lives where a run starts or ends, not in its middle)
  const from = edges.length === 0 ? uniform : fc.oneof(uniform, fc.constantFrom(...edges));
  return fc.array(fc.record({ from, length: inRange(length), extra }), { minLength: count[0], maxLength: count[1] });
}

/** A workload's edges in time: when each run starts and when it emits its last event. */
function workloadEdges(workload: Workload): number[] {
  const edges = new Set<number>();
  for (const u of workload.users) for (const r of u.runs) edges.add(r.startAt).add(r.startAt + (r.steps.length - 1) * r.intervalMs);
  return [...edges].sort((a, b) => a - b);
}

export function planArb(s: PlanShape, workload: Workload): fc.Arbitrary<FaultPlan> {
  const plan = networkPlanArb(s, workload);
  const r = s.rogues;
  if (!r) return plan;
  // rogues arrive while honest users stream; every kind of the shape appears at least once
  const rogue = (kind: fc.Arbitrary<RogueKind>) =>
    fc.record({ kind, at: fc.integer({ min: 0, max: Math.max(0, workloadSize(workload).lastEventAt) }), stay: inRange(r.stayMs) }).map((x) => ({ kind: x.kind, at: x.at, leaveAt: x.at + x.stay }));
  const extra = Math.max(0, r.count[1] - r.kinds.length);
  const rogues = fc.tuple(fc.tuple(...r.kinds.map((k) => rogue(fc.constant(k)))), fc.array(rogue(fc.constantFrom(...r.kinds)), { minLength: Math.max(0, r.count[0] - r.kinds.length), maxLength: extra }));
  return fc.tuple(plan, rogues).map(([p, [each, more]]) => ({ ...p, rogues: [...each, ...more].sort((a, b) => a.at - b.at) }));
}

function networkPlanArb(s: PlanShape, workload: Workload): fc.Arbitrary<FaultPlan> {
  const { lastEventAt } = workloadSize(workload);
  const healAt = lastEventAt + s.healAfterMs;
  const targets = targetsOf(workload, s.targets);
  const target = fc.constantFrom(...targets);
  const edges = s.windowsAtEdges ? workloadEdges(workload) : [];
  return fc
    .record({
      latency: inRange(s.latencyMs),
      jitter: inRange(s.jitterMs),
      drop: probability(s.drop),
      dup: probability(s.dup),
      reorder: probability(s.reorder),
      corrupt: probability(s.corrupt),
      every: s.disconnectEveryMs ? inRange(s.disconnectEveryMs) : fc.constant(undefined),
      partitions: windowsArb(s.partitions, s.partitionMs, healAt, target, edges),
      halfOpen: windowsArb(s.halfOpen, s.halfOpenMs, healAt, fc.tuple(target, fc.constantFrom(...s.halfOpenDirs))),
      blackholes: windowsArb(s.blackholes, s.blackholeMs, healAt, target),
      restarts: fc.array(fc.record({ at: fc.integer({ min: 100, max: Math.max(100, healAt) }), downMs: inRange(s.restartDownMs) }), { minLength: s.restarts[0], maxLength: s.restarts[1] }),
      bandwidth: s.bandwidth ? inRange(s.bandwidth) : fc.constant(undefined),
      slow: fc.array(fc.tuple(target, inRange(s.slowBandwidth)), { minLength: s.slowLinks[0], maxLength: s.slowLinks[1] }),
    })
    .map((d) => ({
      ...CALM_PLAN,
      latency: { baseMs: d.latency, jitterMs: d.jitter },
      drop: d.drop,
      dup: d.dup,
      reorder: d.reorder,
      corrupt: d.corrupt,
      disconnect: { at: [], ...(d.every !== undefined ? { everyMs: d.every } : {}) },
      partitions: d.partitions.map((w) => ({ from: w.from, to: w.from + w.length, target: w.extra })),
      halfOpen: d.halfOpen.map((w) => ({ from: w.from, to: w.from + w.length, target: w.extra[0], dir: w.extra[1] })),
      blackholes: d.blackholes.map((w) => ({ from: w.from, to: w.from + w.length, target: w.extra })),
      restarts: d.restarts.sort((a, b) => a.at - b.at),
      ...(d.bandwidth !== undefined ? { bandwidth: d.bandwidth } : {}),
      ...(s.sendBufferBytes !== undefined ? { sendBufferBytes: s.sendBufferBytes } : {}),
      links: d.slow.map(([t, bandwidth]) => ({ target: t.startsWith('user:') || t.startsWith('endpoint:') ? t : targets[0]!, bandwidth })),
      healAt,
    }));
}

/** The CLI's fault flags, laid over a scenario's plan (the invariants must still hold). */
export interface FaultOverrides {
  drop?: number;
  dup?: number;
  reorder?: number;
  disconnectEveryMs?: number;
}

export function applyOverrides(plan: FaultPlan, o: FaultOverrides, workload: Workload): FaultPlan {
  if (Object.values(o).every((v) => v === undefined)) return plan;
  const healAt = Math.max(plan.healAt, workloadSize(workload).lastEventAt + 1000);
  return {
    ...plan,
    ...(o.drop !== undefined ? { drop: o.drop } : {}),
    ...(o.dup !== undefined ? { dup: o.dup } : {}),
    ...(o.reorder !== undefined ? { reorder: o.reorder } : {}),
    ...(o.disconnectEveryMs !== undefined ? { disconnect: { ...plan.disconnect, everyMs: o.disconnectEveryMs } } : {}),
    healAt,
  };
}
