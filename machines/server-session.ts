/**
 * The server side of one connection: handshake → open → closed.
 *
 * In `open` it serves subscriptions from the replay log (resume included),
 * retransmits what is unacked (go-back-N, bounded backoff, a maximum after
 * which it closes 4001 so the client resumes on a fresh link), reaps a silent
 * peer, and applies backpressure: `agent_thinking` is coalesced when a
 * stream's backlog grows, critical events never are, and past a hard cap the
 * connection is shed with 1013 (the client resumes from its cursor later).
 *
 * Like the client it owns no I/O and no time but its clock. Every decoded
 * frame is its own event (`frame.hello`, `frame.subscribe`, `frame.ack`, ...,
 * `frame.invalid` for what the decoder refused); what it does to the world are
 * named actions the endpoint supplies with `provide()`: `sendFrame` (whose
 * link answers with `LINK_FULL` / `LINK_GONE`, raised in the same macrostep),
 * `closeLink`, `notifyRejected`, `notifyCoalesced`. Context is immutable data
 * changed by `assign` only; the replay logs and the routing index are the
 * hub's, lent through `services` (see `SessionServices`).
 */
import { and, assign, enqueueActions, raise, setup, stateIn } from 'xstate';
import { encodeEventFrame } from './chunking.ts';
import { EMPTY_RECORD, withDefaults } from './defaults.ts';
import { CloseCode, isCritical, PROTOCOL_VERSION, type ClientFrame, type EventFrame, type EventType, type Role, type ServerFrame } from './frames.ts';
import { mayRead, type AuthResult, type Identity } from './identity.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import type { LogView } from './log-view.ts';
import { acked, backlog, inflight, openedStream, rewound, skipEvicted, unannounced, type OutboundStream } from './outbound-stream.ts';
import { applyPolicy, type AccessPolicy } from './policy.ts';
import { encode } from './protocol.ts';
import type { ReplayLog } from './replay-log.ts';

export interface SessionConfig {
  authTimeoutMs: number;
  /** No frame from the client this long: the peer is dead (H + T). */
  reapAfterMs: number;
  /** First retransmission timeout, doubled per attempt up to the cap. */
  rtoMs: number;
  rtoCapMs: number;
  /** Retransmissions without progress before the session gives up (close 4001). */
  maxRetransmits: number;
  /** Frames in flight (sent, unacked) per session. */
  windowFrames: number;
  /** A stream backlog above this coalesces `agent_thinking`. */
  coalesceAbove: number;
  /** A session backlog above this sheds the connection with 1013. */
  shedAbove: number;
  maxFrameBytes: number;
  /**
   * A batch is at most this big: a frame is only heard once it has fully
   * arrived, so on a slow link a large batch would starve the heartbeat.
   */
  maxBatchBytes: number;
  /** Pack the frames of one flush into batch frames. */
  batch: boolean;
  /**
   * Delay that gathers the flush requests of one instant (subscribes,
   * resumes, acks that open the window, replay refills) into one flush. A
   * NOTIFY into an idle outbox does not wait: it flushes at once (a PUBLISH
   * carries one publish's events together, see `announceEvents`).
   */
  flushDelayMs: number;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = Object.freeze({
  authTimeoutMs: 2000,
  reapAfterMs: 5000,
  rtoMs: 300,
  rtoCapMs: 2000,
  maxRetransmits: 6,
  // the window must cover what one ack delay lets through: 2,048 frames per 40 ms is 50k events/s
  windowFrames: 2048,
  coalesceAbove: 256,
  shedAbove: 4096,
  maxFrameBytes: 64 * 1024,
  maxBatchBytes: 4 * 1024,
  batch: true,
  flushDelayMs: 0,
});

/** What a write did: the link took it, took it over its buffer's cap, or is gone. */
export type SendOutcome = 'ok' | 'backpressure' | 'closed';

/**
 * What the hub lends its sessions: identity checks, and its replay logs and
 * routing index by reference. They are the hub's structures, shared by every
 * session and changed on every publish (a copy per event would cost O(log));
 * a session opens a stream's log and (un)registers as its subscriber through
 * these calls, synchronously, because its answer to a subscribe depends on
 * the log's window and quotas, and the next publish must see the subscriber.
 */
export interface SessionServices {
  epoch: string;
  /** This server lost an earlier epoch's logs (a restart): history from before it is gone. */
  restarted: boolean;
  policy: AccessPolicy;
  authenticate(token: string): AuthResult;
  log(tenant: string, user: string, thread: string): ReplayLog;
  /** A subscriber opens a stream's log: created only within the user's and tenant's quotas. */
  open(tenant: string, user: string, thread: string, from: number): OpenedView;
  /**
   * The stream's log can be served (default: always). A clustered node mirrors
   * the store: until the mirror holds the stream's window, the session holds
   * its `subscribed` / `resync_required` answer; the hub's NOTIFY of that
   * thread (on STORE_LOADED) lets it answer.
   */
  ready?(tenant: string, user: string, thread: string): boolean;
  /** Register / unregister this connection as a subscriber of a stream. */
  index(tenant: string, user: string, thread: string, connId: string, on: boolean): void;
}

/** What opening a stream gives: its log (the embedded ReplayLog or a node's mirror of the store), or a quota's refusal. */
export type OpenedView = { ok: true; log: LogView; forgotten: boolean } | { ok: false; reason: string };

/** A stream opened on a node whose mirror is still loading it: the answer waits for the load. */
export interface PendingOpen {
  readonly from: number;
  readonly epoch: string | undefined;
  readonly log: LogView;
  readonly forgotten: boolean;
}

export interface SessionInput {
  /** The server's own id of this connection (never the client's choice). */
  connId: string;
  /** The transport's name of the link (the endpoint's I/O actions find the link by it; traces). */
  link?: string;
  /** The token the connection was admitted with (the HTTP upgrade's): the hello must be the same identity. */
  upgradeToken?: string;
  services: SessionServices;
  config?: Partial<SessionConfig>;
  limits?: Partial<Limits>;
}

export interface SessionStats {
  readonly framesSent: number;
  readonly retransmitted: number;
  readonly coalesced: number;
  readonly rejected: number;
  readonly highWater: number;
  readonly refused: number;
}

/** A new session's stats (shared, frozen: stats are replaced when they change). */
const NO_SESSION_STATS: SessionStats = Object.freeze({ framesSent: 0, retransmitted: 0, coalesced: 0, rejected: 0, highWater: 0, refused: 0 });

/**
 * A flush in progress: it writes batch after batch and stops taking events
 * once a write was pushed back (the link answers each paced write with
 * LINK_FULL / LINK_GONE before the next event is taken, see `FLUSH_MORE`).
 * `final`: the flush wrote its last batch; a push-back on it blocks the
 * outbox. Null, or final, between macrosteps.
 */
export interface FlushState {
  readonly outcome: SendOutcome;
  /** Encoded frames of the batch being packed. */
  readonly parts: readonly string[];
  readonly bytes: number;
  readonly inflight: number;
  readonly final: boolean;
}

export type Streams = Readonly<Record<string, OutboundStream>>;

export interface SessionContext {
  readonly connId: string;
  readonly link: string;
  readonly upgradeToken: string | undefined;
  readonly limits: Limits;
  /** History frames sent in the current second (see Limits.replayFramesPerSecond). */
  readonly replayed: number;
  readonly services: SessionServices;
  readonly config: SessionConfig;
  readonly identity: Identity | null;
  readonly streams: Streams;
  /** Streams opened but not yet loaded from the store (clustered nodes only). */
  readonly pending: Readonly<Record<string, PendingOpen>>;
  /** Streams opened so far (numbers each opening). */
  readonly openings: number;
  readonly rto: number;
  readonly retransmits: number;
  /** Why the session closed (for the trace and the inspector). */
  readonly closeReason: string | null;
  readonly stats: SessionStats;
  readonly flushing: FlushState | null;
}

/** One event per client frame type: `frame.hello`, `frame.subscribe`, ... */
export type FrameEvent = { [K in ClientFrame['type']]: { type: `frame.${K}`; frame: Extract<ClientFrame, { type: K }> } }[ClientFrame['type']];

export const frameEvent = (frame: ClientFrame): FrameEvent => ({ type: `frame.${frame.type}`, frame }) as FrameEvent;

export type SessionEvent =
  | FrameEvent
  /** A message the decoder refused. */
  | { type: 'frame.invalid'; code: string; detail: string }
  | { type: 'NOTIFY'; thread: string }
  /** The store lost its data: every stream starts again at 1 with an explicit epoch_changed resync. */
  | { type: 'EPOCH_CHANGED' }
  /** A user's role changed (sent to every session: the one of that user applies it). */
  | { type: 'ROLE_CHANGED'; tenant: string; user: string; role: Role }
  | { type: 'LINK_CLOSED'; code: number; reason: string }
  | { type: 'DRAIN' }
  /** A write was taken over the link's buffer cap (raised by the endpoint's `sendFrame`). */
  | { type: 'LINK_FULL' }
  /** A write found the link closed (raised by the endpoint's `sendFrame`). */
  | { type: 'LINK_GONE' }
  | { type: 'SHUTDOWN'; code: number; reason: string }
  /** Send what waits, gathered with the other requests of this instant (after `flushDelayMs`). */
  | { type: 'FLUSH' }
  /** The next batch of a flush in progress. */
  | { type: 'FLUSH_MORE' }
  | { type: 'SENT' }
  | { type: 'BLOCKED' }
  | { type: 'HEARD' }
  | { type: 'ACKED' }
  | { type: 'REPLAYED' };

/** The I/O and service calls a protocol action may enqueue (typed here: `setup` cannot infer actions that name each other). */
export type IoAction =
  | { type: 'sendFrame'; params: { data: string; paced?: true } }
  | { type: 'closeLink'; params: { code: number; reason: string } }
  | { type: 'notifyRejected'; params: { code: string; detail: string } }
  | { type: 'notifyCoalesced'; params: { thread: string; from: number; through: number } }
  | { type: 'follow'; params: { thread: string; on: boolean } }
  /** The session's own `flush` (or a variant's), named: a NOTIFY into an idle outbox runs it in its step. */
  | { type: 'flush'; params: undefined };

const sendIo = (frame: ServerFrame): IoAction => ({ type: 'sendFrame', params: { data: encode(frame) } });

/** What opening and closing streams changes: the context's parts below, and the calls to make, in order. */
interface Draft {
  streams: Streams;
  pending: SessionContext['pending'];
  stats: SessionStats;
  openings: number;
  io: IoAction[];
}

const draftOf = (context: SessionContext): Draft => ({ streams: context.streams, pending: context.pending, stats: context.stats, openings: context.openings, io: [] });
const patchOf = ({ streams, pending, stats, openings }: Draft) => ({ streams, pending, stats, openings });

function without<T>(record: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  const { [key]: _gone, ...rest } = record;
  return rest;
}

/**
 * Open (or reopen) a stream at the client's position, or answer
 * resync_required when the position cannot be served: never a silent skip.
 */
function openStream(context: SessionContext, d: Draft, thread: string, from: number, epoch: string | undefined): void {
  const identity = context.identity!;
  if (d.streams[thread] === undefined && Object.keys(d.streams).length >= context.limits.maxThreadsPerSession) {
    return refuse(d, thread, `at most ${context.limits.maxThreadsPerSession} streams per session`);
  }
  const opened = context.services.open(identity.tenant, identity.user, thread, from);
  if (!opened.ok) return refuse(d, thread, opened.reason);
  if (context.services.ready && !context.services.ready(identity.tenant, identity.user, thread)) {
    // registered now so the hub's NOTIFY (on load) reaches this session
    d.pending = { ...d.pending, [thread]: { from, epoch, log: opened.log, forgotten: opened.forgotten } };
    d.io.push({ type: 'follow', params: { thread, on: true } });
    return;
  }
  answerOpen(context, d, thread, from, epoch, opened.log, opened.forgotten);
}

/** Answer a subscribe or resume of `thread` from `log`: subscribed, or an explicit resync. */
function answerOpen(context: SessionContext, d: Draft, thread: string, from: number, epoch: string | undefined, log: LogView, forgotten: boolean): void {
  const current = context.services.epoch;
  let start = from;
  let resync: OutboundStream['resync'];
  // a fresh subscribe to a restarted server cannot be served from the start: say so
  const lostHistory = epoch === undefined && from === 1 && context.services.restarted;
  if ((epoch !== undefined && epoch !== current) || lostHistory) {
    start = log.start;
    resync = { from: start, reason: 'epoch_changed' };
  } else if (from < log.start || from > log.head + 1 || forgotten) {
    // a forgotten log (evicted, its tombstone gone) cannot say what the client missed: say so
    start = from < log.start ? log.start : log.head + 1;
    resync = { from: start, reason: 'beyond_window' };
  }
  if (resync) d.io.push(sendIo({ v: PROTOCOL_VERSION, type: 'resync_required', thread, epoch: current, ...resync }));
  else d.io.push(sendIo({ v: PROTOCOL_VERSION, type: 'subscribed', thread, epoch: current, from, recovered: epoch !== undefined }));
  d.openings++;
  d.streams = { ...d.streams, [thread]: openedStream(thread, log, start, d.openings, resync) };
  d.io.push({ type: 'follow', params: { thread, on: true } });
}

/** A quota refused a stream: a typed error, counted; the session goes on. */
function refuse(d: Draft, thread: string, message: string): void {
  d.stats = { ...d.stats, refused: d.stats.refused + 1 };
  d.io.push({ type: 'notifyRejected', params: { code: 'limit_exceeded', detail: `${message}: ${thread.slice(0, 64)}` } });
  d.io.push(sendIo({ v: PROTOCOL_VERSION, type: 'error', code: 'limit_exceeded', message, field: 'thread' }));
}

function closeStream(context: SessionContext, d: Draft, thread: string): void {
  const held = d.streams[thread] !== undefined;
  const waiting = d.pending[thread] !== undefined;
  if (held) d.streams = without(d.streams, thread);
  if (waiting) d.pending = without(d.pending, thread);
  if (context.identity && (held || waiting)) d.io.push({ type: 'follow', params: { thread, on: false } });
}

/** Which events the backpressure policy may fold into the next one of their kind: thinking only, never a critical event. */
export type Coalescible = (type: EventType) => boolean;
export const onlyThinking: Coalescible = (type) => !isCritical(type);

const sumOf = (streams: Streams, f: (s: OutboundStream) => number): number => {
  let n = 0;
  for (const thread in streams) n += f(streams[thread]!);
  return n;
};
export const backlogOf = (streams: Streams): number => sumOf(streams, backlog);
export const inflightOf = (streams: Streams): number => sumOf(streams, inflight);

/** The frame that carries stream sequence `sent + 1` onwards (coalescing a run of thinking events), and what it coalesced. */
function nextFrame(context: SessionContext, stream: OutboundStream, coalescible: Coalescible): { frame: EventFrame; coalesced: number } | undefined {
  const seq = stream.sent + 1;
  const entry = stream.log.get(seq);
  if (!entry) return undefined;
  let through = seq;
  let event = entry.event;
  if (backlog(stream) > context.config.coalesceAbove && coalescible(event.type)) {
    for (let next = stream.log.get(through + 1); next && next.event.type === event.type; next = stream.log.get(through + 1)) {
      through++;
      event = next.event;
    }
  }
  const visible = applyPolicy(context.services.policy, context.identity!.role, event);
  const resync = unannounced(stream);
  const frame: EventFrame = {
    v: PROTOCOL_VERSION,
    type: 'event',
    thread: stream.thread,
    seq,
    ...(through > seq ? { through } : {}),
    epoch: context.services.epoch,
    ...(resync ? { resync } : {}),
    ...(visible ? { event: visible } : {}),
  };
  return { frame, coalesced: through - seq };
}

/** One step of a flush: what it changes, the calls it makes in order, and whether the flush is over. */
export interface FlushStep {
  patch: Pick<SessionContext, 'streams' | 'stats' | 'replayed' | 'flushing'>;
  io: IoAction[];
  /** The flush is over: the events to raise for the regions (BLOCKED, SENT, REPLAYED). */
  done?: SessionEvent[];
}

/** The state a flush ends in when it wrote its last batch and nothing pushed back so far (shared: it is never changed). */
const FINAL_OK: FlushState = Object.freeze({ outcome: 'ok', parts: Object.freeze([]) as readonly string[], bytes: 0, inflight: 0, final: true });

/** Encoded frames → writes, packed into batches up to `maxBatchBytes` (owned by one step, then dropped). */
class Packer {
  readonly io: IoAction[] = [];
  writes = 0;
  constructor(
    private readonly config: SessionConfig,
    readonly parts: string[],
    public bytes: number,
  ) {}

  push(text: string): void {
    if (!this.config.batch) return this.write(text);
    if (this.bytes + text.length + 64 > this.config.maxBatchBytes) this.flush();
    this.parts.push(text);
    this.bytes += text.length + 1;
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.write(this.parts.length === 1 ? this.parts[0]! : `{"v":1,"type":"batch","frames":[${this.parts.join(',')}]}`);
    this.parts.length = 0;
    this.bytes = 0;
  }

  private write(data: string): void {
    this.io.push({ type: 'sendFrame', params: { data, paced: true } });
    this.writes++;
  }
}

/**
 * Send what the window allows from every stream, packed into batches. A step
 * takes events until one of them caused a write, then yields (FLUSH_MORE):
 * the link's answer to that write (LINK_FULL, LINK_GONE) is heard before the
 * next event is taken, so a link that pushed back gets the event in hand and
 * no more (as a socket's `bufferedAmount` is read between sends). The last
 * batch needs no yield: a push-back on it blocks the outbox (`noteWrite`).
 */
export function flushStep(context: SessionContext, coalescible: Coalescible = onlyThinking): FlushStep {
  const going = context.flushing !== null && !context.flushing.final ? context.flushing : undefined;
  const outcome = going?.outcome ?? 'ok';
  const packer = new Packer(context.config, going ? going.parts.slice() : [], going?.bytes ?? 0);
  let inFlight = going?.inflight ?? inflightOf(context.streams);
  let { replayed } = context;
  let { framesSent, coalesced } = context.stats;
  const budget = context.limits.replayFramesPerSecond;
  const windowFrames = context.config.windowFrames;
  // a copy of the streams this step owns (made at its first change), assigned when it is over
  let streams: Record<string, OutboundStream> | undefined;
  take: for (const thread in context.streams) {
    if (outcome !== 'ok') break;
    let stream = (streams ?? context.streams)[thread]!;
    while (stream.sent < stream.log.head && inFlight < windowFrames) {
      // history is paced: a subscribe storm cannot turn a few bytes in into megabytes out
      const history = stream.sent < stream.replayUntil;
      if (history && replayed >= budget) break;
      const next = nextFrame(context, stream, coalescible);
      if (!next) {
        // evicted before it was ever sent: the client must hear it explicitly
        stream = skipEvicted(stream, stream.log.start);
        packer.push(encode({ v: PROTOCOL_VERSION, type: 'resync_required', thread, epoch: context.services.epoch, ...stream.resync! }));
      } else {
        const { frame } = next;
        if (next.coalesced > 0) {
          coalesced += next.coalesced;
          packer.io.push({ type: 'notifyCoalesced', params: { thread, from: frame.seq, through: frame.through! } });
        }
        for (const text of encodeEventFrame(frame, context.config.maxFrameBytes)) packer.push(text);
        stream = { ...stream, sent: frame.through ?? frame.seq };
        framesSent++;
        if (history) replayed++;
        inFlight++;
      }
      (streams ??= { ...context.streams })[thread] = stream;
      if (packer.writes > 0) break take;
    }
  }
  const out = streams ?? context.streams;
  const stats = streams ? { ...context.stats, framesSent, coalesced } : context.stats;
  if (packer.writes > 0) {
    // the link answers each write before the next step (LINK_FULL / LINK_GONE are raised by `sendFrame`)
    return { patch: { streams: out, stats, replayed, flushing: { outcome, parts: packer.parts, bytes: packer.bytes, inflight: inFlight, final: false } }, io: packer.io };
  }
  packer.flush();
  const done: SessionEvent[] = [];
  if (outcome === 'backpressure') done.push({ type: 'BLOCKED' });
  if (inflightOf(out) > 0) done.push({ type: 'SENT' });
  // an unbounded budget (Infinity) needs no clock: nothing is paced
  if (replayed > 0 && Number.isFinite(budget)) done.push({ type: 'REPLAYED' });
  const highWater = Math.max(stats.highWater, backlogOf(out));
  const flushing = packer.writes > 0 ? (outcome === 'ok' ? FINAL_OK : { ...FINAL_OK, outcome }) : null;
  return { patch: { streams: out, stats: highWater === stats.highWater ? stats : { ...stats, highWater }, replayed, flushing }, io: packer.io, done };
}

type Collect = Parameters<typeof enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent, never, IoAction, never, never, never>>[0];
/** A protocol action that updates context and enqueues I/O. */
const withIo = (collect: Collect) => enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent, never, IoAction, never, never, never>(collect);

/** The `flush` action of a session whose backpressure policy coalesces what `coalescible` allows (broken variants pass another). */
export const flushWith = (coalescible: Coalescible) =>
  withIo(({ context, enqueue, check }) => {
    const step = flushStep(context, coalescible);
    enqueue.assign(step.patch);
    for (const action of step.io) enqueue(action);
    if (!step.done) return void enqueue.raise({ type: 'FLUSH_MORE' });
    // SENT arms an idle retransmit timer; an armed one already covers this flush, and a raise
    // that no state takes still costs XState a walk of every active state
    for (const event of step.done) if (event.type !== 'SENT' || check(retransmitIdle)) enqueue.raise(event);
  });

const retransmitIdle = stateIn('#session.open.retransmit.idle') as never;
const outboxIdle = stateIn('#session.open.outbox.idle') as never;

const ofType = <T extends SessionEvent['type']>(event: SessionEvent, type: T): Extract<SessionEvent, { type: T }> | undefined =>
  event.type === type ? (event as Extract<SessionEvent, { type: T }>) : undefined;

export const serverSessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
  },
  delays: {
    authTimeout: ({ context }) => context.config.authTimeoutMs,
    reapAfter: ({ context }) => context.config.reapAfterMs,
    rto: ({ context }) => context.rto,
    flushDelay: ({ context }) => context.config.flushDelayMs,
    replayWindow: 1000,
  },
  guards: {
    /** The hello's identity is not the one the connection was admitted with (the upgrade's token). */
    identityMismatch: ({ context, event }) => {
      const hello = ofType(event, 'frame.hello')?.frame;
      if (hello === undefined || context.upgradeToken === undefined || hello.token === context.upgradeToken) return false;
      const said = context.services.authenticate(hello.token);
      const admitted = context.services.authenticate(context.upgradeToken);
      if (!said.ok) return false; // an invalid hello is refused 4401 as usual
      return !admitted.ok || admitted.identity.tenant !== said.identity.tenant || admitted.identity.user !== said.identity.user;
    },
    tokenValid: ({ context, event }) => {
      const hello = ofType(event, 'frame.hello')?.frame;
      return hello !== undefined && context.services.authenticate(hello.token).ok;
    },
    /** A subscription outside what the token grants. */
    isForbidden: ({ context, event }) => {
      const identity = context.identity;
      if (!identity) return false;
      const threads = event.type === 'frame.subscribe' ? [event.frame.thread] : event.type === 'frame.resume' ? Object.keys(event.frame.positions) : [];
      return threads.some((thread) => !mayRead(identity, thread));
    },
    backlogOverCap: ({ context }) => backlogOf(context.streams) > context.config.shedAbove,
    /** A slow consumer: the link pushes back and the backlog passed the hard cap (a burst alone is not shed). */
    overShedCap: and([stateIn('#session.open.outbox.blocked'), 'backlogOverCap']),
    /** Frames still in the link's send buffer are not lost: retransmitting them only adds load. */
    linkBlocked: stateIn('#session.open.outbox.blocked'),
    nothingInFlight: ({ context }) => inflightOf(context.streams) === 0,
    outOfRetransmits: ({ context }) => context.retransmits >= context.config.maxRetransmits,
    /** The NOTIFY names a stream opened on a node whose mirror was still loading it. */
    isPending: ({ context, event }) => event.type === 'NOTIFY' && context.pending[event.thread] !== undefined,
    /** The role change is this session's user's. */
    isOwnUser: ({ context, event }) => event.type === 'ROLE_CHANGED' && context.identity !== null && context.identity.tenant === event.tenant && context.identity.user === event.user,
  },
  actions: {
    // ---- I/O: supplied by the endpoint with `provide()`; alone, the machine talks to nobody
    /** Write one message; for a `paced` one (a flush's), the endpoint raises LINK_FULL or LINK_GONE when the link does not simply take it. */
    sendFrame: (_, _params: { data: string; paced?: true }) => {},
    closeLink: (_, _params: { code: number; reason: string }) => {},
    /** A client frame was refused (counted; answered with an error frame). */
    notifyRejected: (_, _params: { code: string; detail: string }) => {},
    /** Events were coalesced for this connection (trace only). */
    notifyCoalesced: (_, _params: { thread: string; from: number; through: number }) => {},

    // ---- the hub's routing index (see SessionServices)
    follow: ({ context }, { thread, on }: { thread: string; on: boolean }) => {
      const identity = context.identity!;
      context.services.index(identity.tenant, identity.user, thread, context.connId, on);
    },

    // ---- protocol
    heard: raise({ type: 'HEARD' }),
    /** A new second of replay budget; what waited for it goes out. */
    refillReplay: withIo(({ context, enqueue }) => {
      enqueue.assign({ replayed: 0 });
      if (backlogOf(context.streams) > 0) enqueue.raise({ type: 'FLUSH' });
    }),
    requestFlush: raise({ type: 'FLUSH' }),
    /**
     * The hub appended a PUBLISH's events: an idle outbox sends them in this step (there is nothing
     * to wait for, and one more step per event would cost more than the batch it might gather); a
     * flush scheduled, or a blocked link's DRAIN, carries them instead.
     */
    announceEvents: withIo(({ enqueue, check }) => {
      if (check(outboxIdle)) enqueue({ type: 'flush', params: undefined });
    }),
    authenticate: assign(({ context, event }) => {
      const hello = ofType(event, 'frame.hello');
      const result = hello ? context.services.authenticate(hello.frame.token) : undefined;
      return result?.ok ? { identity: result.identity } : {};
    }),
    sendWelcome: withIo(({ context, enqueue }) => {
      enqueue(sendIo({ v: PROTOCOL_VERSION, type: 'welcome', session: context.connId, epoch: context.services.epoch }));
    }),
    /** Close the link and say why (the reason stays in the context for the trace and the inspector). */
    close: enqueueActions<SessionContext, SessionEvent, { code: number; reason: string }, SessionEvent, never, IoAction, never, never, never>(({ enqueue }, params) => {
      enqueue.assign({ closeReason: `${params.code} ${params.reason}` });
      enqueue({ type: 'closeLink', params });
    }),
    closeWithShutdown: withIo(({ event, enqueue }) => {
      if (event.type !== 'SHUTDOWN') return;
      enqueue.assign({ closeReason: `${event.code} ${event.reason}` });
      enqueue({ type: 'closeLink', params: { code: event.code, reason: event.reason } });
    }),
    noteClosed: assign(({ event }) => (event.type === 'LINK_CLOSED' ? { closeReason: `${event.code} ${event.reason} (by peer)` } : {})),
    refuseUnauthenticated: withIo(({ enqueue }) => {
      enqueue(sendIo({ v: PROTOCOL_VERSION, type: 'error', code: 'not_authenticated', message: 'send hello first' }));
    }),
    rejectFrame: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.invalid') return;
      enqueue.assign({ stats: { ...context.stats, rejected: context.stats.rejected + 1 } });
      enqueue({ type: 'notifyRejected', params: { code: event.code, detail: event.detail } });
      enqueue(sendIo({ v: PROTOCOL_VERSION, type: 'error', code: event.code as 'malformed_json', message: event.detail }));
    }),
    handleSubscribe: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.subscribe') return;
      const d = draftOf(context);
      openStream(context, d, event.frame.thread, event.frame.from, event.frame.epoch);
      enqueue.assign(patchOf(d));
      for (const action of d.io) enqueue(action);
    }),
    /** Resume every stream at the client's positions (re-authorised: the hello ran again). */
    handleResume: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.resume') return;
      const d = draftOf(context);
      for (const [thread, from] of Object.entries(event.frame.positions)) openStream(context, d, thread, from, event.frame.epoch);
      enqueue.assign(patchOf(d));
      for (const action of d.io) enqueue(action);
    }),
    handleUnsubscribe: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.unsubscribe') return;
      const d = draftOf(context);
      closeStream(context, d, event.frame.thread);
      enqueue.assign(patchOf(d));
      for (const action of d.io) enqueue(action);
    }),
    /** A NOTIFY may mean a pending stream's log is loaded (clustered nodes): it gets its answer. */
    finishPending: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'NOTIFY') return;
      const pending = context.pending[event.thread];
      const identity = context.identity;
      if (!pending || !identity || (context.services.ready && !context.services.ready(identity.tenant, identity.user, event.thread))) return;
      const d = draftOf(context);
      d.pending = without(d.pending, event.thread);
      answerOpen(context, d, event.thread, pending.from, pending.epoch, pending.log, pending.forgotten);
      enqueue.assign(patchOf(d));
      for (const action of d.io) enqueue(action);
    }),
    /** The store lost its data: every stream (served or pending) starts again at 1, announced as epoch_changed. */
    restartStreams: withIo(({ context, enqueue }) => {
      const current = context.services.epoch;
      const resync = { from: 1, reason: 'epoch_changed' as const };
      const streams: Record<string, OutboundStream> = {};
      let openings = context.openings;
      for (const [thread, stream] of Object.entries(context.streams)) {
        enqueue(sendIo({ v: PROTOCOL_VERSION, type: 'resync_required', thread, epoch: current, ...resync }));
        streams[thread] = { ...openedStream(thread, stream.log, 1, ++openings, resync), replayUntil: 0 };
      }
      // a pending answer is given on load, against the new epoch: its client's epoch differs, so it resyncs
      enqueue.assign({ streams, openings });
    }),
    pong: withIo(({ event, enqueue }) => {
      if (event.type === 'frame.ping') enqueue(sendIo({ v: PROTOCOL_VERSION, type: 'pong', id: event.frame.id }));
    }),
    /** Apply a cumulative ack; progress resets the retransmission backoff. */
    applyAck: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.ack') return;
      let streams = context.streams;
      for (const [thread, upTo] of Object.entries(event.frame.acks)) {
        const stream = streams[thread];
        const moved = stream && acked(stream, upTo);
        if (moved && moved !== stream) streams = { ...streams, [thread]: moved };
      }
      if (streams === context.streams) return;
      enqueue.assign({ streams, retransmits: 0, rto: context.config.rtoMs });
      enqueue.raise({ type: 'ACKED' });
      // the window moved: send what waited for it (nothing waits when the backlog is empty)
      if (backlogOf(streams) > 0) enqueue.raise({ type: 'FLUSH' });
    }),
    flush: flushWith(onlyThinking),
    /**
     * The link's answer to a paced write: a flush in progress takes no more
     * events; a push-back on a flush's last batch blocks the outbox (once).
     */
    noteWrite: withIo(({ context, event, enqueue }) => {
      const f = context.flushing;
      if (!f || f.outcome !== 'ok') return;
      const outcome = event.type === 'LINK_FULL' ? ('backpressure' as const) : ('closed' as const);
      enqueue.assign({ flushing: { ...f, outcome } });
      if (f.final && outcome === 'backpressure') enqueue.raise({ type: 'BLOCKED' });
    }),
    /** Go back N on every stream and back off. */
    retransmit: assign(({ context }) => {
      const streams: Record<string, OutboundStream> = {};
      for (const [thread, stream] of Object.entries(context.streams)) streams[thread] = rewound(stream);
      return {
        streams,
        stats: { ...context.stats, retransmitted: context.stats.retransmitted + inflightOf(context.streams) },
        retransmits: context.retransmits + 1,
        rto: Math.min(context.config.rtoCapMs, context.rto * 2),
      };
    }),
    setRole: assign(({ context, event }) => (event.type === 'ROLE_CHANGED' && context.identity ? { identity: { ...context.identity, role: event.role } } : {})),
    /** Leave the routing index: nothing of this session survives it. */
    unregister: withIo(({ context, enqueue }) => {
      const d = draftOf(context);
      for (const thread of [...Object.keys(context.streams), ...Object.keys(context.pending)]) closeStream(context, d, thread);
      enqueue.assign(patchOf(d));
      for (const action of d.io) enqueue(action);
    }),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    connId: input.connId,
    link: input.link ?? input.connId,
    upgradeToken: input.upgradeToken,
    limits: withDefaults(DEFAULT_LIMITS, input.limits),
    replayed: 0,
    services: input.services,
    config: withDefaults(DEFAULT_SESSION_CONFIG, input.config),
    identity: null,
    streams: EMPTY_RECORD,
    pending: EMPTY_RECORD,
    openings: 0,
    rto: input.config?.rtoMs ?? DEFAULT_SESSION_CONFIG.rtoMs,
    retransmits: 0,
    closeReason: null,
    stats: NO_SESSION_STATS,
    flushing: null,
  }),
  initial: 'handshake',
  on: {
    LINK_CLOSED: { target: '.closed', actions: 'noteClosed' },
    SHUTDOWN: { target: '.closed', actions: 'closeWithShutdown' },
    LINK_FULL: { actions: 'noteWrite' },
    LINK_GONE: { actions: 'noteWrite' },
  },
  states: {
    handshake: {
      after: { authTimeout: { target: 'closed', actions: { type: 'close', params: { code: CloseCode.authRefused, reason: 'no hello' } } } },
      on: {
        'frame.hello': [
          { guard: 'identityMismatch', target: 'closed', actions: { type: 'close', params: { code: CloseCode.forbidden, reason: 'identity mismatch' } } },
          { guard: 'tokenValid', target: 'open', actions: ['authenticate', 'sendWelcome'] },
          { target: 'closed', actions: { type: 'close', params: { code: CloseCode.authRefused, reason: 'invalid or expired token' } } },
        ],
        'frame.invalid': { actions: 'rejectFrame' },
        'frame.*': { actions: 'refuseUnauthenticated' },
      },
    },
    open: {
      type: 'parallel',
      on: {
        // XState hands an event to a parallel state's own handlers only when
        // no region takes it, so the regions hear frames through HEARD/ACKED.
        'frame.subscribe': [
          { guard: 'isForbidden', target: 'closed', actions: { type: 'close', params: { code: CloseCode.forbidden, reason: 'thread not allowed' } } },
          { actions: ['heard', 'handleSubscribe', 'requestFlush'] },
        ],
        'frame.resume': [
          { guard: 'isForbidden', target: 'closed', actions: { type: 'close', params: { code: CloseCode.forbidden, reason: 'thread not allowed' } } },
          { actions: ['heard', 'handleResume', 'requestFlush'] },
        ],
        'frame.ack': { actions: ['heard', 'applyAck'] },
        'frame.ping': { actions: ['heard', 'pong'] },
        'frame.unsubscribe': { actions: ['heard', 'handleUnsubscribe'] },
        'frame.hello': { actions: ['heard', 'refuseUnauthenticated'] },
        'frame.*': { actions: 'heard' },
        // only a valid frame proves the peer alive: a client sending garbage is still reaped
        'frame.invalid': { actions: 'rejectFrame' },
        NOTIFY: [
          { guard: 'overShedCap', target: 'closed', actions: { type: 'close', params: { code: CloseCode.tryAgainLater, reason: 'outbox over cap' } } },
          // a clustered node's stream whose log was loading gets its answer now
          { guard: 'isPending', actions: ['finishPending', 'requestFlush'] },
          { actions: 'announceEvents' },
        ],
        EPOCH_CHANGED: { actions: ['restartStreams', 'requestFlush'] },
        ROLE_CHANGED: { guard: 'isOwnUser', actions: 'setRole' },
        // the flush in progress goes on once the link answered its last write
        FLUSH_MORE: { actions: 'flush' },
      },
      states: {
        liveness: {
          initial: 'alive',
          states: {
            alive: {
              on: { HEARD: { target: 'alive', reenter: true } },
              after: { reapAfter: { target: '#session.closed', actions: { type: 'close', params: { code: CloseCode.heartbeatTimeout, reason: 'peer silent' } } } },
            },
          },
        },
        outbox: {
          initial: 'idle',
          states: {
            // a NOTIFY into idle is sent in its own step (`announceEvents`)
            idle: { on: { FLUSH: 'scheduled' } },
            // a flush due (or a blocked link's DRAIN) carries whatever NOTIFYs came meanwhile
            scheduled: { after: { flushDelay: { target: 'idle', actions: 'flush' } } },
            blocked: { on: { DRAIN: { target: 'idle', actions: 'flush' } } },
          },
          on: { BLOCKED: '.blocked' },
        },
        replay: {
          initial: 'idle',
          states: {
            idle: { on: { REPLAYED: 'pacing' } },
            pacing: { after: { replayWindow: { target: 'idle', actions: 'refillReplay' } } },
          },
        },
        retransmit: {
          initial: 'idle',
          states: {
            idle: { on: { SENT: 'armed' } },
            armed: {
              on: { ACKED: { target: 'armed', reenter: true } },
              after: {
                rto: [
                  { guard: 'nothingInFlight', target: 'idle' },
                  { guard: 'linkBlocked', target: 'armed', reenter: true },
                  { guard: 'outOfRetransmits', target: '#session.closed', actions: { type: 'close', params: { code: CloseCode.ackTimeout, reason: 'ack timeout' } } },
                  { target: 'armed', reenter: true, actions: ['retransmit', 'flush'] },
                ],
              },
            },
          },
        },
      },
    },
    closed: { type: 'final', entry: 'unregister' },
  },
});

export type ServerSessionMachine = typeof serverSessionMachine;
