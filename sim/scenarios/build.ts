/** How scenarios are assembled from shapes: one place, shared by all 25. */
import fc from 'fast-check';
import { planArb, type PlanShape } from '../fault-arbitraries.ts';
import type { FaultPlan } from '../fault-plan.ts';
import type { ScenarioInput } from '../scenario.ts';
import { workloadArb, type Workload, type WorkloadShape } from '../workload.ts';

export const worldSeedArb = fc.integer({ min: 0, max: 0x7fffffff });

/** A workload of this shape under a fault plan of that shape; `tune` may adjust the plan to the workload. */
export function inputOf(workload: WorkloadShape, plan: PlanShape, tune?: (plan: FaultPlan, workload: Workload) => FaultPlan): fc.Arbitrary<ScenarioInput> {
  return workloadArb(workload).chain((w) =>
    fc.record({
      workload: fc.constant(w),
      plan: planArb(plan, w).map((p) => (tune ? tune(p, w) : p)),
      worldSeed: worldSeedArb,
    }),
  );
}

/** The same input with a calm network (for differential scenarios). */
export const calmed = (input: ScenarioInput): ScenarioInput => ({
  ...input,
  plan: { ...input.plan, drop: 0, dup: 0, reorder: 0, corrupt: 0, disconnect: { at: [] }, partitions: [], halfOpen: [], blackholes: [], restarts: [], links: [] },
});

/** What each tab's app received, as a comparable list per tab (times left out). */
export function streamsOf(records: readonly import('../records.ts').TraceRecord[], keep: (conn: string) => boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of records) {
    if (r.k !== 'app' || !keep(r.conn)) continue;
    const list = out.get(r.conn) ?? [];
    if (!out.has(r.conn)) out.set(r.conn, list);
    list.push(`${r.run}#${r.idx}:${r.type}${r.redacted ? ':redacted' : ''}`);
  }
  return out;
}

/** Per tab, the events in each run's order (interleaving between runs may differ with timing). */
export function perRunStreams(streams: Map<string, string[]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [conn, list] of streams) {
    const byRun = new Map<string, string[]>();
    for (const item of list) {
      const run = item.split('#')[0]!;
      byRun.set(run, [...(byRun.get(run) ?? []), item]);
    }
    out.set(conn, [...byRun.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, items]) => items.join(',')).join(' | '));
  }
  return out;
}
