/**
 * The invariants, judged from the trace alone: what the world says was
 * produced and who connected as whom, against what each app says it received.
 * The oracle never reads a machine, so a broken machine cannot hide its bug.
 *
 * A "stream" is (client, run): one browser tab's view of one agent run.
 */
import { isCritical, type EventType, type Role, type Sensitivity } from '../machines/frames.ts';
import { accessFor, DEFAULT_POLICY, type AccessPolicy } from '../machines/policy.ts';
import { Notices, type ExcuseRule } from './notices.ts';
import type { RecordOf, TraceRecord } from './records.ts';
import { clientOfLink } from './wire-frames.ts';

export type InvariantName =
  | 'exactly_once'
  | 'order'
  | 'run_contract'
  | 'isolation'
  | 'role_policy'
  | 'integrity'
  | 'completeness'
  | 'explicit_resync'
  | 'waste'
  | 'no_leak'
  | 'reconnect'
  | 'bounded_buffers'
  | 'bounded_retransmits'
  | 'runaway'
  | 'heartbeat_detection'
  | 'backoff_bounds'
  | 'explicit_failure'
  | 'latency'
  | 'no_crash';

export interface Violation {
  invariant: InvariantName;
  t: number;
  conn?: string;
  message: string;
  /**
   * Holds under the scenario's own plan only: a performance figure (latency, drift,
   * growth, utilisation) or a reachability expectation. Harsher fault overrides
   * measure the faults there, so these are reported but not judged under them.
   */
  nominalOnly?: boolean;
}

export interface Metrics {
  produced: number;
  /** Critical events each app had to receive, and received. */
  expected: number;
  delivered: number;
  deliveryRate: number;
  lost: number;
  /** Lost explicitly: the app was told (resync) or the event dead-lettered. */
  excused: number;
  duplicatesToApp: number;
  orderViolations: number;
  isolationViolations: number;
  policyViolations: number;
  integrityViolations: number;
  leaks: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  reconnects: number;
  reconnectSuccessRate: number;
  failedClients: number;
  retransmissions: number;
  maxSendsPerSeq: number;
  resyncs: number;
  deadLetters: number;
  rejectedFrames: number;
  /** Delivered app events per simulated second (all events, all apps). */
  throughputPerSimSecond: number;
  simulatedMs: number;
}

export interface OracleOptions {
  policy?: AccessPolicy;
  /** At most this many violations are kept (all are counted). */
  keep?: number;
  /** Which notices excuse a missing event (default: exact). */
  excuse?: ExcuseRule;
}

export interface Verdict {
  violations: Violation[];
  violationCount: number;
  metrics: Metrics;
}

interface Produced {
  rec: RecordOf<'produce'>;
  /**
   * The user's role when the event was produced, in trace order: a role change
   * written at the same millisecond but after the event was produced (and
   * sent) is not yet in effect for it.
   */
  role: Role;
}

interface Conn {
  rec: RecordOf<'conn'>;
  /** Subscription changes per thread, in time order. */
  subs: Map<string, { t: number; on: boolean }[]>;
  final: string;
}

const eventKey = (tenant: string, user: string, run: string, idx: number) => `${tenant}\u0000${user}\u0000${run}\u0000${idx}`;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Is `conn` subscribed to `thread` at time t (changes at t count as done)? */
function subscribedAt(conn: Conn, thread: string, t: number): boolean {
  let on = false;
  for (const change of conn.subs.get(thread) ?? []) {
    if (change.t > t) break;
    on = change.on;
  }
  return on;
}

/** Subscribed from t to the end without a break. */
function subscribedThrough(conn: Conn, thread: string, t: number): boolean {
  if (!subscribedAt(conn, thread, t)) return false;
  return (conn.subs.get(thread) ?? []).every((c) => c.t <= t || c.on);
}

class RoleBook {
  private changes = new Map<string, { t: number; role: Role }[]>();

  set(tenant: string, user: string, t: number, role: Role): void {
    const key = `${tenant}\u0000${user}`;
    const list = this.changes.get(key) ?? [];
    if (!this.changes.has(key)) this.changes.set(key, list);
    list.push({ t, role });
  }

  /** The role after every change read so far (the trace is read in order). */
  current(tenant: string, user: string): Role {
    return this.changes.get(`${tenant}\u0000${user}`)?.at(-1)?.role ?? 'viewer';
  }

  at(tenant: string, user: string, t: number): Role {
    let role: Role = 'viewer';
    for (const c of this.changes.get(`${tenant}\u0000${user}`) ?? []) {
      if (c.t > t) break;
      role = c.role;
    }
    return role;
  }

  /** Every role the user held in [from, to]. */
  during(tenant: string, user: string, from: number, to: number): Role[] {
    const roles = new Set<Role>([this.at(tenant, user, from)]);
    for (const c of this.changes.get(`${tenant}\u0000${user}`) ?? []) if (c.t > from && c.t <= to) roles.add(c.role);
    return [...roles];
  }
}

/** The order a run's events may reach an app in: started first, tools closed after opened, completed last. */
function contractBreak(seen: { type: EventType; toolId?: string }[], next: EventType): string | null {
  if (seen.length === 0) return next === 'agent_started' ? null : `first event is ${next}, not agent_started`;
  if (next === 'agent_started') return 'agent_started twice';
  if (seen.some((e) => e.type === 'agent_completed')) return `${next} after agent_completed`;
  return null;
}

/** One line: which sender never stopped, what the network would have held for it, and that the run stopped there. */
export function runawayMessage(r: RecordOf<'runaway'>): string {
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  return `${r.dir} of link ${r.link} reached ${mb(r.bytes)} queued or in flight (bound ${mb(r.bound)}): its sender never stops; the run was stopped at ${r.t.toFixed(1)} ms`;
}

export function judge(records: readonly TraceRecord[], options: OracleOptions = {}): Verdict {
  const policy = options.policy ?? DEFAULT_POLICY;
  const keep = options.keep ?? 50;
  const violations: Violation[] = [];
  let violationCount = 0;
  const violate = (v: Violation) => {
    violationCount++;
    if (violations.length < keep) violations.push(v);
  };

  const excuse = options.excuse ?? 'exact';
  const notices = new Notices(records);
  const produced = new Map<string, Produced>();
  const conns = new Map<string, Conn>();
  const roles = new RoleBook();
  const app: RecordOf<'app'>[] = [];
  const resyncs: RecordOf<'resync'>[] = [];
  const dead = new Set<string>();
  const gauges = new Map<string, RecordOf<'gauge'>>();
  const linkOpens = new Map<string, number>();
  let end: RecordOf<'end'> | undefined;
  let rejected = 0;
  let lastT = 0;

  for (const r of records) {
    lastT = Math.max(lastT, r.t);
    switch (r.k) {
      case 'produce':
        produced.set(eventKey(r.tenant, r.user, r.run, r.idx), { rec: r, role: roles.current(r.tenant, r.user) });
        break;
      case 'conn':
        conns.set(r.conn, { rec: r, subs: new Map(), final: '' });
        roles.set(r.tenant, r.user, r.t, r.role);
        break;
      case 'role':
        roles.set(r.tenant, r.user, r.t, r.role);
        break;
      case 'subscribe': {
        const conn = conns.get(r.conn);
        if (!conn) break;
        const list = conn.subs.get(r.thread) ?? [];
        if (!conn.subs.has(r.thread)) conn.subs.set(r.thread, list);
        list.push({ t: r.t, on: r.on });
        break;
      }
      case 'app':
        app.push(r);
        break;
      case 'resync':
        resyncs.push(r);
        break;
      case 'app_error':
        if (r.dead) dead.add(`${r.conn}\u0000${r.run}\u0000${r.idx}`);
        break;
      case 'transition': {
        const conn = conns.get(r.actor);
        if (conn) conn.final = r.to;
        break;
      }
      case 'gauge':
        gauges.set(r.name, r);
        if (r.cap !== undefined && r.value > r.cap) {
          violate({ invariant: 'bounded_buffers', t: r.t, message: `${r.name} of ${r.owner} reached ${r.value}, over its cap ${r.cap}` });
        }
        break;
      case 'link':
        if (r.event === 'open') {
          const client = r.link.split('#')[0]!;
          linkOpens.set(client, (linkOpens.get(client) ?? 0) + 1);
        }
        break;
      case 'reject':
        rejected++;
        break;
      case 'runaway':
        violate({ invariant: 'runaway', t: r.t, conn: clientOfLink(r.link), message: runawayMessage(r) });
        break;
      case 'end':
        end = r;
        break;
    }
  }

  // ---- what each app received ------------------------------------------------
  // each run's critical events in idx order, and per tab and run how many of them it received without a gap:
  // a delivery inside that prefix misses nothing before it (scanning the run on every delivery was quadratic)
  const criticalOf = new Map<string, RecordOf<'produce'>[]>();
  for (const { rec } of produced.values()) {
    if (!isCritical(rec.type)) continue;
    const rk = `${rec.tenant}\u0000${rec.user}\u0000${rec.run}`;
    const list = criticalOf.get(rk) ?? [];
    if (!criticalOf.has(rk)) criticalOf.set(rk, list);
    list.push(rec);
  }
  for (const list of criticalOf.values()) list.sort((x, y) => x.idx - y.idx);
  const receivedPrefix = new Map<string, number>();
  /** Earlier critical events of a's run that its app has not received (yet): thinking may be coalesced and never shapes the contract. */
  const missedBefore = (a: RecordOf<'app'>): RecordOf<'produce'>[] => {
    const rk = `${a.tenant}\u0000${a.user}\u0000${a.run}`;
    const critical = criticalOf.get(rk) ?? [];
    const received = (e: RecordOf<'produce'>) => got.has(`${a.conn}\u0000${eventKey(e.tenant, e.user, e.run, e.idx)}`);
    const pk = `${a.conn}\u0000${rk}`;
    let k = receivedPrefix.get(pk) ?? 0;
    while (k < critical.length && received(critical[k]!)) k++;
    receivedPrefix.set(pk, k);
    if (k >= critical.length || critical[k]!.idx >= a.idx) return [];
    return critical.filter((e) => e.idx < a.idx && !received(e));
  };
  const got = new Map<string, number>(); // conn|event → first delivery time
  const lastIdx = new Map<string, number>(); // conn|run → last idx released
  const runSeen = new Map<string, { type: EventType; toolId?: string }[]>();
  const latencies: number[] = [];
  let duplicates = 0;
  let order = 0;
  let isolation = 0;
  let policyBreaks = 0;
  let integrity = 0;

  for (const a of app) {
    const conn = conns.get(a.conn);
    const key = eventKey(a.tenant, a.user, a.run, a.idx);
    const source = produced.get(key);
    if (!conn) continue;
    const who = conn.rec;
    if (a.tenant !== who.tenant || a.user !== who.user) {
      isolation++;
      violate({ invariant: 'isolation', t: a.t, conn: a.conn, message: `event ${a.run}#${a.idx} of ${a.tenant}/${a.user} reached ${a.conn}, owned by ${who.tenant}/${who.user}` });
      continue;
    }
    if (!subscribedAt(conn, a.thread, a.t)) {
      isolation++;
      violate({ invariant: 'isolation', t: a.t, conn: a.conn, message: `event ${a.run}#${a.idx} of thread ${a.thread} reached ${a.conn}, not subscribed to it` });
    }
    if (!source) {
      integrity++;
      violate({ invariant: 'integrity', t: a.t, conn: a.conn, message: `${a.conn} received ${a.run}#${a.idx}, which was never produced` });
      continue;
    }
    if (source.rec.thread !== a.thread || source.rec.type !== a.type) {
      integrity++;
      violate({ invariant: 'integrity', t: a.t, conn: a.conn, message: `${a.run}#${a.idx} arrived as ${a.thread}/${a.type}, produced as ${source.rec.thread}/${source.rec.type}` });
    }
    if (!a.redacted && a.receivedHash !== source.rec.hash) {
      integrity++;
      violate({ invariant: 'integrity', t: a.t, conn: a.conn, message: `payload of ${a.run}#${a.idx} changed on the way (hash ${a.receivedHash} ≠ ${source.rec.hash})` });
    }
    const allowed = [source.role, roles.at(a.tenant, a.user, a.t)].map((role) => accessFor(policy, role, source.rec.sensitivity as Sensitivity));
    if (allowed.every((x) => x === 'withhold') || (!a.redacted && allowed.every((x) => x !== 'deliver'))) {
      policyBreaks++;
      violate({ invariant: 'role_policy', t: a.t, conn: a.conn, message: `${a.conn} (role ${roles.at(a.tenant, a.user, a.t)}) received ${a.redacted ? 'redacted' : 'full'} ${source.rec.sensitivity} event ${a.run}#${a.idx}; policy: ${allowed.join('/')}` });
    }
    const ck = `${a.conn}\u0000${key}`;
    if (got.has(ck)) {
      duplicates++;
      violate({ invariant: 'exactly_once', t: a.t, conn: a.conn, message: `${a.conn} received ${a.run}#${a.idx} (${a.type}) twice` });
      continue;
    }
    got.set(ck, a.t);
    latencies.push(a.t - source.rec.t);
    const sk = `${a.conn}\u0000${a.run}`;
    const prev = lastIdx.get(sk) ?? -1;
    if (a.idx < prev) {
      order++;
      violate({ invariant: 'order', t: a.t, conn: a.conn, message: `${a.conn} received ${a.run}#${a.idx} after #${prev}` });
    }
    lastIdx.set(sk, Math.max(prev, a.idx));
    const seen = runSeen.get(sk) ?? [];
    if (!runSeen.has(sk)) runSeen.set(sk, seen);
    // events the app was told it would not get (dead letter, resync) may leave the contract's order incomplete
    // so may a role that withheld the run's earlier events (a later upgrade shows the rest)
    const withheldBefore = roles.during(a.tenant, a.user, 0, a.t).some((role) => accessFor(policy, role, source.rec.sensitivity as Sensitivity) === 'withhold');
    const explicitGap = withheldBefore || missedBefore(a).every((e) => (notices.toldAt(a.conn, e, excuse) ?? Infinity) <= a.t);
    const broken = explicitGap ? null : contractBreak(seen, a.type);
    if (broken) violate({ invariant: 'run_contract', t: a.t, conn: a.conn, message: `${a.conn}, run ${a.run}: ${broken}` });
    seen.push({ type: a.type });
  }

  // ---- what each app should have received ------------------------------------
  const endT = end?.t ?? lastT;
  const settledAt = end?.healedAt ?? endT;
  let expected = 0;
  let delivered = 0;
  let excused = 0;
  let lost = 0;
  let failedClients = 0;
  for (const conn of conns.values()) {
    const who = conn.rec;
    const failed = conn.final === 'failed';
    if (failed) failedClients++;
    for (const p of produced.values()) {
      const e = p.rec;
      if (e.tenant !== who.tenant || e.user !== who.user || !isCritical(e.type)) continue;
      if (!subscribedThrough(conn, e.thread, e.t)) continue;
      const visible = roles.during(e.tenant, e.user, e.t, endT).every((role) => accessFor(policy, role, e.sensitivity) !== 'withhold');
      if (!visible) continue;
      const key = `${conn.rec.conn}\u0000${eventKey(e.tenant, e.user, e.run, e.idx)}`;
      if (got.has(key)) {
        expected++;
        delivered++;
        continue;
      }
      if (notices.toldAt(who.conn, e, excuse) !== undefined) {
        excused++;
        continue;
      }
      if (failed) continue; // a failed client is judged by the reconnect invariant
      expected++;
      lost++;
      violate({ invariant: 'completeness', t: endT, conn: who.conn, message: `${who.conn} never received ${e.type} ${e.run}#${e.idx} (produced at ${e.t} ms, thread ${e.thread}), nor a resync for it` });
    }
  }
  if (failedClients > 0) {
    for (const conn of conns.values()) {
      if (conn.final === 'failed') violate({ invariant: 'reconnect', t: endT, conn: conn.rec.conn, message: `${conn.rec.conn} ended in failed` });
    }
  }

  const leaks = end ? end.pendingTimers + end.liveActors + end.openLinks : 0;
  if (end && leaks > 0) violate({ invariant: 'no_leak', t: end.t, message: `left running after everyone closed: ${end.pendingTimers} timers, ${end.liveActors} actors, ${end.openLinks} links` });

  const retransmissions = gauges.get('wire.retransmissions')?.value ?? 0;
  const maxSendsPerSeq = gauges.get('wire.maxSendsPerSeq')?.value ?? 0;
  let reconnects = 0;
  for (const n of linkOpens.values()) reconnects += Math.max(0, n - 1);
  latencies.sort((x, y) => x - y);

  return {
    violations,
    violationCount,
    metrics: {
      produced: produced.size,
      expected,
      delivered,
      deliveryRate: expected === 0 ? 1 : delivered / expected,
      lost,
      excused,
      duplicatesToApp: duplicates,
      orderViolations: order,
      isolationViolations: isolation,
      policyViolations: policyBreaks,
      integrityViolations: integrity,
      leaks,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      latencyMaxMs: latencies.at(-1) ?? 0,
      reconnects,
      reconnectSuccessRate: conns.size === 0 ? 1 : (conns.size - failedClients) / conns.size,
      failedClients,
      retransmissions,
      maxSendsPerSeq,
      resyncs: resyncs.length,
      deadLetters: dead.size,
      rejectedFrames: rejected,
      throughputPerSimSecond: settledAt > 0 ? (app.length * 1000) / Math.max(1, settledAt) : 0,
      simulatedMs: endT,
    },
  };
}
