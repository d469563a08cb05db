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
 * Like the client it owns no I/O (`SessionPort`), no time but its clock, and
 * its per-stream state lives in Maps its actions mutate (see client-connection).
 */
import { and, assign, enqueueActions, raise, setup, stateIn } from 'xstate';
import { encodeEventFrame } from './chunking.ts';
import { CloseCode, isCritical, PROTOCOL_VERSION, type ClientFrame, type EventFrame, type EventType, type ServerFrame } from './frames.ts';
import { mayRead, type AuthResult, type Identity } from './identity.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { OutboundStream } from './outbound-stream.ts';
import { applyPolicy, type AccessPolicy } from './policy.ts';
import { encode } from './protocol.ts';
import type { LogView } from './log-view.ts';
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
  /** Delay that gathers the notifications of one instant into one flush. */
  flushDelayMs: number;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = {
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
};

export type SendOutcome = 'ok' | 'backpressure' | 'closed';

export interface SessionPort {
  send(data: string): SendOutcome;
  close(code: number, reason: string): void;
  /** A client frame was refused by the decoder (counted; answered with an error frame). */
  rejected(code: string, detail: string): void;
  /** Events were coalesced for this connection (trace only). */
  coalesced(thread: string, from: number, through: number): void;
}

/** What the hub lends its sessions. */
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
interface PendingOpen {
  from: number;
  epoch: string | undefined;
  log: LogView;
  forgotten: boolean;
}

export interface SessionInput {
  /** The server's own id of this connection (never the client's choice). */
  connId: string;
  /** The transport's name of the link (traces and tests only; decides nothing). */
  link?: string;
  /** The token the connection was admitted with (the HTTP upgrade's): the hello must be the same identity. */
  upgradeToken?: string;
  port: SessionPort;
  services: SessionServices;
  config?: Partial<SessionConfig>;
  limits?: Partial<Limits>;
}

export interface SessionContext {
  connId: string;
  link: string;
  upgradeToken: string | undefined;
  limits: Limits;
  /** History frames sent in the current second (see Limits.replayFramesPerSecond). */
  replayed: number;
  port: SessionPort;
  services: SessionServices;
  config: SessionConfig;
  identity: Identity | null;
  streams: Map<string, OutboundStream>;
  /** Streams opened but not yet loaded from the store (clustered nodes only). */
  pending: Map<string, PendingOpen>;
  rto: number;
  retransmits: number;
  /** Why the session closed (for the trace and the inspector). */
  closeReason: string | null;
  stats: { framesSent: number; retransmitted: number; coalesced: number; rejected: number; highWater: number; refused: number };
}

export type SessionEvent =
  | { type: 'FRAME'; frame: ClientFrame }
  | { type: 'BAD_FRAME'; code: string; detail: string }
  | { type: 'NOTIFY'; thread: string }
  /** The store lost its data: every stream starts again at 1 with an explicit epoch_changed resync. */
  | { type: 'EPOCH_CHANGED' }
  | { type: 'ROLE_CHANGED'; role: Identity['role'] }
  | { type: 'LINK_CLOSED'; code: number; reason: string }
  | { type: 'DRAIN' }
  | { type: 'SHUTDOWN'; code: number; reason: string }
  | { type: 'FLUSH' }
  | { type: 'SENT' }
  | { type: 'BLOCKED' }
  | { type: 'HEARD' }
  | { type: 'ACKED' }
  | { type: 'REPLAYED' };


type FrameOf<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;
const frameOf = <T extends ClientFrame['type']>(event: SessionEvent, type: T): FrameOf<T> | undefined =>
  event.type === 'FRAME' && event.frame.type === type ? (event.frame as FrameOf<T>) : undefined;

function send(context: SessionContext, frame: ServerFrame): SendOutcome {
  return context.port.send(encode(frame));
}

/**
 * Open (or reopen) a stream at the client's position, or answer
 * resync_required when the position cannot be served: never a silent skip.
 */
export function openStream(context: SessionContext, thread: string, from: number, epoch: string | undefined): void {
  const identity = context.identity!;
  if (!context.streams.has(thread) && context.streams.size >= context.limits.maxThreadsPerSession) {
    return refuse(context, thread, `at most ${context.limits.maxThreadsPerSession} streams per session`);
  }
  const opened = context.services.open(identity.tenant, identity.user, thread, from);
  if (!opened.ok) return refuse(context, thread, opened.reason);
  if (context.services.ready && !context.services.ready(identity.tenant, identity.user, thread)) {
    // registered now so the hub's NOTIFY (on load) reaches this session
    context.pending.set(thread, { from, epoch, log: opened.log, forgotten: opened.forgotten });
    context.services.index(identity.tenant, identity.user, thread, context.connId, true);
    return;
  }
  answerOpen(context, thread, from, epoch, opened.log, opened.forgotten);
}

/** A pending stream whose log is now loaded gets its answer. */
function finishPending(context: SessionContext, thread: string): void {
  const pending = context.pending.get(thread);
  const identity = context.identity;
  if (!pending || !identity || (context.services.ready && !context.services.ready(identity.tenant, identity.user, thread))) return;
  context.pending.delete(thread);
  answerOpen(context, thread, pending.from, pending.epoch, pending.log, pending.forgotten);
}

/** Answer a subscribe or resume of `thread` from `log`: subscribed, or an explicit resync. */
function answerOpen(context: SessionContext, thread: string, from: number, epoch: string | undefined, log: LogView, forgotten: boolean): void {
  const identity = context.identity!;
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
  if (resync) send(context, { v: PROTOCOL_VERSION, type: 'resync_required', thread, epoch: current, ...resync });
  else send(context, { v: PROTOCOL_VERSION, type: 'subscribed', thread, epoch: current, from, recovered: epoch !== undefined });
  const stream = new OutboundStream(thread, log, start, resync);
  stream.replayUntil = log.head;
  context.streams.set(thread, stream);
  context.services.index(identity.tenant, identity.user, thread, context.connId, true);
}

/** The store lost its data: every stream (served or pending) starts again at 1, announced as epoch_changed. */
function restartStreams(context: SessionContext): void {
  const current = context.services.epoch;
  for (const [thread, stream] of context.streams) {
    const resync = { from: 1, reason: 'epoch_changed' as const };
    send(context, { v: PROTOCOL_VERSION, type: 'resync_required', thread, epoch: current, ...resync });
    context.streams.set(thread, new OutboundStream(thread, stream.log, 1, resync));
  }
  // a pending answer is given on load, against the new epoch: its client's epoch differs, so it resyncs
}

/** A quota refused a stream: a typed error, counted; the session goes on. */
function refuse(context: SessionContext, thread: string, message: string): void {
  context.stats.refused++;
  context.port.rejected('limit_exceeded', `${message}: ${thread.slice(0, 64)}`);
  send(context, { v: PROTOCOL_VERSION, type: 'error', code: 'limit_exceeded', message, field: 'thread' });
}

function closeStream(context: SessionContext, thread: string): void {
  const identity = context.identity;
  const held = context.streams.delete(thread);
  if (!identity || !(context.pending.delete(thread) || held)) return;
  context.services.index(identity.tenant, identity.user, thread, context.connId, false);
}

/** Which events the backpressure policy may fold into the next one of their kind: thinking only, never a critical event. */
export type Coalescible = (type: EventType) => boolean;
export const onlyThinking: Coalescible = (type) => !isCritical(type);

/** The frames that carry stream sequence `seq` onwards (coalescing a run of thinking events). */
function nextFrame(context: SessionContext, stream: OutboundStream, coalescible: Coalescible): EventFrame | undefined {
  const seq = stream.sent + 1;
  const entry = stream.log.get(seq);
  if (!entry) return undefined;
  let through = seq;
  let event = entry.event;
  if (stream.backlog > context.config.coalesceAbove && coalescible(event.type)) {
    for (let next = stream.log.get(through + 1); next && next.event.type === event.type; next = stream.log.get(through + 1)) {
      through++;
      event = next.event;
    }
    if (through > seq) {
      context.stats.coalesced += through - seq;
      context.port.coalesced(stream.thread, seq, through);
    }
  }
  const visible = applyPolicy(context.services.policy, context.identity!.role, event);
  return {
    v: PROTOCOL_VERSION,
    type: 'event',
    thread: stream.thread,
    seq,
    ...(through > seq ? { through } : {}),
    epoch: context.services.epoch,
    ...(stream.unannounced ? { resync: stream.unannounced } : {}),
    ...(visible ? { event: visible } : {}),
  };
}

/** Encoded frames → link, packed into batches up to the frame limit. */
class Flusher {
  private parts: string[] = [];
  private bytes = 0;
  outcome: SendOutcome = 'ok';

  constructor(private readonly context: SessionContext) {}

  push(text: string): void {
    const { batch, maxBatchBytes } = this.context.config;
    if (!batch) return this.write(text);
    if (this.bytes + text.length + 64 > maxBatchBytes) this.flush();
    this.parts.push(text);
    this.bytes += text.length + 1;
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const text = this.parts.length === 1 ? this.parts[0]! : `{"v":1,"type":"batch","frames":[${this.parts.join(',')}]}`;
    this.parts = [];
    this.bytes = 0;
    this.write(text);
  }

  private write(text: string): void {
    const outcome = this.context.port.send(text);
    if (outcome !== 'ok') this.outcome = outcome;
  }
}

/** Send what the window allows from every stream; report whether the link pushed back. */
export function pump(context: SessionContext, coalescible: Coalescible = onlyThinking): SendOutcome {
  const flusher = new Flusher(context);
  let inflight = 0;
  for (const stream of context.streams.values()) inflight += stream.inflight;
  for (const stream of context.streams.values()) {
    while (stream.sent < stream.log.head && inflight < context.config.windowFrames && flusher.outcome === 'ok') {
      // history is paced: a subscribe storm cannot turn a few bytes in into megabytes out
      const history = stream.sent < stream.replayUntil;
      if (history && context.replayed >= context.limits.replayFramesPerSecond) break;
      const frame = nextFrame(context, stream, coalescible);
      if (!frame) {
        // evicted before it was ever sent: the client must hear it explicitly
        const resync = stream.skipEvicted(stream.log.start);
        flusher.push(encode({ v: PROTOCOL_VERSION, type: 'resync_required', thread: stream.thread, epoch: context.services.epoch, ...resync }));
        continue;
      }
      for (const text of encodeEventFrame(frame, context.config.maxFrameBytes)) flusher.push(text);
      stream.sent = frame.through ?? frame.seq;
      context.stats.framesSent++;
      if (history) context.replayed++;
      inflight++;
    }
  }
  flusher.flush();
  return flusher.outcome;
}

const backlogOf = (context: SessionContext): number => {
  let n = 0;
  for (const stream of context.streams.values()) n += stream.backlog;
  return n;
};
const inflightOf = (context: SessionContext): number => {
  let n = 0;
  for (const stream of context.streams.values()) n += stream.inflight;
  return n;
};

/** The body of the `flush` action: send what the window allows, and tell the regions what happened. */
export function flushWith(context: SessionContext, raise: (event: SessionEvent) => void, coalescible: Coalescible): void {
  const outcome = pump(context, coalescible);
  context.stats.highWater = Math.max(context.stats.highWater, backlogOf(context));
  if (outcome === 'backpressure') raise({ type: 'BLOCKED' });
  if (inflightOf(context) > 0) raise({ type: 'SENT' });
  // an unbounded budget (Infinity) needs no clock: nothing is paced
  if (context.replayed > 0 && Number.isFinite(context.limits.replayFramesPerSecond)) raise({ type: 'REPLAYED' });
}

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
    isHello: ({ event }) => frameOf(event, 'hello') !== undefined,
    /** The hello's identity is not the one the connection was admitted with (the upgrade's token). */
    identityMismatch: ({ context, event }) => {
      const hello = frameOf(event, 'hello');
      if (hello === undefined || context.upgradeToken === undefined || hello.token === context.upgradeToken) return false;
      const said = context.services.authenticate(hello.token);
      const admitted = context.services.authenticate(context.upgradeToken);
      if (!said.ok) return false; // an invalid hello is refused 4401 as usual
      return !admitted.ok || admitted.identity.tenant !== said.identity.tenant || admitted.identity.user !== said.identity.user;
    },
    tokenValid: ({ context, event }) => {
      const hello = frameOf(event, 'hello');
      return hello !== undefined && context.services.authenticate(hello.token).ok;
    },
    isAck: ({ event }) => frameOf(event, 'ack') !== undefined,
    isPing: ({ event }) => frameOf(event, 'ping') !== undefined,
    isSubscribe: ({ event }) => frameOf(event, 'subscribe') !== undefined,
    isResume: ({ event }) => frameOf(event, 'resume') !== undefined,
    isUnsubscribe: ({ event }) => frameOf(event, 'unsubscribe') !== undefined,
    /** A subscription outside what the token grants. */
    isForbidden: ({ context, event }) => {
      const identity = context.identity;
      if (!identity) return false;
      const threads = frameOf(event, 'subscribe') ? [frameOf(event, 'subscribe')!.thread] : Object.keys(frameOf(event, 'resume')?.positions ?? {});
      return threads.some((thread) => !mayRead(identity, thread));
    },
    backlogOverCap: ({ context }) => backlogOf(context) > context.config.shedAbove,
    /** A slow consumer: the link pushes back and the backlog passed the hard cap (a burst alone is not shed). */
    overShedCap: and([stateIn('#session.open.outbox.blocked'), 'backlogOverCap']),
    /** Frames still in the link's send buffer are not lost: retransmitting them only adds load. */
    linkBlocked: stateIn('#session.open.outbox.blocked'),
    nothingInFlight: ({ context }) => inflightOf(context) === 0,
    outOfRetransmits: ({ context }) => context.retransmits >= context.config.maxRetransmits,
  },
  actions: {
    heard: raise({ type: 'HEARD' }),
    /** A new second of replay budget; what waited for it goes out. */
    refillReplay: enqueueActions(({ context, enqueue }) => {
      context.replayed = 0;
      if (backlogOf(context) > 0) enqueue.raise({ type: 'FLUSH' });
    }),
    requestFlush: raise({ type: 'FLUSH' }),
    authenticate: assign(({ context, event }) => {
      const result = context.services.authenticate(frameOf(event, 'hello')!.token);
      return result.ok ? { identity: result.identity } : {};
    }),
    sendWelcome: ({ context }) => {
      send(context, { v: PROTOCOL_VERSION, type: 'welcome', session: context.connId, epoch: context.services.epoch });
    },
    closeLink: assign(({ context }, params: { code: number; reason: string }) => {
      context.port.close(params.code, params.reason);
      return { closeReason: `${params.code} ${params.reason}` };
    }),
    closeWithShutdown: assign(({ context, event }) => {
      if (event.type !== 'SHUTDOWN') return {};
      context.port.close(event.code, event.reason);
      return { closeReason: `${event.code} ${event.reason}` };
    }),
    noteClosed: assign(({ event }) => (event.type === 'LINK_CLOSED' ? { closeReason: `${event.code} ${event.reason} (by peer)` } : {})),
    refuseUnauthenticated: ({ context }) => {
      send(context, { v: PROTOCOL_VERSION, type: 'error', code: 'not_authenticated', message: 'send hello first' });
    },
    rejectFrame: ({ context, event }) => {
      if (event.type !== 'BAD_FRAME') return;
      context.stats.rejected++;
      context.port.rejected(event.code, event.detail);
      send(context, { v: PROTOCOL_VERSION, type: 'error', code: event.code as 'malformed_json', message: event.detail });
    },
    handleSubscribe: ({ context, event }) => {
      const frame = frameOf(event, 'subscribe')!;
      openStream(context, frame.thread, frame.from, frame.epoch);
    },
    /** Resume every stream at the client's positions (re-authorised: the hello ran again). */
    handleResume: ({ context, event }) => {
      const frame = frameOf(event, 'resume')!;
      for (const [thread, from] of Object.entries(frame.positions)) openStream(context, thread, from, frame.epoch);
    },
    handleUnsubscribe: ({ context, event }) => closeStream(context, frameOf(event, 'unsubscribe')!.thread),
    /** A NOTIFY may mean a pending stream's log is loaded (clustered nodes). */
    finishPending: ({ context, event }) => {
      if (event.type === 'NOTIFY' && context.pending.size > 0) finishPending(context, event.thread);
    },
    restartStreams: ({ context }) => restartStreams(context),
    pong: ({ context, event }) => {
      send(context, { v: PROTOCOL_VERSION, type: 'pong', id: frameOf(event, 'ping')!.id });
    },
    /** Apply a cumulative ack; progress resets the retransmission backoff. */
    applyAck: enqueueActions(({ context, event, enqueue }) => {
      let progress = false;
      for (const [thread, upTo] of Object.entries(frameOf(event, 'ack')!.acks)) {
        progress = (context.streams.get(thread)?.ack(upTo) ?? false) || progress;
      }
      if (!progress) return;
      enqueue.assign({ retransmits: 0, rto: context.config.rtoMs });
      enqueue.raise({ type: 'ACKED' });
      // the window moved: send what waited for it (nothing waits when the backlog is empty)
      if (backlogOf(context) > 0) enqueue.raise({ type: 'FLUSH' });
    }),
    flush: enqueueActions(({ context, enqueue }) => flushWith(context, (event) => enqueue.raise(event), onlyThinking)),
    /** Go back N on every stream and back off. */
    retransmit: assign(({ context }) => {
      for (const stream of context.streams.values()) {
        context.stats.retransmitted += stream.inflight;
        stream.rewind();
      }
      return { retransmits: context.retransmits + 1, rto: Math.min(context.config.rtoCapMs, context.rto * 2) };
    }),
    setRole: assign(({ context, event }) => (event.type === 'ROLE_CHANGED' && context.identity ? { identity: { ...context.identity, role: event.role } } : {})),
    /** Leave the routing index: nothing of this session survives it. */
    unregister: ({ context }) => {
      for (const thread of [...context.streams.keys(), ...context.pending.keys()]) closeStream(context, thread);
    },
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    connId: input.connId,
    link: input.link ?? input.connId,
    upgradeToken: input.upgradeToken,
    limits: { ...DEFAULT_LIMITS, ...input.limits },
    replayed: 0,
    port: input.port,
    services: input.services,
    config: { ...DEFAULT_SESSION_CONFIG, ...input.config },
    identity: null,
    streams: new Map(),
    pending: new Map(),
    rto: input.config?.rtoMs ?? DEFAULT_SESSION_CONFIG.rtoMs,
    retransmits: 0,
    closeReason: null,
    stats: { framesSent: 0, retransmitted: 0, coalesced: 0, rejected: 0, highWater: 0, refused: 0 },
  }),
  initial: 'handshake',
  on: {
    LINK_CLOSED: { target: '.closed', actions: 'noteClosed' },
    SHUTDOWN: { target: '.closed', actions: 'closeWithShutdown' },
  },
  states: {
    handshake: {
      after: { authTimeout: { target: 'closed', actions: { type: 'closeLink', params: { code: CloseCode.authRefused, reason: 'no hello' } } } },
      on: {
        FRAME: [
          { guard: 'identityMismatch', target: 'closed', actions: { type: 'closeLink', params: { code: CloseCode.forbidden, reason: 'identity mismatch' } } },
          { guard: 'tokenValid', target: 'open', actions: ['authenticate', 'sendWelcome'] },
          { guard: 'isHello', target: 'closed', actions: { type: 'closeLink', params: { code: CloseCode.authRefused, reason: 'invalid or expired token' } } },
          { actions: 'refuseUnauthenticated' },
        ],
        BAD_FRAME: { actions: 'rejectFrame' },
      },
    },
    open: {
      type: 'parallel',
      on: {
        // XState hands an event to a parallel state's own handlers only when
        // no region takes it, so the regions hear frames through HEARD/ACKED.
        FRAME: [
          { guard: 'isForbidden', target: 'closed', actions: { type: 'closeLink', params: { code: CloseCode.forbidden, reason: 'thread not allowed' } } },
          { guard: 'isAck', actions: ['heard', 'applyAck'] },
          { guard: 'isPing', actions: ['heard', 'pong'] },
          { guard: 'isSubscribe', actions: ['heard', 'handleSubscribe', 'requestFlush'] },
          { guard: 'isResume', actions: ['heard', 'handleResume', 'requestFlush'] },
          { guard: 'isUnsubscribe', actions: ['heard', 'handleUnsubscribe'] },
          { guard: 'isHello', actions: ['heard', 'refuseUnauthenticated'] },
          { actions: 'heard' },
        ],
        // only a valid frame proves the peer alive: a client sending garbage is still reaped
        BAD_FRAME: { actions: 'rejectFrame' },
        NOTIFY: [{ guard: 'overShedCap', target: 'closed', actions: { type: 'closeLink', params: { code: CloseCode.tryAgainLater, reason: 'outbox over cap' } } }, { actions: ['finishPending', 'requestFlush'] }],
        EPOCH_CHANGED: { actions: ['restartStreams', 'requestFlush'] },
        ROLE_CHANGED: { actions: 'setRole' },
      },
      states: {
        liveness: {
          initial: 'alive',
          states: {
            alive: {
              on: { HEARD: { target: 'alive', reenter: true } },
              after: { reapAfter: { target: '#session.closed', actions: { type: 'closeLink', params: { code: CloseCode.heartbeatTimeout, reason: 'peer silent' } } } },
            },
          },
        },
        outbox: {
          initial: 'idle',
          states: {
            idle: { on: { FLUSH: 'scheduled' } },
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
                  { guard: 'outOfRetransmits', target: '#session.closed', actions: { type: 'closeLink', params: { code: CloseCode.ackTimeout, reason: 'ack timeout' } } },
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
