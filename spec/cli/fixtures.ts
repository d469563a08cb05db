/**
 * Traces for the CLI renderers: a small one written by hand (every record
 * kind, a drop, a duplicate, a fault, a reconnect, a gap), and a real one from
 * the world (a small workload on a lossy, duplicating, reordering network).
 */
import fc from 'fast-check';
import { CALM_PLAN, type FaultPlan } from '../../sim/fault-plan.ts';
import { judge, type Violation } from '../../sim/oracle.ts';
import type { TraceRecord } from '../../sim/records.ts';
import { BASE_SHAPE, workloadArb } from '../../sim/workload.ts';
import { runWorld } from '../../sim/run-driver.ts';

const C = 't0/u0/0';
const L1 = `${C}#1`;
const L2 = `${C}#2`;
const ev = (seq: number, idx: number, type: string) =>
  `{"v":1,"type":"event","thread":"th0","seq":${seq},"event":{"tenant":"t0","user":"u0","thread":"th0","run":"r0","idx":${idx},"type":"${type}","sensitivity":"public","payload":"x","hash":"h${idx}"}}`;
const app = (t: number, idx: number, seq: number, type: 'agent_started' | 'agent_thinking' | 'tool_executing' | 'tool_completed' | 'agent_completed'): TraceRecord => ({
  t, k: 'app', conn: C, tenant: 't0', user: 'u0', thread: 'th0', run: 'r0', idx, type, seq, sensitivity: 'public', redacted: false, hash: `h${idx}`, receivedHash: `h${idx}`,
});
const produce = (t: number, idx: number, type: 'agent_started' | 'agent_thinking' | 'tool_executing' | 'tool_completed' | 'agent_completed'): TraceRecord => ({
  t, k: 'produce', tenant: 't0', user: 'u0', thread: 'th0', run: 'r0', idx, type, sensitivity: 'public', bytes: 1, hash: `h${idx}`,
});

export const PLAN: FaultPlan = { ...CALM_PLAN, drop: 0.1, dup: 0.1, reorder: 0.1, healAt: 5000 };

/** One client, one run of five events; the link drops a frame, duplicates one, dies and comes back. */
export const HAND_TRACE: TraceRecord[] = [
  { t: 0, k: 'run', scenario: 'hand_made', seed: 7, path: 'p1', faultPlan: PLAN },
  { t: 0, k: 'transition', actor: 'hub', from: '', to: 'running', event: 'xstate.init' },
  { t: 0, k: 'conn', conn: C, tenant: 't0', user: 'u0', role: 'admin', endpoint: C },
  { t: 0, k: 'subscribe', conn: C, thread: 'th0', on: true },
  { t: 0, k: 'transition', actor: C, from: '', to: 'idle', event: 'xstate.init' },
  { t: 0, k: 'transition', actor: C, from: 'idle', to: 'connecting', event: 'START' },
  { t: 1, k: 'transition', actor: 'run:r0', from: 'idle', to: 'running', event: 'START' },
  produce(1, 0, 'agent_started'),
  { t: 5, k: 'link', link: L1, event: 'open' },
  { t: 5, k: 'transition', actor: L1, from: '', to: 'handshake', event: 'xstate.init' },
  { t: 5, k: 'send', link: L1, dir: 'c2s', frame: '{"v":1,"type":"hello","token":"tok:t0:u0"}', bytes: 42 },
  { t: 5, k: 'transition', actor: C, from: 'connecting', to: 'authenticating', event: 'LINK_OPEN' },
  { t: 10, k: 'deliver', link: L1, dir: 'c2s', frame: '{"v":1,"type":"hello","token":"tok:t0:u0"}', bytes: 42 },
  { t: 10, k: 'transition', actor: L1, from: 'handshake', to: 'open(liveness.alive,outbox.idle,retransmit.idle)', event: 'FRAME' },
  { t: 10, k: 'send', link: L1, dir: 's2c', frame: '{"v":1,"type":"welcome","session":"t0/u0/0#1","epoch":"e1"}', bytes: 59 },
  { t: 15, k: 'deliver', link: L1, dir: 's2c', frame: '{"v":1,"type":"welcome","session":"t0/u0/0#1","epoch":"e1"}', bytes: 59 },
  { t: 15, k: 'transition', actor: C, from: 'authenticating', to: 'open(heartbeat.waiting,acks.idle,app.ready)', event: 'FRAME' },
  { t: 20, k: 'send', link: L1, dir: 's2c', frame: ev(1, 0, 'agent_started'), bytes: 200 },
  { t: 20, k: 'dup', link: L1, dir: 's2c', frame: ev(1, 0, 'agent_started') },
  { t: 25, k: 'deliver', link: L1, dir: 's2c', frame: ev(1, 0, 'agent_started'), bytes: 200 },
  app(25, 0, 1, 'agent_started'),
  { t: 27, k: 'deliver', link: L1, dir: 's2c', frame: ev(1, 0, 'agent_started'), bytes: 200 },
  produce(30, 1, 'tool_executing'),
  { t: 30, k: 'send', link: L1, dir: 's2c', frame: ev(2, 1, 'tool_executing'), bytes: 200 },
  { t: 30, k: 'drop', link: L1, dir: 's2c', frame: ev(2, 1, 'tool_executing'), reason: 'drop' },
  { t: 40, k: 'fault', fault: 'disconnect', target: L1, detail: C },
  { t: 40, k: 'link', link: L1, event: 'close', code: 1006, reason: 'disconnect' },
  { t: 40, k: 'transition', actor: C, from: 'open(heartbeat.waiting,acks.idle,app.ready)', to: 'reconnecting', event: 'LINK_CLOSED' },
  { t: 40, k: 'transition', actor: L1, from: 'open(liveness.alive,outbox.idle,retransmit.armed)', to: 'closed', event: 'LINK_CLOSED' },
  produce(45, 2, 'tool_completed'),
  { t: 90, k: 'link', link: L2, event: 'open' },
  { t: 90, k: 'transition', actor: C, from: 'reconnecting', to: 'connecting', event: 'xstate.after.backoff.client.reconnecting' },
  { t: 100, k: 'resync', conn: C, thread: 'th0', from: 2, to: 3, reason: 'beyond_window' },
  app(100, 2, 3, 'tool_completed'),
  { t: 101, k: 'app_error', conn: C, thread: 'th0', seq: 4, run: 'r0', idx: 3, attempt: 5, dead: true, message: 'app handler throws on r0#3 (poison)' },
  app(102, 2, 3, 'tool_completed'),
  { t: 103, k: 'reject', side: 'client', link: C, code: 'malformed_json', detail: 'Unexpected token' },
  { t: 200, k: 'gauge', name: 'outbox.highWater', owner: 'sessions', value: 3, cap: 4608 },
  { t: 300, k: 'end', pendingTimers: 0, liveActors: 0, openLinks: 0, healedAt: 50 },
];

/** What an oracle would say of HAND_TRACE's second tool_completed. */
export const HAND_VIOLATION: Violation = { invariant: 'exactly_once', t: 102, conn: C, message: `${C} received r0#2 (tool_completed) twice` };

let real: TraceRecord[] | undefined;

/** A real run: BASE_SHAPE workload (fast-check seed 1) under drop/dup/reorder 0.1 until 5 s, settle 10 s. */
export function realTrace(): TraceRecord[] {
  if (!real) {
    const [workload] = fc.sample(workloadArb(BASE_SHAPE), { seed: 1, numRuns: 1 });
    real = [...runWorld({ scenario: 'cli_fixture', seed: 1, workload: workload!, plan: PLAN, settleMs: 10_000 }).trace.records];
  }
  return real;
}

/** The real trace with one app record delivered twice: the oracle must flag it. */
export function realWithDuplicate(): { records: TraceRecord[]; violations: Violation[] } {
  const records = [...realTrace()];
  const at = records.findIndex((r) => r.k === 'app' && r.type === 'tool_executing');
  const copy = { ...(records[at] as Extract<TraceRecord, { k: 'app' }>), t: records[at]!.t + 1 };
  let insert = at + 1;
  while (insert < records.length && records[insert]!.t <= copy.t) insert++;
  records.splice(insert, 0, copy);
  return { records, violations: judge(records).violations };
}
