/**
 * Scenario-specific invariants, judged from the trace and the injected plan.
 * Shared by the scenarios that need them; each returns violations, never throws.
 */
import { isCritical } from '../machines/frames.ts';
import { matchesTarget, type Dir, type FaultPlan } from './fault-plan.ts';
import type { Violation } from './oracle.ts';
import type { RecordOf, TraceRecord } from './records.ts';
import type { Check } from './scenario.ts';
import { clientOfLink, inTraceOrder, wireFrames } from './wire-frames.ts';

const only = <K extends TraceRecord['k']>(records: readonly TraceRecord[], k: K): RecordOf<K>[] => records.filter((r): r is RecordOf<K> => r.k === k);
/** The value of a gauge the world wrote at the end (undefined when it wrote none). */
export const gauge = (records: readonly TraceRecord[], name: string): number | undefined => only(records, 'gauge').find((g) => g.name === name)?.value;
const clientOf = (link: string): string => link.split('#')[0]!;

/** Links open at time t (opened before, not closed before). */
function linksOpenAt(records: readonly TraceRecord[], t: number): Map<string, { closedAt?: number }> {
  const open = new Map<string, { closedAt?: number }>();
  for (const r of only(records, 'link')) {
    if (r.event === 'open' && r.t <= t) open.set(r.link, {});
    if (r.event === 'close') {
      const link = open.get(r.link);
      if (link && link.closedAt === undefined) {
        if (r.t < t) open.delete(r.link);
        else link.closedAt = r.t;
      }
    }
  }
  return open;
}

/** Written by a real-time world: how late its timers and socket events may run (0 in simulation). */
export const CLOCK_TOLERANCE_GAUGE = 'clock.toleranceMs';
/** Written by a real-time world each time its event loop stood still (t: when it ran again, value: for how long before, ms). */
export const CLOCK_STALL_GAUGE = 'clock.stallMs';

/** The times a real-time world stood still, as (end, ms); none in simulation. */
export interface Stall {
  t: number;
  ms: number;
}

export const stallsOf = (records: readonly TraceRecord[]): Stall[] =>
  only(records, 'gauge')
    .filter((g) => g.name === CLOCK_STALL_GAUGE)
    .map((g) => ({ t: g.t, ms: g.value }));

/** How long the world stood still within [from, to]. */
export function stalledWithin(stalls: readonly Stall[], from: number, to: number): number {
  let ms = 0;
  for (const s of stalls) if (s.t > from && s.t - s.ms < to) ms += s.ms;
  return ms;
}

/**
 * How late a real-time world may be over [from, to]: its stated tolerance
 * plus the time its process stood still in between (no timer can fire, no
 * byte be read, while it does). 0 in simulation.
 */
export function latenessOf(records: readonly TraceRecord[]): (from: number, to: number) => number {
  const tolerance = gauge(records, CLOCK_TOLERANCE_GAUGE) ?? 0;
  const stalls = stallsOf(records);
  return (from, to) => tolerance + stalledWithin(stalls, from, to);
}

/**
 * The heartbeat's bound by design: a link that falls silent in one direction
 * (half-open) or both (partition) at t0 is closed by one side by t0 + H + T.
 * s2c silence: the client's last frame arrived before t0, its probe ends the
 * link H+T after it. c2s silence: the server reaps after reapAfter ≤ H+T of
 * silence. In simulation the bound is exact; a real-time world adds the
 * tolerance it wrote to the trace (timer and event-loop lateness).
 */
export interface Silence {
  link: string;
  dir: Dir | 'both';
  /** When the direction fell silent. */
  from: number;
  /** When one side closed the link (undefined: never). */
  closedAt?: number;
}

/**
 * Every link open when a silence window began, among the windows long enough
 * that the link must have been closed inside them (`bound` after their start).
 */
export function silences(records: readonly TraceRecord[], plan: FaultPlan, bound: number): Silence[] {
  const out: Silence[] = [];
  const windows = [...plan.halfOpen, ...plan.partitions.map((p) => ({ ...p, dir: 'both' as const }))];
  for (const w of windows) {
    // windows are cut where the plan heals; a window shorter than the bound may end before anyone must notice
    if (Math.min(w.to, plan.healAt) - w.from <= bound) continue;
    for (const [link, state] of linksOpenAt(records, w.from)) {
      if (link.startsWith('rogue') || !matchesTarget(w.target, clientOf(link))) continue;
      out.push({ link, dir: w.dir, from: w.from, ...(state.closedAt !== undefined ? { closedAt: state.closedAt } : {}) });
    }
  }
  return out;
}

export const heartbeatDetection: Check = (records, { input, client, session }) => {
  const out: Violation[] = [];
  const bound = client.pingIntervalMs + client.pongTimeoutMs;
  const tolerance = gauge(records, CLOCK_TOLERANCE_GAUGE) ?? 0;
  const lateness = latenessOf(records);
  if (session.reapAfterMs > bound) out.push({ invariant: 'heartbeat_detection', t: 0, message: `the server reaps after ${session.reapAfterMs} ms, over the bound H+T = ${bound} ms` });
  for (const s of silences(records, input.plan, bound + tolerance)) {
    const allowed = lateness(s.from, s.closedAt ?? Infinity);
    if (s.closedAt !== undefined && s.closedAt - s.from <= bound + allowed) continue;
    const late = s.closedAt === undefined ? 'never closed' : `closed only at ${s.closedAt.toFixed(1)} ms (${(s.closedAt - s.from).toFixed(1)} ms after)`;
    out.push({ invariant: 'heartbeat_detection', t: s.from, conn: clientOf(s.link), message: `link ${s.link} went silent (${s.dir}) at ${s.from} ms and was ${late}; bound H+T = ${bound} ms${allowed ? ` + ${allowed.toFixed(0)} ms real-time lateness` : ''}` });
  }
  return out;
};

/** Every wait in `reconnecting` lasts less than the backoff cap (full jitter below the capped exponential). */
export const backoffBounds: Check = (records, { client }) => {
  const out: Violation[] = [];
  const lateness = latenessOf(records);
  const entered = new Map<string, number>();
  for (const r of only(records, 'transition')) {
    if (r.to === 'reconnecting') entered.set(r.actor, r.t);
    else if (r.from === 'reconnecting' && r.to === 'connecting') {
      const since = entered.get(r.actor);
      // a real-time timer fires late by the world's lateness (0 in simulation)
      if (since !== undefined && r.t - since > client.backoffCapMs + lateness(since, r.t)) {
        out.push({ invariant: 'backoff_bounds', t: r.t, conn: r.actor, message: `${r.actor} waited ${r.t - since} ms before reconnecting, over the cap ${client.backoffCapMs} ms` });
      }
    }
  }
  return out;
};

/**
 * Clients whose endpoint is cut off for the whole run must end in `failed` with
 * a reason, within the attempts' worst case; every other client must not fail.
 */
export const timeoutsEndInFailure: Check = (records, { input, client }) => {
  const out: Violation[] = [];
  const doomed = (endpoint: string) =>
    [...input.plan.blackholes, ...input.plan.halfOpen.filter((w) => w.dir === 's2c')].some((w) => w.from === 0 && w.to >= input.plan.healAt && matchesTarget(w.target, endpoint));
  const perAttempt = Math.max(client.connectTimeoutMs, client.authTimeoutMs + client.pingIntervalMs + client.pongTimeoutMs) + client.backoffCapMs;
  const bound = client.maxAttempts * perAttempt + 1000;
  const final = new Map<string, RecordOf<'transition'>>();
  for (const r of only(records, 'transition')) final.set(r.actor, r);
  for (const c of only(records, 'conn')) {
    const last = final.get(c.conn);
    const failed = last?.to === 'failed';
    if (doomed(c.endpoint) && (!failed || last!.t > bound)) {
      out.push({ invariant: 'explicit_failure', t: last?.t ?? 0, conn: c.conn, message: `${c.conn} never reached the server but ${failed ? `failed only at ${last!.t} ms (bound ${bound} ms)` : `ended in ${last?.to ?? 'no state'}`}` });
    }
    // with only 8 attempts, heavier loss than the scenario's own may exhaust a reachable tab: nominal only
    if (!doomed(c.endpoint) && failed) out.push({ invariant: 'explicit_failure', t: last!.t, conn: c.conn, nominalOnly: true, message: `${c.conn} could reach the server but failed` });
  }
  return out;
};

/**
 * A poison event never reaches the app that always throws on it, and the app's
 * failures were retried. (That it was dead-lettered rather than lost on every
 * tab still subscribed is the oracle's completeness: only a dead letter or a
 * resync excuses a missing event.)
 */
export const poisonDeadLetters: Check = (records, { input }) => {
  const out: Violation[] = [];
  const errors = only(records, 'app_error');
  const dead = errors.filter((r) => r.dead);
  const retried = errors.length - dead.length;
  const produced = only(records, 'produce');
  const received = only(records, 'app');
  const conns = only(records, 'conn');
  const leftSome = new Set(only(records, 'subscribe').filter((s) => !s.on).map((s) => s.conn));
  for (const failure of input.workload.appFailures) {
    const ours = (r: { tenant: string; user: string }) => r.tenant === failure.tenant && r.user === failure.user;
    for (const p of failure.poison) {
      const event = produced.find((e) => ours(e) && e.run === p.run && e.idx === p.idx);
      if (!event) continue;
      if (received.some((a) => ours(a) && a.run === p.run && a.idx === p.idx)) {
        out.push({ invariant: 'explicit_failure', t: event.t, message: `poison event ${p.run}#${p.idx} reached an app that always throws on it` });
      }
      const undead = conns.filter((c) => ours(c) && !leftSome.has(c.conn) && !dead.some((d) => d.conn === c.conn && d.run === p.run && d.idx === p.idx));
      if (undead.length > 0 && retried === 0) out.push({ invariant: 'explicit_failure', t: event.t, message: `poison event ${p.run}#${p.idx} was never retried` });
    }
  }
  return out;
};

/** Every fuzzed frame was refused with a typed error (none was taken as a valid frame). */
export const everyFuzzRefused: Check = (records, { input }) => {
  // well-behaved tabs send no garbage: every refusal on the server side answers the rogue or a corrupted frame
  const refused = only(records, 'reject').filter((r) => r.side === 'server').length;
  // the network may drop some of the rogue's frames: those never reached the server to be refused
  const rogue = only(records, 'deliver').filter((r) => r.dir === 'c2s' && r.link.startsWith('rogue'));
  const arrived = rogue.filter((r) => !r.frame.includes('"type":"hello"')).length;
  const wanted = arrived >= 0 && only(records, 'deliver').length > 0 ? Math.min(input.workload.fuzzFrames, arrived) : input.workload.fuzzFrames;
  return refused >= wanted ? [] : [{ invariant: 'no_crash', t: 0, message: `${wanted} fuzzed frames sent, only ${refused} refused with a typed error` }];
};

/** Buffers freed after acks; nothing of a session left on the server after everyone left. */
export const buffersFreed: Check = (records) => {
  const out: Violation[] = [];
  const unacked = gauge(records, 'buffers.unacked') ?? 0;
  const leftovers = gauge(records, 'server.leftovers') ?? 0;
  if (unacked > 0) out.push({ invariant: 'bounded_buffers', t: 0, message: `${unacked} frames still buffered for want of an ack after the network healed` });
  if (leftovers > 0) out.push({ invariant: 'no_leak', t: 0, message: `${leftovers} sessions or routing entries left on the server after everyone left` });
  return out;
};

/** Memory (model) grows less than `limit` between warm-up and the end of the load. */
export const memoryGrowth =
  (limit: number): Check =>
  (records) => {
    const warm = gauge(records, 'memory.warm');
    const end = gauge(records, 'memory.end');
    if (warm === undefined || end === undefined || warm === 0) return [];
    const growth = (end - warm) / warm;
    return growth < limit ? [] : [{ invariant: 'bounded_buffers', t: 0, nominalOnly: true, message: `memory grew ${(growth * 100).toFixed(1)}% from warm-up to the end (limit ${limit * 100}%)` }];
  };

/** p99 latency of the last third of the load is not worse than the first third's by more than `slackMs`. */
export const noLatencyDrift =
  (slackMs: number): Check =>
  (records) => {
    const produced = new Map<string, number>();
    for (const p of only(records, 'produce')) produced.set(`${p.tenant}/${p.user}/${p.run}/${p.idx}`, p.t);
    // a real-time world's stalls are the machine's, not the protocol's (none in simulation)
    const stalls = stallsOf(records);
    const samples = only(records, 'app').map((a) => {
      const t = produced.get(`${a.tenant}/${a.user}/${a.run}/${a.idx}`) ?? a.t;
      return { t, latency: a.t - t - stalledWithin(stalls, t, a.t) };
    });
    if (samples.length < 30) return [];
    const end = Math.max(...samples.map((s) => s.t));
    const p99 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.max(0, Math.ceil(xs.length * 0.99) - 1)] ?? 0;
    const early = p99(samples.filter((s) => s.t < end / 3).map((s) => s.latency));
    const late = p99(samples.filter((s) => s.t >= (2 * end) / 3).map((s) => s.latency));
    return late <= early + slackMs + (gauge(records, CLOCK_TOLERANCE_GAUGE) ?? 0) ? [] : [{ invariant: 'latency', t: end, nominalOnly: true, message: `p99 latency drifted from ${early} ms (first third) to ${late} ms (last third)` }];
  };

/** Payloads above the frame limit went out in chunks, and latency grows with size on a bandwidth-limited link. */
export const largePayloads: Check = (records, { input, session }) => {
  const out: Violation[] = [];
  const big = only(records, 'produce').filter((p) => p.bytes > session.maxFrameBytes);
  if (big.length > 0 && (gauge(records, 'wire.chunkedSeqs') ?? 0) === 0) out.push({ invariant: 'integrity', t: 0, message: `${big.length} events over the frame limit, none chunked` });
  const bandwidth = input.plan.bandwidth;
  if (!bandwidth) return out;
  const produced = new Map(only(records, 'produce').map((p) => [`${p.tenant}/${p.user}/${p.run}/${p.idx}`, p]));
  for (const a of only(records, 'app')) {
    const p = produced.get(`${a.tenant}/${a.user}/${a.run}/${a.idx}`);
    if (!p) continue;
    const floor = Math.floor((p.bytes * 1000) / bandwidth);
    if (a.t - p.t < floor) out.push({ invariant: 'latency', t: a.t, conn: a.conn, message: `${p.bytes}-byte event arrived in ${a.t - p.t} ms, faster than the link allows (${floor} ms)` });
  }
  return out;
};

/** The s2c wire was kept busy: delivered bytes over the burst ≥ `share` of capacity. */
export const linkUtilisation =
  (share: number): Check =>
  (records, { input }) => {
    const bandwidth = input.plan.bandwidth;
    if (!bandwidth) return [];
    const out: Violation[] = [];
    const lateness = latenessOf(records);
    const byLink = new Map<string, { first: number; last: number; bytes: number }>();
    for (const r of only(records, 'deliver')) {
      // the busy period is the burst itself: heartbeats and acks afterwards are not load
      if (r.dir !== 's2c' || r.link.startsWith('rogue') || !r.frame.includes('"type":"event"')) continue;
      const s = byLink.get(r.link) ?? { first: Infinity, last: 0, bytes: 0 };
      byLink.set(r.link, s);
      s.first = Math.min(s.first, r.t - (r.bytes * 1000) / bandwidth);
      s.last = Math.max(s.last, r.t);
      s.bytes += r.bytes;
    }
    for (const [link, s] of byLink) {
      // a real-time world's link carries nothing it could count while the world stands still (0 in simulation)
      const capacity = ((s.last - s.first - lateness(s.first, s.last)) * bandwidth) / 1000;
      if (s.bytes < 50_000 || capacity <= 0) continue; // only links that carried a burst
      if (s.bytes / capacity < share) out.push({ invariant: 'latency', t: s.last, nominalOnly: true, conn: clientOf(link), message: `link ${link} carried ${s.bytes} bytes in ${(s.last - s.first).toFixed(0)} ms: ${((100 * s.bytes) / capacity).toFixed(1)}% of capacity (< ${share * 100}%)` });
    }
    return out;
  };

/** Critical events of one run reached their apps: a sanity floor used by load scenarios. */
export const someDelivered: Check = (records) => {
  const critical = only(records, 'produce').filter((p) => isCritical(p.type)).length;
  return critical > 0 && only(records, 'app').length === 0 ? [{ invariant: 'completeness', t: 0, message: 'nothing was delivered at all' }] : [];
};

/**
 * A resync the client may not have heard is repeated on every event frame of
 * its stream (`event.resync`) until the client acks past the stream's new
 * start: a lost `resync_required` can never turn into a silent gap.
 */
export const resyncRepeated: Check = (records) => {
  const resyncs = wireFrames(records, 'send', 'resync_required').filter((f) => f.dir === 's2c' && f.frame.type === 'resync_required');
  if (resyncs.length === 0) return [];
  const links = new Set(resyncs.map((f) => f.link));
  const sent = wireFrames(records, 'send', '"type":"event"', (l) => links.has(l)).filter((f) => f.dir === 's2c');
  const acks = wireFrames(records, 'deliver', '"type":"ack"', (l) => links.has(l)).filter((f) => f.dir === 'c2s');
  // a new subscribe on the link opens a new stream, which answers for itself
  const asks = wireFrames(records, 'deliver', '"type":"subscribe"', (l) => links.has(l)).filter((f) => f.dir === 'c2s');
  const pending = new Map<string, number>(); // link|thread → the resync's start, until acked past
  const out: Violation[] = [];
  for (const f of inTraceOrder(resyncs, sent, acks, asks)) {
    const { frame } = f;
    if (frame.type === 'resync_required') pending.set(`${f.link}\u0000${frame.thread}`, frame.from!);
    else if (frame.type === 'subscribe') pending.delete(`${f.link}\u0000${frame.thread}`);
    else if (frame.type === 'ack') {
      for (const [thread, upTo] of Object.entries(frame.acks ?? {})) if (upTo >= (pending.get(`${f.link}\u0000${thread}`) ?? Infinity)) pending.delete(`${f.link}\u0000${thread}`);
    } else if (frame.type === 'event') {
      const from = pending.get(`${f.link}\u0000${frame.thread}`);
      if (from !== undefined && frame.seq! >= from && !frame.resync) {
        out.push({ invariant: 'explicit_resync', t: f.t, conn: clientOfLink(f.link), message: `event ${frame.thread}#${frame.seq} went out on ${f.link} without repeating the resync from ${from} the client had not acked past` });
        pending.delete(`${f.link}\u0000${frame.thread}`);
      }
    }
  }
  return out;
};

/**
 * Once the server has an unsubscribe, it sends that link nothing more of the
 * thread (until subscribed again), and its routing index no longer holds the
 * link for it. A NOTIFY that finds nothing to send leaves no record (an idle
 * outbox flushes in the NOTIFY's own step), so a stale entry shows where it
 * outlives its session: routing entries left on the server after everyone left.
 */
export const quietAfterUnsubscribe: Check = (records) => {
  const leftovers = gauge(records, 'server.leftovers') ?? 0;
  const stale: Violation[] = leftovers > 0 ? [{ invariant: 'waste', t: 0, message: `${leftovers} sessions or routing entries left on the server after everyone left: an unsubscribe kept its routing entry` }] : [];
  return [...stale, ...quietOnTheWire(records)];
};

/** No frame of a thread on a link after the server had the link's unsubscribe of it (until subscribed again). */
function quietOnTheWire(records: readonly TraceRecord[]): Violation[] {
  const asks = wireFrames(records, 'deliver', 'subscribe').concat(wireFrames(records, 'deliver', '"type":"resume"')).filter((f) => f.dir === 'c2s');
  const left = asks.filter((f) => f.frame.type === 'unsubscribe');
  if (left.length === 0) return [];
  const links = new Set(left.map((f) => f.link));
  const sent = wireFrames(records, 'send', '"thread"', (l) => links.has(l)).filter((f) => f.dir === 's2c' && f.frame.thread !== undefined);
  const gone = new Set<string>();
  const reported = new Set<string>();
  const out: Violation[] = [];
  for (const f of inTraceOrder(asks.filter((a) => links.has(a.link)), sent)) {
    const { frame } = f;
    const key = (thread: string) => `${f.link}\u0000${thread}`;
    if (f.dir === 'c2s') {
      const threads = frame.type === 'resume' ? Object.keys(frame.positions ?? {}) : [frame.thread!];
      for (const thread of threads) (frame.type === 'unsubscribe' ? gone.add(key(thread)) : gone.delete(key(thread)));
    } else if (gone.has(key(frame.thread!)) && !reported.has(key(frame.thread!))) {
      reported.add(key(frame.thread!));
      out.push({ invariant: 'waste', t: f.t, conn: clientOfLink(f.link), message: `${frame.type} of thread ${frame.thread} went out on ${f.link} after the server had its unsubscribe` });
    }
  }
  return out;
}

/** Links the protocol itself closed to recover (ack timeout, silent peer, shed), not ones a fault cut. */
const RECOVERY_CLOSES = new Set([4000, 4001, 1013]);

/**
 * Waste is a failure: retransmissions and the reconnects the protocol forced
 * (ack timeouts, reaped or shed links) per delivered event stay within the
 * scenario's bounds. `slack` events of allowance keep tiny runs, where one
 * lost frame weighs a lot, from failing on noise.
 */
export const wasteBounds =
  (bounds: { retransmitsPerEvent: number; recoveriesPerEvent: number; slack?: number }): Check =>
  (records, { metrics }) => {
    const events = metrics.delivered + (bounds.slack ?? 20);
    const recoveries = only(records, 'link').filter((r) => r.event === 'close' && r.code !== undefined && RECOVERY_CLOSES.has(r.code) && !r.link.startsWith('rogue')).length;
    const out: Violation[] = [];
    if (metrics.retransmissions > bounds.retransmitsPerEvent * events) out.push({ invariant: 'waste', t: 0, nominalOnly: true, message: `${metrics.retransmissions} retransmissions for ${metrics.delivered} delivered events (bound ${bounds.retransmitsPerEvent} per event, ${bounds.slack ?? 20} events of slack)` });
    if (recoveries > bounds.recoveriesPerEvent * events) out.push({ invariant: 'waste', t: 0, nominalOnly: true, message: `${recoveries} links closed by the protocol to recover (ack timeout, silent peer, shed) for ${metrics.delivered} delivered events (bound ${bounds.recoveriesPerEvent} per event)` });
    return out;
  };

/**
 * A successful connection resets the backoff: the first wait after leaving
 * `open` is drawn below the base delay, so the median of those waits must be
 * below it (a median, not every wait, so that real timers running a little
 * late over sockets do not count; a counter that never resets draws waits up
 * to the cap, and its median is far above the base).
 */
export const backoffResets: Check = (records, { client }) => {
  const fromOpen = new Map<string, number>();
  const waits: { actor: string; t: number; ms: number }[] = [];
  for (const r of only(records, 'transition')) {
    if (r.to === 'reconnecting') {
      if (r.from.startsWith('open')) fromOpen.set(r.actor, r.t);
      else fromOpen.delete(r.actor);
    } else if (r.from === 'reconnecting' && r.to === 'connecting') {
      const since = fromOpen.get(r.actor);
      fromOpen.delete(r.actor);
      if (since !== undefined) waits.push({ actor: r.actor, t: r.t, ms: r.t - since });
    }
  }
  if (waits.length < 3) return [];
  const median = [...waits].sort((a, b) => a.ms - b.ms)[Math.floor((waits.length - 1) / 2)]!;
  if (median.ms <= client.backoffBaseMs) return [];
  const worst = waits.reduce((a, b) => (b.ms > a.ms ? b : a));
  return [{ invariant: 'backoff_bounds', t: worst.t, conn: worst.actor, message: `after a successful connection the median first wait to reconnect was ${median.ms.toFixed(0)} ms over ${waits.length} reconnects, over the base delay ${client.backoffBaseMs} ms (the attempt counter did not reset; ${worst.actor} waited ${worst.ms.toFixed(0)} ms)` }];
};
