/**
 * What the timelines (text and HTML) share: which lane a record belongs to,
 * a one-line description of each record, a short summary of a wire frame, and
 * the explanation of a violation. Pure functions of the trace: the renderers
 * never look at a machine, like the oracle.
 *
 * Lanes: `run <id>` (a producer), `hub`, `session <link>`, `network`,
 * `client <conn>`, `app <conn>`, `world` (gauges, the end). A link id is
 * `<conn>#<n>`: the n-th connection of client <conn>, served by session <link>.
 */
import { describeFaultPlan, validateFaultPlan } from '../sim/fault-plan.ts';
import type { InvariantName, Violation } from '../sim/oracle.ts';
import type { RecordOf, TraceRecord } from '../sim/records.ts';
import { roundNumbers } from './duration.ts';

export type LaneKind = 'producer' | 'hub' | 'session' | 'network' | 'client' | 'app' | 'world';

export interface Lane {
  kind: LaneKind;
  /** The actor's id: run id, link id, conn id; 'hub', 'network', 'world'. */
  id: string;
  /** The client endpoint a session/client/app lane belongs to (groups lanes in the HTML). */
  endpoint?: string;
}

export const laneName = (lane: Lane): string => {
  switch (lane.kind) {
    case 'producer':
      return `run ${lane.id}`;
    case 'session':
      return `session ${lane.id}`;
    case 'client':
      return `client ${lane.id}`;
    case 'app':
      return `app ${lane.id}`;
    default:
      return lane.kind;
  }
};

/** The client a link belongs to: 't0/u0/0#3' → 't0/u0/0'. */
export const connOfLink = (link: string): string => {
  const hash = link.lastIndexOf('#');
  return hash < 0 ? link : link.slice(0, hash);
};

const HUB: Lane = { kind: 'hub', id: 'hub' };
const NETWORK: Lane = { kind: 'network', id: 'network' };
const WORLD: Lane = { kind: 'world', id: 'world' };
const session = (link: string): Lane => ({ kind: 'session', id: link, endpoint: connOfLink(link) });
const client = (conn: string): Lane => ({ kind: 'client', id: conn, endpoint: conn });
const app = (conn: string): Lane => ({ kind: 'app', id: conn, endpoint: conn });

/** The lane of an actor id from a `transition` record. */
export function actorLane(actor: string): Lane {
  if (actor === 'hub') return HUB;
  if (actor.startsWith('run:')) return { kind: 'producer', id: actor.slice(4) };
  if (actor.includes('#')) return session(actor);
  return client(actor);
}

/**
 * The lane a record is drawn on. Frames sit on their sender's lane when sent
 * and on the receiver's when delivered; what the network does to them (drop,
 * dup) and faults sit on the network lane.
 */
export function laneOf(r: TraceRecord): Lane {
  switch (r.k) {
    case 'run':
    case 'gauge':
    case 'end':
      return WORLD;
    case 'produce':
      return { kind: 'producer', id: r.run };
    case 'conn':
      return client(r.conn);
    case 'role':
      return HUB;
    case 'subscribe':
    case 'app':
    case 'resync':
    case 'app_error':
      return app(r.conn);
    case 'send':
      return r.dir === 'c2s' ? client(connOfLink(r.link)) : session(r.link);
    case 'deliver':
      return r.dir === 'c2s' ? session(r.link) : client(connOfLink(r.link));
    case 'drop':
    case 'dup':
    case 'fault':
    case 'link':
    case 'rogue':
    case 'runaway':
      return NETWORK;
    case 'transition':
      return actorLane(r.actor);
    case 'reject':
      return r.side === 'client' ? client(connOfLink(r.link)) : session(r.link);
  }
}

// ---------------------------------------------------------------- frames

const patterns = new Map<string, RegExp>();
const pattern = (source: string): RegExp => {
  let re = patterns.get(source);
  if (!re) patterns.set(source, (re = new RegExp(source)));
  return re;
};
const num = (text: string, field: string): string | undefined => pattern(`"${field}":(\\d+)`).exec(text)?.[1];
const str = (text: string, field: string): string | undefined => pattern(`"${field}":"([^"]*)"`).exec(text)?.[1];

/** seqs of the event frames in a (possibly clipped) batch: '#3..7' or '#3,5'. */
function seqRange(text: string): string {
  const seqs = [...text.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
  if (seqs.length === 0) return '';
  const first = seqs[0]!;
  const last = seqs[seqs.length - 1]!;
  const contiguous = seqs.every((s, i) => s === first + i);
  return contiguous ? (first === last ? `#${first}` : `#${first}..${last}`) : `#${seqs.join(',')}`;
}

/**
 * A short summary of a wire frame from its (possibly clipped, possibly
 * corrupt) text: type, thread and sequence numbers. Never throws.
 */
export function summarizeFrame(text: string): string {
  const type = str(text, 'type');
  const thread = str(text, 'thread');
  switch (type) {
    case undefined:
      return `garbage ${JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text)}`;
    case 'hello':
      return 'hello';
    case 'welcome':
      return `welcome ${str(text, 'epoch') ?? ''}`.trim();
    case 'subscribe':
      return `subscribe ${thread} from ${num(text, 'from')}${str(text, 'epoch') ? ` @${str(text, 'epoch')}` : ''}`;
    case 'unsubscribe':
      return `unsubscribe ${thread}`;
    case 'subscribed':
      return `subscribed ${thread} from ${num(text, 'from')}${text.includes('"recovered":true') ? ' (recovered)' : ''}`;
    case 'resync_required':
      return `resync_required ${thread} → ${num(text, 'from')} (${str(text, 'reason')})`;
    case 'resume': {
      const positions = /"positions":\{([^}]*)\}?/.exec(text)?.[1] ?? '';
      return `resume @${str(text, 'epoch')} ${positions.replace(/"/g, '')}`;
    }
    case 'ack': {
      const acks = /"acks":\{([^}]*)\}?/.exec(text)?.[1] ?? '';
      return `ack ${acks.replace(/"/g, '').replace(/:/g, '≤')}`;
    }
    case 'ping':
    case 'pong':
      return `${type} ${num(text, 'id') ?? ''}`.trim();
    case 'error':
      return `error ${str(text, 'code') ?? ''}`.trim();
    case 'chunk':
      return `chunk ${thread}#${num(text, 'seq')} ${Number(num(text, 'index') ?? 0) + 1}/${num(text, 'count')}`;
    case 'event': {
      const through = num(text, 'through');
      const event = /"event":\{/.test(text) ? /"event":\{[^]*?"type":"([a-z_]+)"/.exec(text)?.[1] ?? 'event' : 'withheld';
      return `event ${thread}#${num(text, 'seq')}${through ? `..${through}` : ''} ${event}`;
    }
    case 'batch': {
      const frames = (text.match(/\{"v":1,"type":"/g)?.length ?? 1) - 1;
      const clipped = text.endsWith('}]}') ? '' : '+';
      const threads = [...new Set([...text.matchAll(/"thread":"([^"]*)"/g)].map((m) => m[1]))].join(',');
      return `batch[${frames}${clipped}] ${threads}${seqRange(text)}`;
    }
    default:
      return type;
  }
}

// ---------------------------------------------------------------- records

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The fault plan as one line (the plan's own describer when it validates). */
export function faultPlanLine(plan: unknown): string {
  const valid = validateFaultPlan(plan);
  return valid.ok ? describeFaultPlan(valid.value) : JSON.stringify(plan);
}

/**
 * The run in one line. A trace knows only the world seed (the one its PRNG
 * ran on, drawn from the seed the user typed); with the user's seed given,
 * that one leads and the world seed is named as such.
 */
export function runHeader(r: RecordOf<'run'>, seed?: number): string {
  const path = r.path ? `  path ${r.path}` : '';
  return seed === undefined ? `scenario ${r.scenario}  world seed ${r.seed}${path}` : `scenario ${r.scenario}  seed ${seed}${path}  (world seed ${r.seed})`;
}

/** What happened, in one line (without time and lane). */
export function describe(r: TraceRecord): string {
  switch (r.k) {
    case 'run':
      return `${runHeader(r)}  plan ${faultPlanLine(r.faultPlan)}`;
    case 'produce':
      return `produce ${r.type} #${r.idx} → ${r.tenant}/${r.user} ${r.thread} (${r.sensitivity}, ${r.bytes} B)`;
    case 'conn':
      return `tab opens as ${r.tenant}/${r.user} (${r.role})`;
    case 'role':
      return `role of ${r.tenant}/${r.user} → ${r.role}`;
    case 'subscribe':
      return `${r.on ? 'subscribe' : 'unsubscribe'} ${r.thread}`;
    case 'send':
      return `${r.dir === 'c2s' ? '──▶' : '◀──'} send ${summarizeFrame(r.frame)} [${r.link}] ${r.bytes} B`;
    case 'deliver':
      return `${r.dir === 'c2s' ? '──▶' : '◀──'} deliver ${summarizeFrame(r.frame)} [${r.link}]`;
    case 'drop':
      return `✗ drop ${r.dir} ${summarizeFrame(r.frame)} [${r.link}] (${r.reason})`;
    case 'dup':
      return `⧉ duplicate ${r.dir} ${summarizeFrame(r.frame)} [${r.link}]`;
    case 'fault':
      return `⚡ fault ${r.fault}${r.target ? ` ${r.target}` : ''}${r.detail ? ` (${r.detail})` : ''}`;
    case 'rogue':
      return `☠ rogue ${r.rogue} (${r.kind}) ${r.event}${r.code !== undefined ? ` ${r.code}` : ''}${r.owner ? ` of ${r.owner}` : ''}`;
    case 'runaway':
      return `⛔ runaway ${r.dir} [${r.link}]: would hold ${r.bytes} B, over the bound ${r.bound} B`;
    case 'link':
      return r.event === 'open' ? `link ${r.link} open` : `link ${r.link} closed${r.code !== undefined ? ` ${r.code}` : ''}${r.reason ? ` ${r.reason}` : ''}`;
    case 'transition':
      return `${transitionSummary(r.from, r.to)} [${eventName(r.event)}]`;
    case 'app':
      return `received ${r.type} ${r.run}#${r.idx} (${r.thread} seq ${r.seq}${r.redacted ? ', redacted' : ''}${r.receivedHash !== r.hash ? ', HASH MISMATCH' : ''})`;
    case 'resync':
      return `resync ${r.thread}: ${r.from} → ${r.to} (${r.reason})`;
    case 'app_error':
      return `${r.dead ? 'dead letter' : 'app error'} ${r.run}#${r.idx} (${r.thread} seq ${r.seq}, attempt ${r.attempt}): ${r.message}`;
    case 'reject':
      return `rejected frame: ${r.code} ${r.detail} [${r.link}]`;
    case 'gauge':
      return `gauge ${r.name} of ${r.owner} = ${r.value}${r.cap !== undefined ? ` (cap ${r.cap})` : ''}`;
    case 'end':
      return `end: ${plural(r.pendingTimers, 'timer')}, ${plural(r.liveActors, 'live actor')}, ${plural(r.openLinks, 'open link')} left; healed at ${formatTime(r.healedAt)} ms`;
  }
}

/** 'xstate.after.rto.session.open.retransmit.armed' → 'after rto'. */
export function eventName(event: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(event);
  return after ? `after ${after[1]}` : event;
}

/** 'open(a.x,b.y)' → { top: 'open', regions: [['a','x'], ['b','y']] }; null when not that shape. */
function parallelParts(state: string): { top: string; regions: [string, string][] } | null {
  const m = /^([^()]+)\(([^()]*)\)$/.exec(state);
  if (!m) return null;
  const regions: [string, string][] = [];
  for (const part of m[2]!.split(',')) {
    const dot = part.indexOf('.');
    if (dot < 0) return null;
    regions.push([part.slice(0, dot), part.slice(dot + 1)]);
  }
  return { top: m[1]!, regions };
}

/**
 * A transition in a few words: within one parallel state only the regions that
 * changed ('open: acks idle → pending'), otherwise 'from → to'.
 */
export function transitionSummary(from: string, to: string, short = false): string {
  const a = parallelParts(from);
  const b = parallelParts(to);
  if (a && b && a.top === b.top && a.regions.length === b.regions.length && a.regions.every(([name], i) => b.regions[i]![0] === name)) {
    const changed = a.regions.flatMap(([name, x], i) => (x === b.regions[i]![1] ? [] : [`${name} ${x} → ${b.regions[i]![1]}`]));
    return `${a.top}: ${changed.join(', ')}`;
  }
  const cut = (state: string): string => (short ? state.replace(/\(.*\)$/, '') : state);
  return `${cut(from) || '∅'} → ${cut(to)}`;
}

/** Simulated time for display: whole ms stay whole, others get one decimal. */
export const formatTime = (t: number): string => (Number.isInteger(t) ? String(t) : t.toFixed(1));

// ---------------------------------------------------------------- violations

/** What each invariant expects, in a sentence. */
export const EXPECTED: Record<InvariantName, string> = {
  exactly_once: 'every critical event reaches each app that should have it exactly once',
  order: 'each app receives a run\'s events in the order the producer emitted them',
  run_contract: 'agent_started first, tools closed after opened, agent_completed last',
  isolation: 'an event reaches only connections of its owner that are subscribed to its thread',
  role_policy: 'restricted events and fields reach only the roles the policy allows',
  integrity: 'what arrives is what was produced (same type, thread, payload hash)',
  completeness: 'every critical event is received, or the loss is explicit (resync or dead letter)',
  explicit_resync: 'a resync the client may not have heard is repeated on every event frame until acked past',
  waste: 'no frame of a thread after its unsubscribe; retransmissions and reconnects per event within bounds',
  no_leak: 'nothing is left running after every client and the server stopped',
  reconnect: 'a client reconnects while the server is reachable and never ends in failed',
  bounded_buffers: 'every buffer stays within its cap',
  bounded_retransmits: 'retransmissions are bounded and stop at the ack',
  runaway: 'no sender hands the network more than one link direction may hold',
  heartbeat_detection: 'a dead peer is detected within H+T on both sides',
  backoff_bounds: 'reconnect delays stay within the backoff bounds',
  explicit_failure: 'a client that gives up says why',
  latency: 'events arrive within the latency threshold',
  no_crash: 'no actor crashes on any input',
};

/** The event a violation names (`run#idx`), if any. */
function eventRef(v: Violation): { run: string; idx: number } | undefined {
  const ref = /([^\s,()]+)#(\d+)/.exec(v.message);
  return ref ? { run: ref[1]!, idx: Number(ref[2]) } : undefined;
}

/**
 * The delivery a violation is about: the app record on its connection, at its
 * time, of the event it names. Its tenant and user say whose event it was
 * (run ids may collide across users and tenants).
 */
export function offendingDelivery(v: Violation, records: readonly TraceRecord[]): RecordOf<'app'> | undefined {
  const ref = eventRef(v);
  if (!ref || v.conn === undefined) return undefined;
  return records.find((r): r is RecordOf<'app'> => r.k === 'app' && r.conn === v.conn && r.t === v.t && r.run === ref.run && r.idx === ref.idx);
}

/**
 * A violation explained from the trace: what was expected, who the connection
 * is, and the story of the event it names (`run#idx`): when it was produced,
 * for whom, and what the connection's app got of it.
 */
export function explainViolation(v: Violation, records: readonly TraceRecord[]): string[] {
  const lines = [`${v.invariant} violated at ${formatTime(v.t)} ms: ${roundNumbers(v.message)}`, `expected: ${EXPECTED[v.invariant] ?? v.invariant}`];
  const conn = v.conn === undefined ? undefined : records.find((r): r is RecordOf<'conn'> => r.k === 'conn' && r.conn === v.conn);
  if (conn) lines.push(`connection ${conn.conn}: user ${conn.tenant}/${conn.user}, role ${conn.role}`);
  const ref = eventRef(v);
  if (!ref) return lines;
  const { run, idx } = ref;
  // whose event: the offending delivery says, else the "of T/U" of the message, else the only one
  const delivered = offendingDelivery(v, records);
  const named = /\bof ([^\s/]+)\/([^\s,]+)/.exec(v.message);
  const owner = delivered ? { tenant: delivered.tenant, user: delivered.user } : named ? { tenant: named[1]!, user: named[2]! } : undefined;
  const same = (r: { tenant: string; user: string }) => !owner || (r.tenant === owner.tenant && r.user === owner.user);
  const produced = records.find((r): r is RecordOf<'produce'> => r.k === 'produce' && r.run === run && r.idx === idx && same(r));
  if (produced) lines.push(`event ${run}#${idx}: ${produced.type}, produced at ${formatTime(produced.t)} ms for ${produced.tenant}/${produced.user} on thread ${produced.thread} (${produced.sensitivity})`);
  if (v.conn !== undefined) {
    const got = records.filter((r): r is RecordOf<'app'> => r.k === 'app' && r.conn === v.conn && r.run === run && same(r));
    const times = got.filter((r) => r.idx === idx).map((r) => `${formatTime(r.t)} ms (seq ${r.seq})`);
    lines.push(`${v.conn} received it ${times.length === 0 ? 'never' : `at ${times.join(', ')}`}; run ${run} as received: ${got.map((r) => `#${r.idx}`).join(' ') || 'nothing'}`);
  }
  return lines;
}
