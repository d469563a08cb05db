/**
 * The browser side of one connection: idle → connecting → authenticating →
 * open → closing → closed, with reconnecting (capped exponential backoff,
 * full jitter) and a terminal `failed` state that says why.
 *
 * The machine owns no I/O and holds data only: every frame reaches it as its
 * own event (`frame.welcome`, `frame.event`, ..., `frame.invalid`), decoded,
 * unbatched and reassembled (`client-inbox.ts`), but for a message's
 * consecutive event frames, which come as one `frame.events`; what it does to
 * the world are named actions the endpoint supplies with `provide()`
 * (`openLink`, `closeLink`, `sendFrame`, `deliver`, `deliverRun`, `notify*`).
 * The app answers each `deliver` with `app.delivered` or `app.failed`, and a
 * `deliverRun` with one `app.run` (the endpoint raises it: it is taken in the
 * same macrostep): a stream hands the app one event, or one in-order run, at a
 * time and moves on only when it answered. A run that is not the plain case
 * (a gap, a duplicate, a resync, a coalesced frame) is raised frame by frame
 * as `frame.event`s. Time comes from the
 * actor's clock (`after`), the jitter's draw from the endpoint (`backoff`).
 *
 * Context changes through `assign` only and is plain data (cursors are
 * records, see `stream-cursor.ts`), so `getPersistedSnapshot()` survives
 * `JSON.stringify` and a restored client resumes where the old one stood.
 */
import { assign, enqueueActions, raise, setup, stateIn } from 'xstate';
import { EMPTY_LIST, withDefaults } from './defaults.ts';
import {
  CloseCode,
  isReconnectCode,
  PROTOCOL_VERSION,
  type AgentEvent,
  type ClientFrame,
  type EventFrame,
  type ResyncRequiredFrame,
  type ServerFrame,
} from './frames.ts';
import {
  advance,
  advanceTo,
  failedOnce,
  handRun,
  hold,
  isDuplicate,
  isPlainRun,
  newCursor,
  pendingAck,
  repeatsUnheardResync,
  restartAt,
  settle,
  skipTo,
  unacked,
  type DeliverResult,
  type StreamCursor,
} from './stream-cursor.ts';

export interface ClientConfig {
  connectTimeoutMs: number;
  authTimeoutMs: number;
  /** H: a ping goes out after this long in `open` (since `open` began, the last ping, or the first frame after it). */
  pingIntervalMs: number;
  /** T: no frame at all this long after a ping means the peer is dead. Silence is found within H+T. */
  pongTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Consecutive failed attempts before `failed`. */
  maxAttempts: number;
  /** Acks are cumulative and batched: one ack frame per this delay at most, unless a backlog fills (below). */
  ackDelayMs: number;
  /** A stream this many frames past its last ack is acked at once: a burst never waits on a full window for the delay. */
  ackEveryFrames: number;
  closeTimeoutMs: number;
  /** Delay before handing a failed event to the app again. */
  appRetryMs: number;
  /** App failures on one event before it is dead-lettered. */
  maxAppAttempts: number;
  /** Frames held ahead of a gap, per stream. */
  releaseBufferCap: number;
  /** An unanswered subscribe or resume is sent again after this long; so is the unsubscribe of a thread whose frames still arrive. */
  resubscribeMs: number;
}

export const DEFAULT_CLIENT_CONFIG: ClientConfig = Object.freeze({
  connectTimeoutMs: 2000,
  authTimeoutMs: 2000,
  // generous, as real deployments are: a frame queued behind a large one on a slow link arrives late
  pingIntervalMs: 2000,
  pongTimeoutMs: 3000,
  backoffBaseMs: 100,
  backoffCapMs: 2000,
  maxAttempts: 30,
  // acks never hold delivery back: batching them for 80 ms saves a frame, a timer and a server step
  // per event 20 ms apart (0.42 acks per event at 40 ms, 0.2 here). Under the server's first RTO
  // (300 ms) with room for a 220 ms round trip; 100 ms made a lost ack cost more retransmissions.
  ackDelayMs: 80,
  // a quarter of the server's default window (2,048 frames)
  ackEveryFrames: 512,
  closeTimeoutMs: 1000,
  appRetryMs: 50,
  maxAppAttempts: 5,
  releaseBufferCap: 4096,
  resubscribeMs: 500,
});

/** What the app is told besides its events (the endpoint maps the `notify*` actions onto it). */
export interface AppSink {
  /** Hand an event to the app; the app may fail (it is retried). */
  deliver(thread: string, seq: number, event: AgentEvent): DeliverResult;
  /** The app failed on an event; it will be retried. */
  appFailed(thread: string, seq: number, event: AgentEvent, attempt: number, message: string): void;
  /** The app failed too often on an event: it is set aside and the stream goes on. */
  deadLetter(thread: string, seq: number, event: AgentEvent, message: string, attempts: number): void;
  /** The stream skipped from `from` to `to`: the server could not replay the gap. */
  resync(thread: string, from: number, to: number, reason: string): void;
  /** A frame from the server was refused by the decoder. */
  rejected(code: string, detail: string): void;
}

export interface RandomSource {
  /** A float in [0, 1). */
  next(): number;
}

export interface ClientInput {
  id: string;
  token: string;
  threads: readonly string[];
  config?: Partial<ClientConfig>;
  /**
   * Where each stream stood when an earlier client of the same app stopped (a
   * page reload): the first welcome resumes from there, so the app gets no
   * event twice and misses none.
   */
  cursors?: Readonly<Record<string, SavedCursor>>;
}

/** A stream position worth keeping across a reload: the next sequence the app needs, in the epoch it refers to. */
export interface SavedCursor {
  epoch: string | null;
  next: number;
}

export interface ClientStats {
  duplicates: number;
  rejected: number;
  reconnects: number;
  resyncs: number;
  deadLetters: number;
}

/** A new client's stats (shared, frozen: stats are replaced when they change). */
const NO_CLIENT_STATS: ClientStats = Object.freeze({ duplicates: 0, rejected: 0, reconnects: 0, resyncs: 0, deadLetters: 0 });

export interface ClientContext {
  id: string;
  token: string;
  config: ClientConfig;
  /** Threads the app wants, in the order it asked for them. */
  threads: readonly string[];
  /**
   * Threads whose event frames arrived unwanted since the last resend: an
   * `unsubscribe` has no answer, so a frame still coming is the only sign the
   * server lost it (WS-SUB-7).
   */
  unwanted: readonly string[];
  streams: Readonly<Record<string, StreamCursor>>;
  /** Streams a retry still has to visit after the one whose event is with the app. */
  sweep: readonly string[];
  /** Epoch of the server the cursors refer to (null before the first welcome). */
  epoch: string | null;
  /** Consecutive attempts that did not reach `open`. */
  attempt: number;
  pingId: number;
  /** A frame arrived since the last ping (HEARD is raised for the first one only). */
  heard: boolean;
  failure: string | null;
  stats: ClientStats;
}

/** One event per server frame type: `frame.welcome`, `frame.event`, ... */
export type FrameEvent = { [K in ServerFrame['type']]: { type: `frame.${K}`; frame: Extract<ServerFrame, { type: K }> } }[ServerFrame['type']];

export type AppAnswer = { type: 'app.delivered'; thread: string; seq: number } | { type: 'app.failed'; thread: string; seq: number; message: string };

/**
 * The app's answer to `deliverRun`: it took `delivered` events from `from` on,
 * then failed on the next one when `failure` is set (that one is retried like
 * any `app.failed`; the rest of the run stays held).
 */
export interface AppRunAnswer {
  type: 'app.run';
  thread: string;
  from: number;
  delivered: number;
  failure?: string;
}

/** A message's consecutive event frames, as one event (see `client-inbox.ts`). */
export interface FrameRunEvent {
  type: 'frame.events';
  frames: readonly EventFrame[];
}

export type ClientEvent =
  | { type: 'START' }
  | { type: 'STOP' }
  /** The actor was restored from a persisted snapshot: the link it had is gone. */
  | { type: 'RESTORED' }
  | { type: 'LINK_OPEN' }
  | { type: 'LINK_CLOSED'; code: number; reason: string }
  | FrameEvent
  /** A message the decoder refused. */
  | { type: 'frame.invalid'; code: string; detail: string }
  | FrameRunEvent
  | AppAnswer
  | AppRunAnswer
  | { type: 'SUBSCRIBE'; thread: string }
  | { type: 'UNSUBSCRIBE'; thread: string }
  | { type: 'ACK_DUE' }
  | { type: 'APP_STALLED' }
  | { type: 'HEARD' }
  | { type: 'SUBSCRIPTIONS_SENT' };

export const frameEvent = (frame: ServerFrame): FrameEvent => ({ type: `frame.${frame.type}`, frame }) as FrameEvent;

/** The app's answer to `deliver`, as the event the endpoint sends back. */
export const appAnswer = (thread: string, seq: number, result: DeliverResult): AppAnswer =>
  result.ok ? { type: 'app.delivered', thread, seq } : { type: 'app.failed', thread, seq, message: result.message };

export interface DeliverParams {
  thread: string;
  seq: number;
  event: AgentEvent;
}

/** A plain run for the app: the events of sequences `from`, `from`+1, ... */
export interface RunParams {
  thread: string;
  from: number;
  events: readonly AgentEvent[];
}

/** Hand a run to the app event by event, stopping at its first failure: the one answer the endpoint raises. */
export function deliverEach(app: Pick<AppSink, 'deliver'>, { thread, from, events }: RunParams): AppRunAnswer {
  for (let i = 0; i < events.length; i++) {
    const result = app.deliver(thread, from + i, events[i]!);
    if (!result.ok) return { type: 'app.run', thread, from, delivered: i, failure: result.message };
  }
  return { type: 'app.run', thread, from, delivered: events.length };
}

type Streams = ClientContext['streams'];

const cursorOf = (streams: Streams, thread: string): StreamCursor => streams[thread] ?? newCursor(thread);
const withCursor = (streams: Streams, cursor: StreamCursor): Streams => ({ ...streams, [cursor.thread]: cursor });
const frame = (f: ClientFrame): { frame: ClientFrame } => ({ frame: f });

/**
 * Ask for streams at their cursors: one resume per server epoch the cursors
 * refer to (a restarted server answers resync_required), a plain subscribe
 * for a stream never confirmed. Marks them unconfirmed until answered.
 */
function requestStreams(streams: Streams, threads: Iterable<string>): { streams: Streams; frames: ClientFrame[] } {
  const frames: ClientFrame[] = [];
  const byEpoch = new Map<string, Record<string, number>>();
  for (const thread of threads) {
    const cursor = { ...cursorOf(streams, thread), confirmed: false };
    streams = withCursor(streams, cursor);
    // events may have arrived though the answer naming their epoch was lost: the position is in theirs
    const epoch = cursor.epoch ?? cursor.seenEpoch;
    if (epoch === null) {
      frames.push({ v: PROTOCOL_VERSION, type: 'subscribe', thread, from: cursor.next });
      continue;
    }
    const positions = byEpoch.get(epoch) ?? {};
    byEpoch.set(epoch, positions);
    positions[thread] = cursor.next;
  }
  for (const [epoch, positions] of byEpoch) frames.push({ v: PROTOCOL_VERSION, type: 'resume', epoch, positions });
  return { streams, frames };
}

interface ResyncNotice {
  thread: string;
  from: number;
  to: number;
  reason: string;
}

/**
 * Move a stream past a gap the app must hear of: back to `from` when a new
 * epoch numbers the stream afresh (`rebase`), otherwise only ever forward.
 * The server has answered for the stream: it is confirmed, in `epoch`.
 */
function resynced(
  cursor: StreamCursor,
  resync: { from: number; reason: ResyncRequiredFrame['reason'] },
  epoch: string | undefined,
  rebase: boolean,
): { cursor: StreamCursor; notice: ResyncNotice } {
  const notice = { thread: cursor.thread, from: cursor.next, to: rebase ? resync.from : Math.max(cursor.next, resync.from), reason: resync.reason };
  const moved = rebase ? restartAt(cursor, resync.from) : skipTo(cursor, resync.from);
  return { cursor: { ...moved, confirmed: true, ...(epoch !== undefined ? { epoch } : {}) }, notice };
}

/** The first of `sweep` with an event for the app, the frames with nothing for it passed over. */
function nextInSweep(streams: Streams, sweep: readonly string[]): { streams: Streams; sweep: readonly string[]; head?: EventFrame } {
  for (let i = 0; i < sweep.length; i++) {
    const cursor = streams[sweep[i]!];
    if (!cursor) continue;
    const settled = settle(cursor);
    if (settled.cursor !== cursor) streams = withCursor(streams, settled.cursor);
    if (settled.head) return { streams, sweep: sweep.slice(i + 1), head: settled.head };
  }
  return { streams, sweep: [] };
}

/**
 * After a resync moved a stream forward over a gap, the frames it held from
 * the resync's start on are its next: settled, the first for the app as head.
 * A resync that did not move it releases nothing (a frame the app failed on
 * waits for its retry).
 */
function releasedPast(before: StreamCursor, after: StreamCursor): { cursor: StreamCursor; head: EventFrame | undefined } {
  return after.next > before.next ? settle(after) : { cursor: after, head: undefined };
}

/** Tell the app of the gap, then hand it the frame the resync released, if any: the stream's next, now, not never. */
function announceResync(enqueue: Parameters<Collect>[0]['enqueue'], notice: ResyncNotice, head: EventFrame | undefined): void {
  enqueue({ type: 'notifyResync', params: notice });
  if (head) enqueue({ type: 'deliver', params: deliverParams(head) });
}

const deliverParams = (head: EventFrame): DeliverParams => ({ thread: head.thread, seq: head.seq, event: head.event! });

/** Cursors restored from an earlier client: acked up to where the app stood (the resume says so). */
function restoredStreams(saved: ClientInput['cursors']): Streams {
  const streams: Record<string, StreamCursor> = {};
  for (const [thread, { epoch, next }] of Object.entries(saved ?? {})) streams[thread] = newCursor(thread, next, epoch);
  return streams;
}

/** The positions to save for a later client (see `ClientInput.cursors`). */
export function savedCursors(context: Pick<ClientContext, 'streams'>): Record<string, SavedCursor> {
  const out: Record<string, SavedCursor> = {};
  for (const cursor of Object.values(context.streams)) out[cursor.thread] = { epoch: cursor.epoch ?? cursor.seenEpoch, next: cursor.next };
  return out;
}

/** Full jitter: uniform in [0, min(cap, base·2^(attempt-1))) for a draw in [0, 1); `attempt` counts this one. */
export function backoffDelay(context: Pick<ClientContext, 'config' | 'attempt'>, draw: number): number {
  const ceiling = Math.min(context.config.backoffCapMs, context.config.backoffBaseMs * 2 ** (context.attempt - 1));
  return Math.floor(draw * ceiling);
}

/** The I/O actions a protocol action may enqueue (typed here: `setup` cannot infer actions that name each other). */
type IoAction =
  | { type: 'sendFrame'; params: { frame: ClientFrame } }
  | { type: 'deliver'; params: DeliverParams }
  | { type: 'deliverRun'; params: RunParams }
  | { type: 'notifyAppFailed'; params: DeliverParams & { attempt: number; message: string } }
  | { type: 'notifyDeadLetter'; params: DeliverParams & { attempts: number; message: string } }
  | { type: 'notifyResync'; params: ResyncNotice }
  | { type: 'notifyRejected'; params: { code: string; detail: string } };

type Collect = Parameters<typeof enqueueActions<ClientContext, ClientEvent, undefined, ClientEvent, never, IoAction, never, never, never>>[0];
/** A protocol action that updates context and enqueues I/O. */
const withIo = (collect: Collect) => enqueueActions<ClientContext, ClientEvent, undefined, ClientEvent, never, IoAction, never, never, never>(collect);

const isEventFrame = (event: ClientEvent): event is Extract<ClientEvent, { type: 'frame.event' }> => event.type === 'frame.event';
const isAnswer = (event: ClientEvent): event is AppAnswer => event.type === 'app.delivered' || event.type === 'app.failed';

/**
 * The acks region hears ACK_DUE when idle, or when pending and `cursor`'s backlog is full (pending
 * has its timer otherwise): a raise that no state takes still costs XState a walk of every active
 * state, once per delivered event.
 */
const acksIdle = stateIn('#client.open.acks.idle') as never;
function ackDue(context: ClientContext, cursor: StreamCursor, { enqueue, check }: Pick<Parameters<Collect>[0], 'enqueue' | 'check'>): void {
  if (check(acksIdle) || unacked(cursor) >= context.config.ackEveryFrames) enqueue.raise({ type: 'ACK_DUE' });
}

/** The subscriptions region sleeps once every request was answered: an owed unsubscribe wakes it. */
const subscriptionsSettled = stateIn('#client.open.subscriptions.settled') as never;

/**
 * Move on after the app answered for `cursor`'s stream: hand it `head` (the
 * stream's next event, if settled), or go on with the streams a retry still has to visit.
 */
function moveOn(context: ClientContext, { cursor, head }: { cursor: StreamCursor; head: EventFrame | undefined }, stats: ClientStats, io: Pick<Parameters<Collect>[0], 'enqueue' | 'check'>): void {
  const { enqueue } = io;
  let streams = withCursor(context.streams, cursor);
  let sweep = context.sweep;
  let next = head;
  if (!next) ({ streams, sweep, head: next } = nextInSweep(streams, sweep));
  enqueue.assign({ streams, sweep, stats });
  if (next) enqueue({ type: 'deliver', params: deliverParams(next) });
  ackDue(context, cursor, io);
}

export const clientConnectionMachine = setup({
  types: {
    context: {} as ClientContext,
    events: {} as ClientEvent,
    input: {} as ClientInput,
  },
  delays: {
    connectTimeout: ({ context }) => context.config.connectTimeoutMs,
    authTimeout: ({ context }) => context.config.authTimeoutMs,
    pingInterval: ({ context }) => context.config.pingIntervalMs,
    pongTimeout: ({ context }) => context.config.pongTimeoutMs,
    /** The endpoint supplies the random draw (`backoffDelay(context, random.next())`); alone, the machine waits half the ceiling. */
    backoff: ({ context }) => backoffDelay(context, 0.5),
    ackDelay: ({ context }) => context.config.ackDelayMs,
    closeTimeout: ({ context }) => context.config.closeTimeoutMs,
    appRetry: ({ context }) => context.config.appRetryMs,
    resubscribe: ({ context }) => context.config.resubscribeMs,
  },
  guards: {
    isFinalClose: ({ event }) => event.type === 'LINK_CLOSED' && !isReconnectCode(event.code),
    outOfAttempts: ({ context }) => context.attempt >= context.config.maxAttempts,
    /** A resync to an epoch the cursor already follows: a duplicate, which must not reset it again. */
    isStaleResync: ({ context, event }) => {
      if (event.type !== 'frame.resync_required' || event.frame.reason !== 'epoch_changed') return false;
      const cursor = context.streams[event.frame.thread];
      return cursor !== undefined && (cursor.epoch === event.frame.epoch || cursor.seenEpoch === event.frame.epoch);
    },
    /** An event frame for a thread the app no longer wants. */
    isUnwanted: ({ context, event }) => isEventFrame(event) && !context.threads.includes(event.frame.thread),
    /** Dedup: the frame was released or is held already. */
    isDuplicate: ({ context, event }) => isEventFrame(event) && isDuplicate(cursorOf(context.streams, event.frame.thread), event.frame),
    /** The app answered for the event its stream is waiting on (not for one handed again by a broken dedup). */
    answersHead: ({ context, event }) => {
      if (!isAnswer(event)) return false;
      const cursor = context.streams[event.thread];
      return cursor !== undefined && cursor.withApp === 1 && cursor.next === event.seq;
    },
    /** The whole run continues its stream (see `isPlainRun`): it can go to the app at once. */
    isPlainRun: ({ context, event }) => {
      if (event.type !== 'frame.events' || event.frames.length === 0 || event.frames.length > context.config.releaseBufferCap) return false;
      const thread = event.frames[0]!.thread;
      const cursor = context.streams[thread];
      return cursor !== undefined && context.threads.includes(thread) && isPlainRun(cursor, event.frames);
    },
    /** The app answered for the run its stream handed it, and for no more than that run. */
    answersRun: ({ context, event }) => {
      if (event.type !== 'app.run') return false;
      const cursor = context.streams[event.thread];
      if (cursor === undefined || cursor.withApp === 0 || cursor.next !== event.from) return false;
      return event.failure !== undefined ? event.delivered < cursor.withApp : event.delivered === cursor.withApp;
    },
    /** A subscribe or resume not answered yet, or an unsubscribe the server may have lost. */
    hasUnanswered: ({ context }) => context.unwanted.length > 0 || context.threads.some((t) => !context.streams[t]?.confirmed),
    hasPendingAcks: ({ context }) => Object.values(context.streams).some((c) => pendingAck(c) !== undefined),
    ackBacklogFull: ({ context }) => Object.values(context.streams).some((c) => unacked(c) >= context.config.ackEveryFrames),
  },
  actions: {
    // ---- I/O: supplied by the endpoint with `provide()`; alone, the machine talks to nobody
    openLink: () => {},
    closeLink: (_, _params: { code: number; reason: string }) => {},
    sendFrame: (_, _params: { frame: ClientFrame }) => {},
    /** Hand an event to the app; the endpoint sends back the app's answer (`appAnswer`). */
    deliver: (_, _params: DeliverParams) => {},
    deliverRun: (_, _params: RunParams) => {},
    notifyAppFailed: (_, _params: DeliverParams & { attempt: number; message: string }) => {},
    notifyDeadLetter: (_, _params: DeliverParams & { attempts: number; message: string }) => {},
    notifyResync: (_, _params: ResyncNotice) => {},
    notifyRejected: (_, _params: { code: string; detail: string }) => {},

    // ---- protocol
    sendHello: withIo(({ context, enqueue }) => {
      enqueue({ type: 'sendFrame', params: frame({ v: PROTOCOL_VERSION, type: 'hello', token: context.token }) });
    }),
    /** Subscribe every wanted thread, resuming from each cursor after a reconnect. */
    sendResume: withIo(({ context, enqueue }) => {
      const request = requestStreams(context.streams, context.threads);
      enqueue.assign({ streams: request.streams });
      for (const f of request.frames) enqueue({ type: 'sendFrame', params: frame(f) });
    }),
    /**
     * Subscribe, resume and unsubscribe frames can be lost like any other: the unanswered
     * subscribes and resumes go again, and the unsubscribe of each thread whose frames still came.
     */
    resendUnanswered: withIo(({ context, enqueue }) => {
      const request = requestStreams(context.streams, context.threads.filter((t) => !context.streams[t]?.confirmed));
      enqueue.assign({ streams: request.streams, unwanted: EMPTY_LIST });
      for (const f of request.frames) enqueue({ type: 'sendFrame', params: frame(f) });
      // a thread wanted again since its frame came unwanted (subscribed anew) is not unsubscribed: that would stop it
      for (const thread of context.unwanted) {
        if (!context.threads.includes(thread)) enqueue({ type: 'sendFrame', params: frame({ v: PROTOCOL_VERSION, type: 'unsubscribe', thread }) });
      }
    }),
    /** A frame of a thread the client does not want: its unsubscribe goes again with the next resend (once per thread; an idle region is woken for it). */
    noteUnwanted: withIo(({ context, event, enqueue, check }) => {
      if (!isEventFrame(event) || context.unwanted.includes(event.frame.thread)) return;
      enqueue.assign({ unwanted: [...context.unwanted, event.frame.thread] });
      if (check(subscriptionsSettled)) enqueue.raise({ type: 'SUBSCRIPTIONS_SENT' });
    }),
    /** A new link: its session has only what this client resumes, so no unsubscribe is owed on it. */
    recordWelcome: assign(({ event }) => (event.type === 'frame.welcome' ? { epoch: event.frame.epoch, attempt: 0, unwanted: EMPTY_LIST } : {})),
    /** The server answered: the cursor now refers to the server's epoch, and so does the client. */
    confirmStream: assign(({ context, event }) => {
      if (event.type !== 'frame.subscribed') return {};
      const cursor = cursorOf(context.streams, event.frame.thread);
      return { streams: withCursor(context.streams, { ...cursor, confirmed: true, epoch: event.frame.epoch }), epoch: event.frame.epoch };
    }),
    /** The server cannot replay the gap: the app hears of it, the stream moves on (a new epoch numbers it afresh). */
    applyResync: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.resync_required') return;
      const cursor = { ...cursorOf(context.streams, event.frame.thread), confirmed: true, epoch: event.frame.epoch };
      const moved = resynced(cursor, event.frame, event.frame.epoch, event.frame.reason === 'epoch_changed');
      const settled = releasedPast(cursor, moved.cursor);
      enqueue.assign({
        streams: withCursor(context.streams, settled.cursor),
        epoch: event.frame.epoch,
        stats: { ...context.stats, resyncs: context.stats.resyncs + 1 },
      });
      announceResync(enqueue, moved.notice, settled.head);
    }),
    /**
     * A resync to an epoch whose frames already arrived (it was overtaken, or it came twice):
     * the app still hears of the gap, and the cursor only ever moves forward.
     */
    noticeResync: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.resync_required') return;
      const cursor = cursorOf(context.streams, event.frame.thread);
      const moved = resynced(cursor, event.frame, event.frame.epoch, false);
      const settled = releasedPast(cursor, moved.cursor);
      enqueue.assign({ streams: withCursor(context.streams, settled.cursor), stats: { ...context.stats, resyncs: context.stats.resyncs + 1 } });
      announceResync(enqueue, moved.notice, settled.head);
    }),
    /** A frame we already have came again: the server missed our ack, so the next ack must cover it again. */
    countDuplicate: assign(({ context, event }) => {
      const stats = { ...context.stats, duplicates: context.stats.duplicates + 1 };
      if (!isEventFrame(event)) return { stats };
      const cursor = cursorOf(context.streams, event.frame.thread);
      return { stats, streams: withCursor(context.streams, { ...cursor, acked: Math.min(cursor.acked, event.frame.seq - 1) }) };
    }),
    /** Take an event frame the dedup guard let through, and hand the app the stream's next event. */
    acceptEvent: withIo(({ context, event, enqueue, check }) => {
      if (!isEventFrame(event)) return;
      // the frame is heard here (noteHeard's work, folded into this assign): the first after a ping ends the probe
      if (!context.heard) enqueue.raise({ type: 'HEARD' });
      const f = event.frame;
      let cursor = cursorOf(context.streams, f.thread);
      let stats = context.stats;
      // a frame may overtake the server's answer to our request: remember whose sequence it was
      const firstOfEpoch = f.epoch !== undefined && cursor.seenEpoch !== f.epoch;
      if (f.epoch !== undefined) cursor = { ...cursor, seenEpoch: f.epoch };
      // the frame repeats a resync the client has not heard yet (its resync_required was lost): tell the app first
      // (in the same epoch too: a window evicted mid-stream leaves the cursor behind the resync's start)
      if (repeatsUnheardResync(cursor, f)) {
        const newEpoch = f.resync.reason === 'epoch_changed' && firstOfEpoch && cursor.epoch !== f.epoch;
        const moved = resynced(cursor, f.resync, f.epoch, newEpoch);
        cursor = moved.cursor;
        stats = { ...stats, resyncs: stats.resyncs + 1 };
        enqueue({ type: 'notifyResync', params: moved.notice });
      }
      const held = f.seq < cursor.next ? null : hold(cursor, f, context.config.releaseBufferCap);
      const settled = held ? settle(held) : { cursor, head: undefined };
      enqueue.assign({ streams: withCursor(context.streams, settled.cursor), stats, heard: true });
      // dedup said "new" for a sequence already released: the app gets it again
      if (f.seq < cursor.next && f.event) enqueue({ type: 'deliver', params: { thread: f.thread, seq: f.seq, event: f.event } });
      if (!held) return;
      // the app's answer raises ACK_DUE; a frame held behind a gap may still owe an ack lowered by a duplicate
      if (settled.head) enqueue({ type: 'deliver', params: deliverParams(settled.head) });
      else ackDue(context, settled.cursor, { enqueue, check });
    }),
    /** A duplicate lowered its stream's ack (countDuplicate): the acks region hears of it as `ackDue` says. */
    ackDuplicate: withIo(({ context, event, enqueue, check }) => {
      if (isEventFrame(event)) ackDue(context, cursorOf(context.streams, event.frame.thread), { enqueue, check });
    }),
    /**
     * The app answered for its stream's next event: move past it (delivered, or
     * failed too often: dead-lettered) and hand it the next one, or keep it for
     * a retry; then go on with the streams a retry still has to visit.
     */
    takeAnswer: withIo(({ context, event, enqueue, check }) => {
      if (!isAnswer(event)) return;
      let cursor = context.streams[event.thread]!;
      const head = deliverParams(cursor.held[cursor.next]!);
      let stats = context.stats;
      let next: EventFrame | undefined;
      if (event.type === 'app.failed') cursor = failedOnce(cursor);
      if (event.type === 'app.failed' && cursor.failures < context.config.maxAppAttempts) {
        enqueue({ type: 'notifyAppFailed', params: { ...head, attempt: cursor.failures, message: event.message } });
        enqueue.raise({ type: 'APP_STALLED' });
      } else {
        if (event.type === 'app.failed') {
          stats = { ...stats, deadLetters: stats.deadLetters + 1 };
          enqueue({ type: 'notifyDeadLetter', params: { ...head, message: event.message, attempts: cursor.failures } });
        }
        ({ cursor, head: next } = settle(advance(cursor)));
      }
      moveOn(context, { cursor, head: next }, stats, { enqueue, check });
    }),
    /** Take a run that continues its stream whole: hold it, and hand all of it to the app in one action. */
    acceptRun: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.events') return;
      if (!context.heard) enqueue.raise({ type: 'HEARD' });
      const cursor = handRun(context.streams[event.frames[0]!.thread]!, event.frames);
      enqueue.assign({ streams: withCursor(context.streams, cursor), heard: true });
      enqueue({ type: 'deliverRun', params: { thread: cursor.thread, from: cursor.next, events: event.frames.map((f) => f.event!) } });
    }),
    /** Any other run: each frame as if it came alone (dedup, gaps and resyncs are `frame.event`'s rules). */
    raiseFrames: withIo(({ event, enqueue }) => {
      if (event.type !== 'frame.events') return;
      for (const f of event.frames) enqueue.raise({ type: 'frame.event', frame: f });
    }),
    /**
     * The app answered for a run: move past what it took; a failure is the
     * `app.failed` of the event it failed on (same retries, same dead letter).
     */
    takeRun: withIo(({ context, event, enqueue, check }) => {
      if (event.type !== 'app.run') return;
      const cursor = context.streams[event.thread]!;
      const moved = event.delivered > 0 ? advanceTo(cursor, event.from + event.delivered) : cursor;
      if (event.failure === undefined) return moveOn(context, settle(moved), context.stats, { enqueue, check });
      enqueue.assign({ streams: withCursor(context.streams, { ...moved, withApp: 1 }) });
      enqueue.raise({ type: 'app.failed', thread: event.thread, seq: moved.next, message: event.failure });
    }),
    /** Hand the app again what it failed on, stream after stream. */
    retryStalled: withIo(({ context, enqueue }) => {
      const { streams, sweep, head } = nextInSweep(context.streams, Object.keys(context.streams));
      enqueue.assign({ streams, sweep });
      if (head) enqueue({ type: 'deliver', params: deliverParams(head) });
      enqueue.raise({ type: 'ACK_DUE' });
    }),
    flushAcks: withIo(({ context, enqueue }) => {
      const acks: Record<string, number> = {};
      let streams = context.streams;
      for (const cursor of Object.values(context.streams)) {
        const upTo = pendingAck(cursor);
        if (upTo === undefined) continue;
        acks[cursor.thread] = upTo;
        streams = withCursor(streams, { ...cursor, acked: upTo });
      }
      if (streams === context.streams) return;
      enqueue.assign({ streams });
      enqueue({ type: 'sendFrame', params: frame({ v: PROTOCOL_VERSION, type: 'ack', acks }) });
    }),
    /** After a reconnect the resume position itself acknowledges everything before it. */
    forgetAcks: assign(({ context }) => ({
      streams: Object.fromEntries(Object.entries(context.streams).map(([thread, c]) => [thread, { ...c, acked: c.next - 1 }])),
    })),
    nextPing: assign(({ context }) => ({ pingId: context.pingId + 1, heard: false })),
    sendPing: withIo(({ context, enqueue }) => {
      enqueue({ type: 'sendFrame', params: frame({ v: PROTOCOL_VERSION, type: 'ping', id: context.pingId }) });
    }),
    /** The first frame after a ping proves the server → client direction alive: HEARD ends the probe. */
    noteHeard: withIo(({ context, enqueue }) => {
      if (context.heard) return;
      enqueue.assign({ heard: true });
      enqueue.raise({ type: 'HEARD' });
    }),
    countRejected: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'frame.invalid') return;
      enqueue.assign({ stats: { ...context.stats, rejected: context.stats.rejected + 1 } });
      enqueue({ type: 'notifyRejected', params: { code: event.code, detail: event.detail } });
    }),
    subscribeThread: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'SUBSCRIBE' || context.threads.includes(event.thread)) return;
      const request = requestStreams(context.streams, [event.thread]);
      enqueue.assign({ threads: [...context.threads, event.thread], streams: request.streams });
      for (const f of request.frames) enqueue({ type: 'sendFrame', params: frame(f) });
    }),
    unsubscribeThread: withIo(({ context, event, enqueue }) => {
      if (event.type !== 'UNSUBSCRIBE' || !context.threads.includes(event.thread)) return;
      enqueue.assign({ threads: context.threads.filter((t) => t !== event.thread) });
      enqueue({ type: 'sendFrame', params: frame({ v: PROTOCOL_VERSION, type: 'unsubscribe', thread: event.thread }) });
    }),
    /** Remember wanted threads while offline; they are sent with the next resume. */
    rememberThread: assign(({ context, event }) => {
      if (event.type === 'SUBSCRIBE' && !context.threads.includes(event.thread)) return { threads: [...context.threads, event.thread] };
      if (event.type === 'UNSUBSCRIBE') return { threads: context.threads.filter((t) => t !== event.thread) };
      return {};
    }),
    /** One more attempt; its delay is `backoff` (full jitter under a capped exponential ceiling). */
    planBackoff: assign(({ context }) => ({ attempt: context.attempt + 1, stats: { ...context.stats, reconnects: context.stats.reconnects + 1 } })),
    recordFailure: assign(({ context, event }) => ({
      failure:
        event.type === 'LINK_CLOSED' && !isReconnectCode(event.code)
          ? `closed by server: ${event.code} ${event.reason}`
          : `gave up after ${context.attempt} attempts`,
    })),
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({
    id: input.id,
    token: input.token,
    config: withDefaults(DEFAULT_CLIENT_CONFIG, input.config),
    threads: [...new Set(input.threads)],
    unwanted: EMPTY_LIST,
    streams: restoredStreams(input.cursors),
    sweep: EMPTY_LIST,
    epoch: null,
    attempt: 0,
    pingId: 0,
    heard: false,
    failure: null,
    stats: NO_CLIENT_STATS,
  }),
  initial: 'idle',
  on: {
    SUBSCRIBE: { actions: 'rememberThread' },
    UNSUBSCRIBE: { actions: 'rememberThread' },
    'app.delivered': { guard: 'answersHead', actions: 'takeAnswer' },
    'app.failed': { guard: 'answersHead', actions: 'takeAnswer' },
    'app.run': { guard: 'answersRun', actions: 'takeRun' },
  },
  states: {
    idle: {
      on: { START: 'connecting', STOP: 'closed' },
    },
    connecting: {
      entry: 'openLink',
      after: {
        connectTimeout: { target: 'reconnecting', actions: { type: 'closeLink', params: { code: CloseCode.normal, reason: 'connect timeout' } } },
      },
      on: {
        LINK_OPEN: 'authenticating',
        LINK_CLOSED: [{ guard: 'isFinalClose', target: 'failed' }, { target: 'reconnecting' }],
        STOP: { target: 'closed', actions: { type: 'closeLink', params: { code: CloseCode.normal, reason: 'stopped' } } },
        RESTORED: { target: 'connecting', reenter: true },
      },
    },
    authenticating: {
      entry: 'sendHello',
      after: {
        authTimeout: { target: 'reconnecting', actions: { type: 'closeLink', params: { code: CloseCode.normal, reason: 'auth timeout' } } },
      },
      on: {
        // a frame held for a failing app waits for no timer after a reconnect: retry it now
        'frame.welcome': { target: 'open', actions: ['forgetAcks', 'retryStalled', 'sendResume', 'recordWelcome'] },
        'frame.error': { actions: 'noteHeard' },
        'frame.invalid': { actions: 'countRejected' },
        LINK_CLOSED: [{ guard: 'isFinalClose', target: 'failed' }, { target: 'reconnecting' }],
        STOP: 'closing',
        RESTORED: 'connecting',
      },
    },
    open: {
      type: 'parallel',
      on: {
        // Any frame proves the server → client direction alive (a pong may queue behind a large
        // frame on a slow link); a silent client → server direction is the server's reaper's to find.
        'frame.pong': { actions: 'noteHeard' },
        'frame.subscribed': { actions: ['noteHeard', 'confirmStream'] },
        'frame.resync_required': [
          { guard: 'isStaleResync', actions: ['noteHeard', 'noticeResync'] },
          { actions: ['noteHeard', 'applyResync', raise({ type: 'ACK_DUE' })] },
        ],
        'frame.event': [
          { guard: 'isUnwanted', actions: ['noteHeard', 'noteUnwanted'] },
          { guard: 'isDuplicate', actions: ['noteHeard', 'countDuplicate', 'ackDuplicate'] },
          // acceptEvent notes the frame as heard in its own assign: one context copy per event, not two
          { actions: 'acceptEvent' },
        ],
        // a message's in-order events as one event: one assign and one hand-over for the whole run
        'frame.events': [{ guard: 'isPlainRun', actions: 'acceptRun' }, { actions: 'raiseFrames' }],
        'frame.invalid': { actions: ['noteHeard', 'countRejected'] },
        'frame.*': { actions: 'noteHeard' },
        SUBSCRIBE: { actions: ['subscribeThread', raise({ type: 'SUBSCRIPTIONS_SENT' })] },
        UNSUBSCRIBE: { actions: 'unsubscribeThread' },
        LINK_CLOSED: [{ guard: 'isFinalClose', target: 'failed' }, { target: 'reconnecting' }],
        STOP: 'closing',
        RESTORED: 'connecting',
      },
      states: {
        // The bound by design: let ℓ be the last time a frame arrived (or `open` began). `waiting`
        // began at or before ℓ, or is re-entered at ℓ by HEARD, so a ping goes out by ℓ+H and the
        // link is declared dead by ℓ+H+T. A direction that falls silent at t0 has ℓ ≤ t0: detection
        // within H+T, whatever else the network does (drops only make it earlier). A frame heard
        // during a probe ends it at once, so a probe answered early never delays the next one.
        heartbeat: {
          initial: 'waiting',
          states: {
            waiting: { after: { pingInterval: 'probing' } },
            probing: {
              entry: ['nextPing', 'sendPing'],
              on: { HEARD: 'waiting' },
              after: {
                pongTimeout: { target: '#client.reconnecting', actions: { type: 'closeLink', params: { code: CloseCode.heartbeatTimeout, reason: 'heartbeat timeout' } } },
              },
            },
          },
        },
        acks: {
          initial: 'idle',
          states: {
            idle: { on: { ACK_DUE: { guard: 'hasPendingAcks', target: 'pending' } } },
            pending: {
              on: { ACK_DUE: { guard: 'ackBacklogFull', target: 'idle', actions: 'flushAcks' } },
              after: { ackDelay: { target: 'idle', actions: 'flushAcks' } },
            },
          },
        },
        subscriptions: {
          initial: 'awaiting',
          states: {
            settled: { on: { SUBSCRIPTIONS_SENT: 'awaiting' } },
            awaiting: {
              after: {
                resubscribe: [{ guard: 'hasUnanswered', target: 'awaiting', reenter: true, actions: 'resendUnanswered' }, { target: 'settled' }],
              },
            },
          },
        },
        app: {
          initial: 'ready',
          states: {
            ready: { on: { APP_STALLED: 'stalled' } },
            stalled: { after: { appRetry: { target: 'ready', actions: 'retryStalled' } } },
          },
        },
      },
    },
    reconnecting: {
      entry: 'planBackoff',
      always: { guard: 'outOfAttempts', target: 'failed' },
      after: { backoff: 'connecting' },
      on: { STOP: 'closed', RESTORED: 'connecting' },
    },
    closing: {
      entry: { type: 'closeLink', params: { code: CloseCode.normal, reason: 'client closing' } },
      after: { closeTimeout: 'closed' },
      on: { LINK_CLOSED: 'closed', RESTORED: 'closed' },
    },
    closed: { type: 'final' },
    failed: { type: 'final', entry: 'recordFailure' },
  },
});

export type ClientConnectionMachine = typeof clientConnectionMachine;
