/**
 * Workloads as data, and the fast-check arbitraries that generate them: who
 * connects (tenants with colliding user and thread ids, roles, tabs), what the
 * agents emit (legal runs from `agent-run`, 2–50 events/s, 1 KB–1 MB
 * payloads), and what changes mid-run (roles, subscriptions, app failures).
 * A scenario picks a `WorkloadShape`; the arbitrary does the rest.
 */
import fc from 'fast-check';
import type { AgentRunRequest } from '../machines/agent-run.ts';
import { ROLES, type Role, type Sensitivity } from '../machines/frames.ts';

export interface RunSpec {
  id: string;
  thread: string;
  /** When the first request is made (ms of simulated time). */
  startAt: number;
  /** Time between two requests (1000 / rate). */
  intervalMs: number;
  steps: AgentRunRequest[];
  sensitivity: Sensitivity;
  payloadBytes: number;
}

export interface UserSpec {
  tenant: string;
  user: string;
  role: Role;
  /** Connections (browser tabs) this user opens. */
  tabs: number;
  threads: string[];
  runs: RunSpec[];
}

export interface RoleChange {
  at: number;
  tenant: string;
  user: string;
  role: Role;
}

export interface SubscriptionChange {
  at: number;
  tenant: string;
  user: string;
  tab: number;
  thread: string;
  on: boolean;
}

/** The app of some users fails: at random (retried), or always on some events (poison). */
export interface AppFailure {
  tenant: string;
  user: string;
  /** Probability that one hand-over fails (a retry may succeed). */
  failRate: number;
  /** Events the app always fails on: they must dead-letter and the stream go on. */
  poison: { run: string; idx: number }[];
}

/** A tab closes for good (its client stops; nothing is owed to it afterwards). */
export interface TabClose {
  at: number;
  tenant: string;
  user: string;
  tab: number;
}

export interface Workload {
  users: UserSpec[];
  roleChanges: RoleChange[];
  subscriptionChanges: SubscriptionChange[];
  appFailures: AppFailure[];
  tabCloses: TabClose[];
  /** Garbage frames a rogue (authenticated) connection sends the server. */
  fuzzFrames: number;
}

type Range = readonly [number, number];

export interface WorkloadShape {
  tenants: Range;
  usersPerTenant: Range;
  tabs: Range;
  threadsPerUser: Range;
  runsPerUser: Range;
  /** Tool calls per run (each adds two events; thinking adds more). */
  toolsPerRun: Range;
  thinkingPerRun: Range;
  /** Events per second per run. */
  rateHz: Range;
  payloadBytes: Range;
  /** When set, payload sizes are drawn from these classes instead of the range. */
  payloadSizes?: readonly number[];
  /** Earliest start of a run (ms): after the tabs had time to connect, for latency figures. */
  earliestStartMs: number;
  /** Latest start of a run (ms). */
  startWithinMs: number;
  /** Users and threads share ids across tenants (and users share thread ids). */
  collideIds: boolean;
  sensitivities: readonly Sensitivity[];
  roles: readonly Role[];
  roleChanges: Range;
  subscriptionChanges: Range;
  appFailures: boolean;
  tabCloses: Range;
  fuzzFrames: Range;
  /** Run ids repeat across users ("r0", "r1", ...), as thread ids do. */
  collideRunIds: boolean;
}

export const BASE_SHAPE: WorkloadShape = {
  tenants: [1, 2],
  usersPerTenant: [1, 3],
  tabs: [1, 2],
  threadsPerUser: [1, 2],
  runsPerUser: [1, 2],
  toolsPerRun: [0, 3],
  thinkingPerRun: [1, 4],
  rateHz: [2, 50],
  payloadBytes: [16, 256],
  earliestStartMs: 0,
  startWithinMs: 2000,
  collideIds: true,
  sensitivities: ['public'],
  roles: ['admin'],
  roleChanges: [0, 0],
  subscriptionChanges: [0, 0],
  appFailures: false,
  tabCloses: [0, 0],
  fuzzFrames: [0, 0],
  collideRunIds: false,
};

export const shape = (overrides: Partial<WorkloadShape>): WorkloadShape => ({ ...BASE_SHAPE, ...overrides });

const inRange = ([min, max]: Range) => fc.integer({ min, max });
/**
 * A count biased to the edges of its range: a third of the draws are the
 * smallest or the largest allowed (one tab, the most tabs; no tool, the most
 * tools), where off-by-one bugs live, the rest uniform. It shrinks to the smallest.
 */
export const edgeCount = ([min, max]: Range): fc.Arbitrary<number> => (min === max ? fc.constant(min) : fc.oneof({ weight: 2, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: fc.constantFrom(min, max) }));

/** A legal script: START, tools (some overlapping) with thinking between, COMPLETE. */
export function runScriptArb(tools: Range, thinking: Range): fc.Arbitrary<AgentRunRequest[]> {
  return fc.tuple(edgeCount(tools), edgeCount(thinking), fc.boolean()).map(([toolCount, thinkCount, overlap]) => {
    const steps: AgentRunRequest[] = [{ type: 'START' }];
    let thinks = thinkCount;
    for (let i = 0; i < toolCount; i++) {
      if (thinks > 0) (steps.push({ type: 'THINK' }), thinks--);
      const toolId = `tool-${i}`;
      if (overlap && i + 1 < toolCount) {
        // two tools in parallel, closed in reverse order
        const next = `tool-${++i}`;
        steps.push({ type: 'TOOL_START', toolId }, { type: 'TOOL_START', toolId: next }, { type: 'TOOL_END', toolId: next }, { type: 'TOOL_END', toolId });
      } else {
        steps.push({ type: 'TOOL_START', toolId }, { type: 'TOOL_END', toolId });
      }
    }
    while (thinks-- > 0) steps.push({ type: 'THINK' });
    steps.push({ type: 'COMPLETE' });
    return steps;
  });
}

/**
 * A run before it is named: its thread is an index into the user's threads.
 * Users and runs are arrays of such raw values, named afterwards by position,
 * so the shrinker drops a user or a run like an array element (a chain on
 * counts would regenerate everything after it, and shrink poorly).
 */
function rawRunArb(s: WorkloadShape) {
  return fc.record({
    thread: fc.nat(),
    startAt: fc.integer({ min: s.earliestStartMs, max: Math.max(s.earliestStartMs, s.startWithinMs) }),
    rate: inRange(s.rateHz),
    steps: runScriptArb(s.toolsPerRun, s.thinkingPerRun),
    sensitivity: fc.constantFrom(...s.sensitivities),
    payloadBytes: s.payloadSizes ? fc.constantFrom(...s.payloadSizes) : inRange(s.payloadBytes),
  });
}

function rawUserArb(s: WorkloadShape) {
  return fc.record({ threads: edgeCount(s.threadsPerUser), runs: fc.array(rawRunArb(s), { minLength: s.runsPerUser[0], maxLength: s.runsPerUser[1] }), tabs: edgeCount(s.tabs), role: fc.constantFrom(...s.roles) });
}

function usersArb(s: WorkloadShape): fc.Arbitrary<UserSpec[]> {
  const tenant = fc.array(rawUserArb(s), { minLength: s.usersPerTenant[0], maxLength: s.usersPerTenant[1] });
  return fc.array(tenant, { minLength: s.tenants[0], maxLength: s.tenants[1] }).map((tenants) =>
    tenants.flatMap((users, t) =>
      users.map((raw, u): UserSpec => {
        // colliding ids: every tenant has a user "u0", "u1", ... (and threads th0, th1, ...)
        const user = s.collideIds ? `u${u}` : `t${t}u${u}`;
        const threads = Array.from({ length: raw.threads }, (_, i) => `th${i}`);
        const runs = raw.runs.map(({ thread, rate, ...rest }, i): RunSpec => ({ id: s.collideRunIds ? `r${i}` : `t${t}.${user}.r${i}`, thread: threads[thread % threads.length]!, intervalMs: Math.max(1, Math.round(1000 / rate)), ...rest }));
        return { tenant: `t${t}`, user, role: raw.role, tabs: raw.tabs, threads, runs };
      }),
    ),
  );
}

function changesArb(s: WorkloadShape, users: UserSpec[]): fc.Arbitrary<Omit<Workload, 'users'>> {
  const horizon = s.startWithinMs + 2000;
  const pickUser = fc.constantFrom(...users);
  const roleChange = fc.record({ at: fc.integer({ min: 0, max: horizon }), who: pickUser, role: fc.constantFrom(...ROLES) }).map(({ at, who, role }) => ({ at, tenant: who.tenant, user: who.user, role }));
  const subChange = fc
    .record({ at: fc.integer({ min: 0, max: horizon }), who: pickUser, tab: fc.nat(), thread: fc.nat(), on: fc.boolean() })
    .map(({ at, who, tab, thread, on }) => ({ at, tenant: who.tenant, user: who.user, tab: tab % who.tabs, thread: who.threads[thread % who.threads.length]!, on }));
  const failure = fc
    .record({ who: pickUser, failRate: fc.double({ min: 0.05, max: 0.4, noNaN: true }), poisonRun: fc.nat(), poisonIdx: fc.integer({ min: 1, max: 3 }) })
    .map(({ who, failRate, poisonRun, poisonIdx }) => ({ tenant: who.tenant, user: who.user, failRate, poison: [{ run: who.runs[poisonRun % who.runs.length]!.id, idx: poisonIdx }] }));
  const tabClose = fc
    .record({ at: fc.integer({ min: 0, max: horizon }), who: pickUser, tab: fc.nat() })
    .map(({ at, who, tab }) => ({ at, tenant: who.tenant, user: who.user, tab: tab % who.tabs }));
  return fc.record({
    tabCloses: fc.uniqueArray(tabClose, { minLength: s.tabCloses[0], maxLength: s.tabCloses[1], selector: (c) => `${c.tenant}/${c.user}/${c.tab}` }).map((a) => a.sort((x, y) => x.at - y.at)),
    fuzzFrames: inRange(s.fuzzFrames),
    roleChanges: fc.array(roleChange, { minLength: s.roleChanges[0], maxLength: s.roleChanges[1] }).map((a) => a.sort((x, y) => x.at - y.at)),
    subscriptionChanges: fc.array(subChange, { minLength: s.subscriptionChanges[0], maxLength: s.subscriptionChanges[1] }).map((a) => a.sort((x, y) => x.at - y.at)),
    appFailures: s.appFailures ? fc.array(failure, { minLength: 1, maxLength: 2 }) : fc.constant([]),
  });
}

export function workloadArb(s: WorkloadShape): fc.Arbitrary<Workload> {
  return usersArb(s).chain((users) => changesArb(s, users).map((changes) => ({ users, ...changes })));
}

/** Totals, for reports and thresholds. */
export function workloadSize(w: Workload): { users: number; connections: number; runs: number; events: number; lastEventAt: number } {
  let connections = 0;
  let runs = 0;
  let events = 0;
  let lastEventAt = 0;
  for (const u of w.users) {
    connections += u.tabs;
    for (const r of u.runs) {
      runs++;
      events += r.steps.length;
      lastEventAt = Math.max(lastEventAt, r.startAt + (r.steps.length - 1) * r.intervalMs);
    }
  }
  return { users: w.users.length, connections, runs, events, lastEventAt };
}
