/**
 * The fault plan, applied physically by the fault proxy over real sockets:
 * the same windows, targets and link shapes as the simulated network, asked
 * at real time since the world began. What TCP cannot do (lose, duplicate or
 * reorder bytes) is not applied and is named in the run's header.
 */
import { inWindow, matchesTarget, type FaultPlan, type LinkShape } from './fault-plan.ts';
import type { Random } from './random.ts';
import type { ProxyDir, ProxyFaults } from '../transport/fault-proxy.ts';

/** The server is down between a restart and its end (connects refused). */
export interface ServerState {
  downUntil: number;
}

export function proxyFaults(plan: FaultPlan, now: () => number, random: Random, server: ServerState): ProxyFaults {
  const shape = (endpoint: string): LinkShape | undefined => plan.links.find((l) => matchesTarget(l.target, endpoint));
  const partitioned = (endpoint: string): boolean => plan.partitions.some((w) => inWindow(w, now(), plan.healAt) && matchesTarget(w.target, endpoint));
  return {
    delayMs: (endpoint) => (shape(endpoint)?.latencyMs ?? plan.latency.baseMs) + random.next() * plan.latency.jitterMs,
    bandwidth: (endpoint) => shape(endpoint)?.bandwidth ?? plan.bandwidth ?? Infinity,
    silent: (endpoint: string, dir: ProxyDir) => {
      if (partitioned(endpoint)) return 'partition';
      const halfOpen = plan.halfOpen.some((w) => w.dir === dir && inWindow(w, now(), plan.healAt) && matchesTarget(w.target, endpoint));
      return halfOpen ? 'half-open' : null;
    },
    refused: (endpoint) => (now() < server.downUntil ? 'server down' : partitioned(endpoint) ? 'partition' : null),
    blackholed: (endpoint) => plan.blackholes.some((w) => inWindow(w, now(), plan.healAt) && matchesTarget(w.target, endpoint)),
  };
}

/** Plan fields real sockets cannot apply as the simulation does, each with why (empty: all of it applies). */
export function notApplied(plan: FaultPlan): string[] {
  const out: string[] = [];
  if (plan.drop > 0) out.push(`drop=${plan.drop} (TCP loses no bytes)`);
  if (plan.dup > 0) out.push(`dup=${plan.dup} (TCP duplicates no bytes)`);
  if (plan.reorder > 0) out.push(`reorder=${plan.reorder} (TCP keeps order)`);
  if (plan.corrupt > 0) out.push(`corrupt=${plan.corrupt} (TCP corrupts no bytes: approximated by garbage frames from a rogue connection)`);
  const buffers = plan.links.filter((l) => l.sendBufferBytes !== undefined).length;
  if (buffers > 0) out.push(`links[].sendBufferBytes on ${buffers} link(s) (the kernel's socket buffers hold bytes too: one cap for the server)`);
  return out;
}

/** Fault overrides real sockets cannot apply: TCP never loses, duplicates or reorders bytes. */
export const TCP_IMPOSSIBLE_OVERRIDES = ['drop', 'dup', 'reorder'] as const;
