/**
 * What must hold when rogue clients are about, judged from the trace alone
 * (the rogues' own records, the world's quota gauges) and by comparing the
 * honest users' streams with a run of the same input without the rogues.
 * The quotas themselves are gauges with caps: the oracle's bounded_buffers.
 */
import { DEFAULT_LIMITS, type Limits } from '../machines/limits.ts';
import type { Violation } from './oracle.ts';
import type { RecordOf, TraceRecord } from './records.ts';
import { ROGUE_EXPECTS } from './rogue.ts';
import type { RogueKind } from './fault-plan.ts';
import type { Check, RunOutcome, ScenarioInput } from './scenario.ts';
import { perRunStreams, streamsOf } from './scenarios/build.ts';

const rogueRecords = (records: readonly TraceRecord[]): RecordOf<'rogue'>[] => records.filter((r): r is RecordOf<'rogue'> => r.k === 'rogue');

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** No rogue ever receives an event it does not own. */
export const rogueReadsOnlyItsOwn: Check = (records) =>
  rogueRecords(records)
    .filter((r) => r.event === 'event' && r.owner !== `${r.tenant}/${r.user}`)
    .map((r) => ({ invariant: 'isolation', t: r.t, conn: r.rogue, message: `rogue ${r.rogue} (${r.kind}) received an event of ${r.owner}` }));

/** Every rogue got the answer its attack must get: its typed error, or its close code. */
export const everyRogueRefused: Check = (records) => {
  const out: Violation[] = [];
  const byRogue = groupBy(rogueRecords(records), (r) => `${r.rogue}:${r.kind}`);
  for (const [name, list] of byRogue) {
    const expects = ROGUE_EXPECTS[list[0]!.kind as RogueKind];
    if (!expects) continue;
    const got = list.filter((r) => r.event === (expects.error !== undefined ? 'error' : 'close')).map((r) => r.code);
    const want = expects.error ?? expects.close;
    const closedInstead = expects.orClose !== undefined && list.some((r) => r.event === 'close' && r.code === expects.orClose);
    if (!got.includes(want!) && !closedInstead) out.push({ invariant: 'explicit_failure', t: list[0]!.t, conn: name, message: `rogue ${name} was never answered ${want} (got ${got.join(', ') || 'nothing'})` });
  }
  return out;
};

/** A server that refuses by closing closes: none of the refused-by-close rogues is still open when it leaves. */
export const refusedRoguesClosed: Check = (records) => {
  const out: Violation[] = [];
  for (const [name, list] of groupBy(rogueRecords(records), (r) => r.rogue)) {
    const expects = ROGUE_EXPECTS[list[0]!.kind as RogueKind];
    if (expects?.close !== undefined && list.some((r) => r.event === 'leave')) {
      out.push({ invariant: 'explicit_failure', t: list.at(-1)!.t, conn: name, message: `rogue ${name} (${list[0]!.kind}) was still connected when it left: never closed ${expects.close}` });
    }
  }
  return out;
};

/** Once every rogue left (and the idle TTL passed), the server holds nothing of theirs. */
export const backToBaseline: Check = (records) => {
  const last = (name: string) => records.findLast((r): r is RecordOf<'gauge'> => r.k === 'gauge' && r.name === name);
  const out: Violation[] = [];
  for (const name of ['rogue.sessions', 'rogue.logs']) {
    const g = last(name);
    if (!g) out.push({ invariant: 'no_leak', t: 0, message: `no ${name} gauge: the world did not measure the rogues' footprint` });
    else if (g.value !== 0) out.push({ invariant: 'no_leak', t: g.t, message: `${name} is ${g.value} after every rogue left (baseline 0)` });
  }
  return out;
};

/** History re-sent to a replay-storm rogue stays within the budget: about `replayFramesPerSecond` a second. */
export function replayBudgeted(limits: Partial<Limits>): Check {
  const budget = limits.replayFramesPerSecond ?? DEFAULT_LIMITS.replayFramesPerSecond;
  return (records) => {
    const out: Violation[] = [];
    for (const [name, list] of groupBy(rogueRecords(records).filter((r) => r.kind === 'replay_storm'), (r) => r.rogue)) {
      const events = list.filter((r) => r.event === 'event');
      // any one-second window holds at most two budget windows (they need not be aligned)
      for (let i = 0, j = 0; i < events.length; i++) {
        while (events[j]!.t <= events[i]!.t - 1000) j++;
        if (i - j + 1 > 2 * budget) {
          out.push({ invariant: 'bounded_buffers', t: events[i]!.t, conn: name, message: `rogue ${name} was sent ${i - j + 1} history frames within one second (budget ${budget}/s)` });
          break;
        }
      }
    }
    return out;
  };
}

/** Every quota gauge, at every sample, within the scenario's limits (never the variant's: a broken protocol must not set its own bar). */
export function quotasHeld(limits: Partial<Limits>): Check {
  const caps: Record<string, number> = {
    'quota.logsPerUser': limits.maxLogsPerUser ?? DEFAULT_LIMITS.maxLogsPerUser,
    'quota.logsPerTenant': limits.maxLogsPerTenant ?? DEFAULT_LIMITS.maxLogsPerTenant,
    'quota.streamsPerSession': limits.maxThreadsPerSession ?? DEFAULT_LIMITS.maxThreadsPerSession,
  };
  return (records) => {
    const over = records.find((r): r is RecordOf<'gauge'> => r.k === 'gauge' && caps[r.name] !== undefined && r.value > caps[r.name]!);
    return over ? [{ invariant: 'bounded_buffers', t: over.t, message: `${over.name} reached ${over.value}, over its quota ${caps[over.name]}` }] : [];
  };
}

/** Link opens per honest client (tab). */
function linkOpens(records: readonly TraceRecord[]): Map<string, number> {
  const honest = new Set(records.filter((r) => r.k === 'conn').map((r) => (r as RecordOf<'conn'>).conn));
  const out = new Map<string, number>();
  for (const r of records) {
    if (r.k !== 'link' || r.event !== 'open') continue;
    const client = r.link.split('#')[0]!;
    if (honest.has(client)) out.set(client, (out.get(client) ?? 0) + 1);
  }
  return out;
}

/** The same input with no rogue at all. */
export const withoutRogues = (input: ScenarioInput): ScenarioInput => ({ ...input, plan: { ...input.plan, rogues: [] } });

/**
 * Honest users' delivered streams are identical with and without the rogues;
 * with `p99Factor`, their p99 latency is within that factor of the calm run's
 * (plus one millisecond: a calm p99 of 0 must not demand exactly 0).
 */
export function honestUntouched(p99Factor?: number) {
  return (input: ScenarioInput, run: (input: ScenarioInput) => RunOutcome): Violation[] => {
    const hostile = run(input);
    const calm = run(withoutRogues(input));
    const honest = (conn: string) => !/^[^/]+\/rogue\d+\//.test(conn);
    const withRogues = perRunStreams(streamsOf(hostile.result.trace.records, honest));
    const without = perRunStreams(streamsOf(calm.result.trace.records, honest));
    const out: Violation[] = [];
    for (const [conn, stream] of without) {
      if (withRogues.get(conn) !== stream) out.push({ invariant: 'isolation', t: 0, conn, message: `${conn} received a different stream while rogues were about` });
    }
    // untouched means no reconnect either: a session stopped under a client is found by its heartbeat, and resumed
    const opensWith = linkOpens(hostile.result.trace.records);
    for (const [client, n] of linkOpens(calm.result.trace.records)) {
      if ((opensWith.get(client) ?? 0) !== n) out.push({ invariant: 'isolation', t: 0, conn: client, message: `${client} connected ${opensWith.get(client) ?? 0} times with rogues about, ${n} without` });
    }
    const p99 = hostile.verdict.metrics.latencyP99Ms;
    const calmP99 = calm.verdict.metrics.latencyP99Ms;
    if (p99Factor !== undefined && p99 > p99Factor * calmP99 + 1) {
      out.push({ invariant: 'latency', t: 0, nominalOnly: true, message: `honest p99 ${p99} ms with rogues > ${p99Factor} × ${calmP99} ms without` });
    }
    return out;
  };
}
