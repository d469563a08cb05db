/** When a run's scheduled part ends: the settle window (the liveness bound) begins there. */
import type { FaultPlan } from './fault-plan.ts';
import type { Workload } from './workload.ts';

/** When the last scheduled thing of the workload or the plan happens. */
export function horizonOf(workload: Workload, plan: FaultPlan): number {
  let t = plan.healAt;
  for (const u of workload.users) for (const r of u.runs) t = Math.max(t, r.startAt + (r.steps.length - 1) * r.intervalMs);
  for (const c of workload.roleChanges) t = Math.max(t, c.at);
  for (const c of workload.subscriptionChanges) t = Math.max(t, c.at);
  for (const r of plan.restarts) t = Math.max(t, r.at + r.downMs);
  for (const r of plan.rogues ?? []) t = Math.max(t, r.leaveAt);
  for (const c of plan.cluster?.crashes ?? []) t = Math.max(t, c.at + c.downMs);
  for (const f of plan.cluster?.broker ?? []) t = Math.max(t, f.at + f.forMs);
  return t;
}
