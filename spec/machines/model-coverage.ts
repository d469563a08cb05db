/**
 * Shared by the model-based machine specs: what a machine defines (every state
 * node, every transition including `after` and `always`), what a real actor
 * actually visited and took (measured from its inspection stream, never from
 * the path generator), the due times of the actor's delayed events (so a path
 * step "xstate.after.X" is executed by advancing the scheduler, not by sending
 * it), and a deterministic RandomSource that records its draws.
 */

import { expect } from 'chai';
import { enqueueActions, initialTransition, transition, type AnyActorLogic, type AnyActorRef, type AnyStateMachine, type AnyStateNode, type AnyTransitionDefinition, type InspectionEvent, type StateValue } from 'xstate';
import { getStateNodes } from 'xstate/graph';
import type { RandomSource } from '../../machines/client-connection.ts';
import { ClientInbox } from '../../machines/client-inbox.ts';
import type { AgentEvent, EventFrame, Sensitivity, ServerFrame } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { hubMachine, type HubMachine, type HubRef, type SessionRef } from '../../machines/hub.ts';
import { frameEvent, serverSessionMachine, type ServerSessionMachine } from '../../machines/server-session.ts';
import type { ClientFrame } from '../../machines/frames.ts';

// ---- what the machine defines ---------------------------------------------

/** Every state node but the root (the root is active in every snapshot). */
export function definedStates(machine: AnyStateMachine): AnyStateNode[] {
  return getStateNodes(machine.root);
}

/** Every transition of every node, the root included: `on`, `after` (both in `.transitions`) and `always`. */
export function definedTransitions(machine: AnyStateMachine): AnyTransitionDefinition[] {
  return [machine.root, ...definedStates(machine)].flatMap((node) => [...[...node.transitions.values()].flat(), ...(node.always ?? [])]);
}

/** The `xstate.after.<delay>.<stateId>` event types of the machine, by the id of their state node. */
export function afterEvents(machine: AnyStateMachine): Map<string, string> {
  const out = new Map<string, string>();
  for (const node of definedStates(machine)) for (const t of node.after) out.set(node.id, t.eventType);
  return out;
}

export const isAfterEvent = (type: string): boolean => type.startsWith('xstate.after.');

const guardName = (t: AnyTransitionDefinition): string => {
  const g = t.guard as unknown;
  if (g === undefined) return '';
  if (typeof g === 'string') return `[${g}]`;
  return `[${(g as { type?: string }).type ?? 'inline'}]`;
};

export const transitionLabel = (t: AnyTransitionDefinition): string =>
  `${t.source.id} -${t.eventType}${guardName(t)}-> ${t.target?.map((n) => n.id).join(',') ?? '(self)'}`;

/** Ids of the state nodes active in a state value (the root excluded). */
export function activeIds(machine: AnyStateMachine, value: StateValue): string[] {
  const out: string[] = [];
  const walk = (node: AnyStateNode, v: StateValue): void => {
    if (typeof v === 'string') {
      const child = node.states[v];
      if (child) out.push(child.id);
      return;
    }
    for (const [key, sub] of Object.entries(v)) {
      const child = node.states[key];
      if (!child) continue;
      out.push(child.id);
      if (sub !== undefined) walk(child, sub as StateValue);
    }
  };
  walk(machine.root, value);
  return out;
}

// ---- what a real actor did --------------------------------------------------

export interface CoverageReport {
  states: [number, number];
  transitions: [number, number];
  missingStates: string[];
  missingTransitions: string[];
}

/** Visited state nodes and taken transitions of real actors of one machine, accumulated over many runs. */
export class Coverage {
  readonly states = new Set<string>();
  readonly transitions = new Set<AnyTransitionDefinition>();

  constructor(readonly machine: AnyStateMachine) {}

  recordValue(value: StateValue): void {
    for (const id of activeIds(this.machine, value)) this.states.add(id);
  }

  /** An inspection event of the actor `self()`; others (children, siblings) are ignored. */
  observe(ev: InspectionEvent, self: AnyActorRef | undefined): void {
    if (ev.type !== '@xstate.microstep' || self === undefined || ev.actorRef !== self) return;
    for (const t of ev._transitions) this.transitions.add(t);
    this.recordValue((ev.snapshot as unknown as { value: StateValue }).value);
  }

  report(): CoverageReport {
    const states = definedStates(this.machine);
    const transitions = definedTransitions(this.machine);
    const missingStates = states.filter((n) => !this.states.has(n.id)).map((n) => n.id);
    const missingTransitions = transitions.filter((t) => !this.transitions.has(t)).map(transitionLabel);
    return {
      states: [states.length - missingStates.length, states.length],
      transitions: [transitions.length - missingTransitions.length, transitions.length],
      missingStates,
      missingTransitions,
    };
  }

  /** The two lines the issue asks for, printed under the machine's name. */
  print(name: string): CoverageReport {
    const r = this.report();
    console.log(`      ${name}: state coverage ${r.states[0]}/${r.states[1]}`);
    console.log(`      ${name}: transition coverage ${r.transitions[0]}/${r.transitions[1]}`);
    return r;
  }
}

// ---- delayed events of a real actor ------------------------------------------

/**
 * Due times of an actor's delayed events, read from its `@xstate.action`
 * inspection events (a delayed `xstate.raise` is scheduled on the clock at the
 * current simulated time). Re-arming a timer overwrites its due time.
 */
export class Timers {
  readonly due = new Map<string, number>();
  /** When each timer was (last) armed, as an order: ties on the clock fire in arming order. */
  readonly order = new Map<string, number>();
  /** Every delay armed, in order: [event type, delay]. */
  readonly armed: Array<[string, number]> = [];

  constructor(private readonly now: () => number) {}

  observe(ev: InspectionEvent, self: AnyActorRef | undefined): void {
    if (ev.type !== '@xstate.action' || self === undefined || ev.actorRef !== self) return;
    if (ev.action.type !== 'xstate.raise') return;
    const params = ev.action.params as { event?: { type: string }; delay?: unknown } | undefined;
    if (typeof params?.delay !== 'number' || !params.event) return;
    this.due.set(params.event.type, this.now() + params.delay);
    this.order.set(params.event.type, this.armed.length);
    this.armed.push([params.event.type, params.delay]);
  }

  /** Of the given armed timers, the one that fires first (earliest due, then earliest armed). */
  first(types: string[]): string | undefined {
    let best: string | undefined;
    for (const t of types) {
      if (!this.due.has(t)) continue;
      if (best === undefined || this.due.get(t)! < this.due.get(best)! || (this.due.get(t) === this.due.get(best) && this.order.get(t)! < this.order.get(best)!)) best = t;
    }
    return best;
  }

  dueOf(type: string): number {
    const at = this.due.get(type);
    if (at === undefined) throw new Error(`timer ${type} was never armed`);
    return at;
  }
}

// ---- deterministic randomness -------------------------------------------------

/**
 * mulberry32, squeezed into [lo, hi): deterministic per seed, and (with lo > 0)
 * never a zero backoff, which would fire in the same instant as the step that
 * armed it and merge two model steps into one.
 */
export class SeqRandom implements RandomSource {
  readonly draws: number[] = [];
  private state: number;

  constructor(seed: number, private readonly lo = 0.1, private readonly hi = 0.9) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const value = this.lo + unit * (this.hi - this.lo);
    this.draws.push(value);
    return value;
  }
}

// ---- the world's side of a client connection ------------------------------------

/** What a client did to its link: connects, frames sent, closes (the recording half every fake client port shares). */
export class LinkRecorder {
  connects = 0;
  readonly sent: ClientFrame[] = [];
  readonly closes: Array<{ code: number; reason: string }> = [];

  connect(): void {
    this.connects++;
  }
  send(frame: ClientFrame): void {
    this.sent.push(frame);
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

// ---- the world's side of a server session ---------------------------------------

/** What a session wrote and did to its link (the endpoint's side, recorded). */
export class FakeSessionPort {
  readonly messages: string[] = [];
  readonly closes: Array<{ code: number; reason: string }> = [];
  readonly rejectedCodes: string[] = [];
  readonly coalescedRuns: Array<{ thread: string; from: number; through: number }> = [];
  /** The link's buffer is over its mark: writes are taken and answered LINK_FULL. */
  congested = false;
  /** The link is closed: writes are lost and answered LINK_GONE. */
  gone = false;

  /** Every frame written since message `since`, batches unpacked, chunks joined. */
  frames(since = 0): ServerFrame[] {
    const inbox = new ClientInbox();
    const out: ServerFrame[] = [];
    for (const m of this.messages.slice(since)) {
      for (const e of inbox.accept(m)) {
        if (e.type === 'frame.invalid') throw new Error(`the session wrote an undecodable frame: ${e.code} ${e.detail}`);
        out.push(...(e.type === 'frame.events' ? e.frames : [e.frame]));
      }
    }
    return out;
  }
  events(since = 0): EventFrame[] {
    return this.frames(since).filter((f): f is EventFrame => f.type === 'event');
  }
  control(since = 0): ServerFrame[] {
    return this.frames(since).filter((f) => f.type !== 'event');
  }
}

const SENSITIVITY: Sensitivity[] = ['public', 'internal', 'restricted'];

export function producedEvent(tenant: string, user: string, thread: string, idx: number, type: AgentEvent['type'] = 'agent_thinking', sensitivity: Sensitivity = SENSITIVITY[idx % 3]!): AgentEvent {
  const payload = `${tenant}/${user}/${thread}#${idx}`;
  return { tenant, user, thread, run: 'r1', idx, type, sensitivity, payload, hash: payloadHash(payload) };
}

// ---- paths --------------------------------------------------------------------

export interface PathStep<S, E> {
  state: S;
  event: E;
}
export interface GraphPath<S, E> {
  state: S;
  steps: Array<PathStep<S, E>>;
}

/** The steps of a path after the initial one, with the graph's states (exact when the serialization is). */
export function stepsOf<S, E extends { type: string }>(path: GraphPath<S, E>): Array<{ before: S; event: E; after: S }> {
  const out: Array<{ before: S; event: E; after: S }> = [];
  for (let i = 1; i < path.steps.length; i++) out.push({ before: path.steps[i - 1]!.state, event: path.steps[i]!.event, after: path.steps[i]!.state });
  return out;
}

/**
 * The steps of a path after the initial one ('xstate.init'), each with the
 * model's exact state before and after it, recomputed by replaying the
 * path's events on the model: the graph keeps one representative snapshot
 * per serialized vertex, which under a coarse serialization need not be the
 * one this path produces.
 */
export function replaySteps<S, E extends { type: string }>(model: AnyStateMachine, input: unknown, path: GraphPath<S, E>): Array<{ before: S; event: E; after: S }> {
  const out: Array<{ before: S; event: E; after: S }> = [];
  let state = initialTransition(model, input)[0] as unknown as S;
  for (let i = 1; i < path.steps.length; i++) {
    const event = path.steps[i]!.event;
    const next = transition(model, state as never, event as never)[0] as unknown as S;
    out.push({ before: state, event, after: next });
    state = next;
  }
  return out;
}

/** The three path families every model-based spec runs, each executed on the real machine. */
export interface PathSuite<P> {
  /** Short name in the printed counts ('client', 'session'). */
  label: string;
  shortestToStates: () => P[];
  shortestToEdges: () => P[];
  simple: () => P[];
  /** `coarse`: simple paths may visit a vertex by another route than the snapshot they carry. */
  execute: (path: P, coarse?: boolean) => void;
  minShortest: number;
  minSimple: number;
}

export function itExecutesPaths<P>(suite: PathSuite<P>): void {
  it('model-based: shortest paths to every model state (getShortestPaths), executed on the real machine', () => {
    const paths = suite.shortestToStates();
    console.log(`      ${suite.label} shortest paths to states: ${paths.length}`);
    expect(paths.length).to.be.greaterThan(suite.minShortest);
    for (const p of paths) suite.execute(p);
  });

  it('model-based: shortest paths to every model edge (transition tour), executed on the real machine', () => {
    const paths = suite.shortestToEdges();
    console.log(`      ${suite.label} shortest paths to edges: ${paths.length}`);
    for (const p of paths) suite.execute(p);
  });

  it('model-based: every simple path (getSimplePaths), executed on the real machine', () => {
    const paths = suite.simple();
    console.log(`      ${suite.label} simple paths: ${paths.length}`);
    expect(paths.length).to.be.greaterThan(suite.minSimple);
    for (const p of paths) suite.execute(p, true);
  });
}

/** `machine`'s I/O actions writing to the port `portOf` names for the session (what an endpoint supplies). */
export function sessionOn(portOf: (link: string) => FakeSessionPort, machine: ServerSessionMachine = serverSessionMachine): ServerSessionMachine {
  return machine.provide({
    actions: {
      sendFrame: enqueueActions(({ context, enqueue }, { data, paced }: { data: string; paced?: true }) => {
        const port = portOf(context.link);
        if (!port.gone) port.messages.push(data);
        if (!paced) return;
        if (port.gone) enqueue.raise({ type: 'LINK_GONE' });
        else if (port.congested) enqueue.raise({ type: 'LINK_FULL' });
      }) as never,
      closeLink: ({ context }, params) => void portOf(context.link).closes.push(params),
      notifyRejected: ({ context }, { code }) => void portOf(context.link).rejectedCodes.push(code),
      notifyCoalesced: ({ context }, run) => void portOf(context.link).coalescedRuns.push(run),
    },
  });
}

/** A fake endpoint for a hub: one FakeSessionPort per link, and the session the hub made for each. */
export class FakeLinks {
  readonly ports = new Map<string, FakeSessionPort>();
  readonly sessions = new Map<string, SessionRef>();

  port(link: string): FakeSessionPort {
    let port = this.ports.get(link);
    if (!port) this.ports.set(link, (port = new FakeSessionPort()));
    return port;
  }

  /** `machine` (the hub or a variant) with this endpoint's I/O. */
  hub(machine: HubMachine = hubMachine): HubMachine {
    const session = machine.implementations.actors['session'] as AnyActorLogic as ServerSessionMachine;
    return machine.provide({
      actors: { session: sessionOn((link) => this.port(link), session) },
      actions: {
        sessionOpened: ({ context }, { link, connId }) => void this.sessions.set(link, context.sessions.get(connId)!),
        refuseLink: (_, { link, code, reason }) => void this.port(link).closes.push({ code, reason }),
      },
    });
  }

  /** A link reaches `hub`: its port, and a way to send it frames as the endpoint would. */
  connect(hub: HubRef, link: string, options: { token?: string; hint?: string } = {}): { port: FakeSessionPort; session: () => SessionRef | undefined; send: (frame: ClientFrame) => void } {
    const port = this.port(link);
    hub.send({ type: 'CONNECT', link, ...options });
    const session = () => this.sessions.get(link);
    return { port, session, send: (frame) => session()?.send(frameEvent(frame)) };
  }
}

/**
 * Freeze a context's own data, deeply: plain objects and arrays are frozen, a
 * Map has its mutators made to throw. Class instances are left alone: they are
 * structures a machine is lent or owns on purpose (the hub's replay logs and
 * index, its services), said so where they are declared. After this, any
 * change in place (outside `assign`) of the context throws.
 */
export function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    for (const name of ['set', 'delete', 'clear'] as const) {
      Object.defineProperty(value, name, { value: () => { throw new TypeError(`a frozen context's Map was changed in place (${name})`); } });
    }
    Object.freeze(value);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && !Array.isArray(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
