/**
 * The fault plan: everything the simulated network may do wrong, as data.
 * A plan plus a seed reproduces a run, so the plan is validated once at the
 * edge (CLI flags, scenario files) and printed in full at start and on failure.
 */
import { describeBrokerFaults, type BrokerFault } from './broker-faults.ts';

export type Dir = 'c2s' | 's2c';

/**
 * What a rogue client does (see sim/rogue.ts): each is an attack of issue 10
 * or one like it, by a client holding a valid token of its own.
 */
export const ROGUE_KINDS = [
  'forge_conn_id',
  'token_mismatch',
  'revoked_token',
  'resume_foreign',
  'name_bomb',
  'thread_flood',
  'deep_nesting',
  'oversized',
  'idle_no_hello',
  'garbage_keepalive',
  'replay_storm',
  'ping_flood',
] as const;
export type RogueKind = (typeof ROGUE_KINDS)[number];

/** One rogue client: it connects at `at`, attacks, and leaves at `leaveAt`. */
export interface RogueSpec {
  kind: RogueKind;
  at: number;
  leaveAt: number;
}

export interface Window {
  from: number;
  to: number;
}

export interface LinkShape {
  target: string;
  /** bytes/s */
  bandwidth?: number;
  sendBufferBytes?: number;
  latencyMs?: number;
}

/**
 * target: 'all' | 'tenant:<t>' | 'user:<t>/<u>' | 'endpoint:<t>/<u>/<tab>',
 * matched against a client endpoint string '<t>/<u>/<tab>'.
 */
export interface FaultPlan {
  /** Per frame: base + uniform[0, jitter). */
  latency: { baseMs: number; jitterMs: number };
  /** Probabilities per frame in [0, 1]. */
  drop: number;
  dup: number;
  reorder: number;
  corrupt: number;
  /** At each time (and every everyMs while < healAt) close ONE random open link with 1006 on both sides. */
  disconnect: { at: number[]; everyMs?: number };
  /** Frames to/from matching endpoints dropped; connects refused (1006). */
  partitions: (Window & { target: string })[];
  /** Frames in that direction silently lost; the link looks open. */
  halfOpen: (Window & { target: string; dir: Dir })[];
  /** Connect attempts neither open nor fail (the client's connect timeout must handle it). */
  blackholes: (Window & { target: string })[];
  /** Default bytes/s per link direction (undefined = unlimited). */
  bandwidth?: number;
  /** Default cap of bytes queued per direction before backpressure is reported. */
  sendBufferBytes?: number;
  /** Per-endpoint overrides (first match wins). */
  links: LinkShape[];
  /** Server restart: every link closed 1012 'restart', connects refused while down, then onRestart. */
  restarts: { at: number; downMs: number }[];
  /** From this time on: no drop/dup/reorder/corrupt/disconnect; windows are cut at healAt. */
  healAt: number;
  /** Hostile clients (a fault kind like a partition); absent = none. */
  rogues?: RogueSpec[];
  /** Many nodes on one broker (sim/cluster-world.ts); absent = one embedded server. */
  cluster?: ClusterPlan;
}

/** A node crash: no goodbye (its links close 1006), back empty under the same name after `downMs`. */
export interface NodeCrash {
  /** Index of the node, 0-based. */
  node: number;
  at: number;
  downMs: number;
}

export interface ClusterPlan {
  nodes: number;
  /** One-way latency between a node and the broker. */
  brokerLatency: { minMs: number; maxMs: number };
  broker: BrokerFault[];
  crashes: NodeCrash[];
}

export const CALM_PLAN: FaultPlan = {
  latency: { baseMs: 5, jitterMs: 0 },
  drop: 0,
  dup: 0,
  reorder: 0,
  corrupt: 0,
  disconnect: { at: [] },
  partitions: [],
  halfOpen: [],
  blackholes: [],
  links: [],
  restarts: [],
  healAt: 0,
};

export type FaultPlanError = { kind: 'fault_plan'; field: string; message: string };

type Result<T> = { ok: true; value: T } | { ok: false; error: FaultPlanError };

// ---------------------------------------------------------------- targets

const SEGMENT = '[^/\\s:]+';
const TARGET = new RegExp(`^(all|tenant:${SEGMENT}|user:${SEGMENT}/${SEGMENT}|endpoint:${SEGMENT}/${SEGMENT}/${SEGMENT})$`);

export function isValidTarget(target: string): boolean {
  return TARGET.test(target);
}

/** Does `target` select the client endpoint '<t>/<u>/<tab>'? */
export function matchesTarget(target: string, endpoint: string): boolean {
  if (target === 'all') return true;
  const colon = target.indexOf(':');
  const scope = target.slice(0, colon);
  const what = target.slice(colon + 1);
  if (scope === 'endpoint') return endpoint === what;
  // A prefix of whole segments: 'acme' must not match 'acme2/...'.
  if (scope === 'tenant' || scope === 'user') return endpoint.startsWith(`${what}/`);
  return false;
}

/** Is t inside the window, with the window cut at healAt? */
export function inWindow(w: Window, t: number, healAt: number): boolean {
  return t >= w.from && t < w.to && t < healAt;
}

// ---------------------------------------------------------------- validation

/** Thrown inside the validator only, turned into a result at its edge. */
class Invalid {
  constructor(readonly field: string, readonly message: string) {}
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function num(v: unknown, field: string, check: (n: number) => string | null = () => null): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(field, `must be a finite number, got ${show(v)}`);
  const problem = check(v);
  if (problem !== null) throw new Invalid(field, `${problem}, got ${v}`);
  return v;
}

const nonNegative = (n: number): string | null => (n < 0 ? 'must be >= 0' : null);
const positive = (n: number): string | null => (n <= 0 ? 'must be > 0' : null);
const probability = (n: number): string | null => (n < 0 || n > 1 ? 'must be a probability in [0, 1]' : null);

function optNum(v: unknown, field: string, check: (n: number) => string | null): number | undefined {
  return v === undefined ? undefined : num(v, field, check);
}

function target(v: unknown, field: string): string {
  if (typeof v !== 'string' || !isValidTarget(v)) {
    throw new Invalid(field, `must be 'all' | 'tenant:<t>' | 'user:<t>/<u>' | 'endpoint:<t>/<u>/<tab>', got ${show(v)}`);
  }
  return v;
}

function obj(v: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(v)) throw new Invalid(field, `must be an object, got ${show(v)}`);
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) throw new Invalid(join(field, key), 'unknown field');
  }
  return v;
}

function list<T>(v: unknown, field: string, item: (x: unknown, field: string) => T): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Invalid(field, `must be an array, got ${show(v)}`);
  return v.map((x, i) => item(x, `${field}[${i}]`));
}

function window(o: Record<string, unknown>, field: string): Window {
  const from = num(o.from, `${field}.from`, nonNegative);
  const to = num(o.to, `${field}.to`, (n) => (n < from ? `must be >= from (${from})` : null));
  return { from, to };
}

function targetWindow(x: unknown, field: string): Window & { target: string } {
  const o = obj(x, field, ['target', 'from', 'to']);
  return { target: target(o.target, `${field}.target`), ...window(o, field) };
}

function halfOpen(x: unknown, field: string): Window & { target: string; dir: Dir } {
  const o = obj(x, field, ['target', 'from', 'to', 'dir']);
  if (o.dir !== 'c2s' && o.dir !== 's2c') throw new Invalid(`${field}.dir`, `must be 'c2s' or 's2c', got ${show(o.dir)}`);
  return { target: target(o.target, `${field}.target`), ...window(o, field), dir: o.dir };
}

function linkShape(x: unknown, field: string): LinkShape {
  const o = obj(x, field, ['target', 'bandwidth', 'sendBufferBytes', 'latencyMs']);
  return withoutUndefined({
    target: target(o.target, `${field}.target`),
    bandwidth: optNum(o.bandwidth, `${field}.bandwidth`, positive),
    sendBufferBytes: optNum(o.sendBufferBytes, `${field}.sendBufferBytes`, nonNegative),
    latencyMs: optNum(o.latencyMs, `${field}.latencyMs`, nonNegative),
  });
}

function rogue(x: unknown, field: string): RogueSpec {
  const o = obj(x, field, ['kind', 'at', 'leaveAt']);
  if (typeof o.kind !== 'string' || !(ROGUE_KINDS as readonly string[]).includes(o.kind)) throw new Invalid(`${field}.kind`, `must be one of ${ROGUE_KINDS.join(', ')}, got ${show(o.kind)}`);
  const at = num(o.at, `${field}.at`, nonNegative);
  return { kind: o.kind as RogueKind, at, leaveAt: num(o.leaveAt, `${field}.leaveAt`, (n) => (n < at ? `must be >= at (${at})` : null)) };
}

function restart(x: unknown, field: string): { at: number; downMs: number } {
  const o = obj(x, field, ['at', 'downMs']);
  return { at: num(o.at, `${field}.at`, nonNegative), downMs: num(o.downMs, `${field}.downMs`, nonNegative) };
}

function brokerFault(x: unknown, field: string): BrokerFault {
  const o = obj(x, field, ['kind', 'node', 'at', 'forMs', 'keepData']);
  const at = num(o.at, `${field}.at`, nonNegative);
  const forMs = num(o.forMs, `${field}.forMs`, nonNegative);
  if (o.kind === 'partition') {
    if (typeof o.node !== 'string' || o.node === '') throw new Invalid(`${field}.node`, `must be a node name, got ${show(o.node)}`);
    return { kind: 'partition', node: o.node, at, forMs };
  }
  if (o.kind !== 'restart') throw new Invalid(`${field}.kind`, `must be 'partition' or 'restart', got ${show(o.kind)}`);
  if (typeof o.keepData !== 'boolean') throw new Invalid(`${field}.keepData`, `must be true or false, got ${show(o.keepData)}`);
  return { kind: 'restart', at, forMs, keepData: o.keepData };
}

function cluster(x: unknown): ClusterPlan {
  const o = obj(x, 'cluster', ['nodes', 'brokerLatency', 'broker', 'crashes']);
  const nodes = num(o.nodes, 'cluster.nodes', (n) => (Number.isInteger(n) && n >= 1 && n <= 16 ? null : 'must be an integer 1..16'));
  const lat = obj(o.brokerLatency, 'cluster.brokerLatency', ['minMs', 'maxMs']);
  const minMs = num(lat.minMs, 'cluster.brokerLatency.minMs', nonNegative);
  const crash = (c: unknown, field: string): NodeCrash => {
    const co = obj(c, field, ['node', 'at', 'downMs']);
    return { node: num(co.node, `${field}.node`, (n) => (Number.isInteger(n) && n >= 0 && n < nodes ? null : `must be a node index 0..${nodes - 1}`)), at: num(co.at, `${field}.at`, nonNegative), downMs: num(co.downMs, `${field}.downMs`, nonNegative) };
  };
  return {
    nodes,
    brokerLatency: { minMs, maxMs: num(lat.maxMs, 'cluster.brokerLatency.maxMs', (n) => (n < minMs ? `must be >= minMs (${minMs})` : null)) },
    broker: list(o.broker, 'cluster.broker', brokerFault),
    crashes: list(o.crashes, 'cluster.crashes', crash),
  };
}

const PLAN_FIELDS = [
  'latency', 'drop', 'dup', 'reorder', 'corrupt', 'disconnect', 'partitions', 'halfOpen',
  'blackholes', 'bandwidth', 'sendBufferBytes', 'links', 'restarts', 'healAt', 'rogues', 'cluster',
] as const;

/** Missing fields take CALM_PLAN's value; unknown fields are errors (a typo must not pass silently). */
function plan(input: unknown): FaultPlan {
  const o = obj(input, '(plan)', PLAN_FIELDS);
  const lat = o.latency === undefined ? CALM_PLAN.latency : obj(o.latency, 'latency', ['baseMs', 'jitterMs']);
  const dis = o.disconnect === undefined ? CALM_PLAN.disconnect : obj(o.disconnect, 'disconnect', ['at', 'everyMs']);
  const p = (key: 'drop' | 'dup' | 'reorder' | 'corrupt'): number => (o[key] === undefined ? 0 : num(o[key], key, probability));
  return withoutUndefined({
    latency: { baseMs: num(lat.baseMs, 'latency.baseMs', nonNegative), jitterMs: num(lat.jitterMs, 'latency.jitterMs', nonNegative) },
    drop: p('drop'),
    dup: p('dup'),
    reorder: p('reorder'),
    corrupt: p('corrupt'),
    disconnect: withoutUndefined({
      at: list(dis.at, 'disconnect.at', (x, f) => num(x, f, nonNegative)),
      everyMs: optNum(dis.everyMs, 'disconnect.everyMs', positive),
    }),
    partitions: list(o.partitions, 'partitions', targetWindow),
    halfOpen: list(o.halfOpen, 'halfOpen', halfOpen),
    blackholes: list(o.blackholes, 'blackholes', targetWindow),
    bandwidth: optNum(o.bandwidth, 'bandwidth', positive),
    sendBufferBytes: optNum(o.sendBufferBytes, 'sendBufferBytes', nonNegative),
    links: list(o.links, 'links', linkShape),
    restarts: list(o.restarts, 'restarts', restart),
    healAt: o.healAt === undefined ? 0 : num(o.healAt, 'healAt', nonNegative),
    rogues: o.rogues === undefined ? undefined : list(o.rogues, 'rogues', rogue),
    cluster: o.cluster === undefined ? undefined : cluster(o.cluster),
  });
}

export function validateFaultPlan(input: unknown): Result<FaultPlan> {
  try {
    return { ok: true, value: plan(input) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, error: { kind: 'fault_plan', field: e.field, message: e.message } };
    throw e;
  }
}

// ---------------------------------------------------------------- description

/** One line, the full vector: printed at run start and on failure. */
export function describeFaultPlan(p: FaultPlan): string {
  const win = (w: Window & { target: string; dir?: Dir }): string =>
    `${w.target}${w.dir === undefined ? '' : `:${w.dir}`}@${w.from}-${w.to}`;
  const opt = (n: number | undefined): string => (n === undefined ? '-' : String(n));
  const link = (l: LinkShape): string =>
    `${l.target}{bw=${opt(l.bandwidth)},buf=${opt(l.sendBufferBytes)},lat=${opt(l.latencyMs)}}`;
  return [
    `latency=${p.latency.baseMs}+${p.latency.jitterMs}ms`,
    `drop=${p.drop}`,
    `dup=${p.dup}`,
    `reorder=${p.reorder}`,
    `corrupt=${p.corrupt}`,
    `disconnect=[${p.disconnect.at.join(',')}]/every=${opt(p.disconnect.everyMs)}`,
    `partitions=[${p.partitions.map(win).join(',')}]`,
    `halfOpen=[${p.halfOpen.map(win).join(',')}]`,
    `blackholes=[${p.blackholes.map(win).join(',')}]`,
    `bandwidth=${opt(p.bandwidth)}`,
    `sendBuffer=${opt(p.sendBufferBytes)}`,
    `links=[${p.links.map(link).join(',')}]`,
    `restarts=[${p.restarts.map((r) => `${r.at}+${r.downMs}`).join(',')}]`,
    `healAt=${p.healAt}`,
    ...(p.rogues?.length ? [`rogues=[${p.rogues.map((r) => `${r.kind}@${r.at}-${r.leaveAt}`).join(',')}]`] : []),
    ...(p.cluster
      ? [`nodes=${p.cluster.nodes} brokerLatency=${p.cluster.brokerLatency.minMs}-${p.cluster.brokerLatency.maxMs}ms ${describeBrokerFaults(p.cluster.broker)} crashes=[${p.cluster.crashes.map((c) => `n${c.node}@${c.at}+${c.downMs}`).join(',')}]`]
      : []),
  ].join(' ');
}

// ---------------------------------------------------------------- helpers

function join(field: string, key: string): string {
  return field === '(plan)' ? key : `${field}.${key}`;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

/** Optional fields are absent, not `undefined`, so a plan round-trips through JSON unchanged. */
function withoutUndefined<T extends object>(o: T): T {
  for (const key of Object.keys(o) as (keyof T)[]) if (o[key] === undefined) delete o[key];
  return o;
}
