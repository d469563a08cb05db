/**
 * The browser side of one connection: idle → connecting → authenticating →
 * open → closing → closed, with reconnecting (capped exponential backoff,
 * full jitter) and a terminal `failed` state that says why.
 *
 * The machine owns no I/O: it talks to the world through `ClientPort` (open a
 * link, send, close, hand events to the app), reads time only through its
 * actor's clock (`after`), and draws jitter from the PRNG in its input. Frames
 * reach it decoded, unbatched and reassembled (`client-inbox.ts`).
 *
 * Per stream it keeps a `StreamCursor` in a Map that actions mutate in place:
 * copying the buffers on every event would make a burst O(n²). The Map is
 * private to the actor, so no one else sees it change.
 */
import { assign, enqueueActions, raise, setup } from 'xstate';
import {
  CloseCode,
  isReconnectCode,
  PROTOCOL_VERSION,
  type AgentEvent,
  type ClientFrame,
  type EventFrame,
  type ResyncRequiredFrame,
  type ServerFrame,
  type SubscribedFrame,
} from './frames.ts';
import { StreamCursor, type DeliverResult } from './stream-cursor.ts';

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
  /** Acks are cumulative and batched: one ack frame per this delay at most. */
  ackDelayMs: number;
  closeTimeoutMs: number;
  /** Delay before handing a failed event to the app again. */
  appRetryMs: number;
  /** App failures on one event before it is dead-lettered. */
  maxAppAttempts: number;
  /** Frames held ahead of a gap, per stream. */
  releaseBufferCap: number;
  /** An unanswered subscribe or resume is sent again after this long. */
  resubscribeMs: number;
}

export const DEFAULT_CLIENT_CONFIG: ClientConfig = {
  connectTimeoutMs: 2000,
  authTimeoutMs: 2000,
  // generous, as real deployments are: a frame queued behind a large one on a slow link arrives late
  pingIntervalMs: 2000,
  pongTimeoutMs: 3000,
  backoffBaseMs: 100,
  backoffCapMs: 2000,
  maxAttempts: 30,
  // acks never hold delivery back: batching them for 40 ms saves a frame and a timer per event
  ackDelayMs: 40,
  closeTimeoutMs: 1000,
  appRetryMs: 50,
  maxAppAttempts: 5,
  releaseBufferCap: 4096,
  resubscribeMs: 500,
};

/** What the world provides: the only way out of the machine. */
export interface ClientPort {
  /** Open a new link; the world answers LINK_OPEN or LINK_CLOSED. */
  connect(): void;
  send(frame: ClientFrame): void;
  /** Close the current link (if any). */
  close(code: number, reason: string): void;
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
  random: RandomSource;
  port: ClientPort;
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

export interface ClientContext {
  id: string;
  token: string;
  config: ClientConfig;
  random: RandomSource;
  port: ClientPort;
  /** Threads the app wants. */
  threads: Set<string>;
  streams: Map<string, StreamCursor>;
  /** Epoch of the server the cursors refer to (null before the first welcome). */
  epoch: string | null;
  /** Consecutive attempts that did not reach `open`. */
  attempt: number;
  backoffMs: number;
  pingId: number;
  /** A frame arrived since the last ping (HEARD is raised for the first one only). */
  heard: boolean;
  failure: string | null;
  stats: { duplicates: number; rejected: number; reconnects: number; resyncs: number; deadLetters: number };
}

export type ClientEvent =
  | { type: 'START' }
  | { type: 'STOP' }
  | { type: 'LINK_OPEN' }
  | { type: 'LINK_CLOSED'; code: number; reason: string }
  | { type: 'FRAME'; frame: ServerFrame }
  | { type: 'BAD_FRAME'; code: string; detail: string }
  | { type: 'SUBSCRIBE'; thread: string }
  | { type: 'UNSUBSCRIBE'; thread: string }
  | { type: 'ACK_DUE' }
  | { type: 'APP_STALLED' }
  | { type: 'HEARD' }
  | { type: 'SUBSCRIPTIONS_SENT' };

const isFrame = <T extends ServerFrame['type']>(event: ClientEvent, type: T): event is { type: 'FRAME'; frame: Extract<ServerFrame, { type: T }> } =>
  event.type === 'FRAME' && event.frame.type === type;

function cursorFor(context: ClientContext, thread: string): StreamCursor {
  let cursor = context.streams.get(thread);
  if (!cursor) {
    cursor = new StreamCursor(thread, context.config.releaseBufferCap);
    context.streams.set(thread, cursor);
  }
  return cursor;
}

/**
 * Ask for streams at their cursors: one resume per server epoch the cursors
 * refer to (a restarted server answers resync_required), a plain subscribe
 * for a stream never confirmed. Marks them unconfirmed until answered.
 */
function requestStreams(context: ClientContext, threads: Iterable<string>): void {
  const byEpoch = new Map<string, Record<string, number>>();
  for (const thread of threads) {
    const cursor = cursorFor(context, thread);
    cursor.confirmed = false;
    // events may have arrived though the answer naming their epoch was lost: the position is in theirs
    const epoch = cursor.epoch ?? cursor.seenEpoch;
    if (epoch === null) {
      context.port.send({ v: PROTOCOL_VERSION, type: 'subscribe', thread, from: cursor.next });
      continue;
    }
    const positions = byEpoch.get(epoch) ?? {};
    byEpoch.set(epoch, positions);
    positions[thread] = cursor.next;
  }
  for (const [epoch, positions] of byEpoch) context.port.send({ v: PROTOCOL_VERSION, type: 'resume', epoch, positions });
}

/**
 * Tell the app of a gap and move the stream past it: back to `from` when a new
 * epoch numbers the stream afresh (`rebase`), otherwise only ever forward.
 * The server has answered for the stream: it is confirmed, in `epoch`.
 */
function resyncCursor(
  context: ClientContext,
  cursor: StreamCursor,
  resync: { from: number; reason: ResyncRequiredFrame['reason'] },
  epoch: string | undefined,
  rebase: boolean,
): void {
  context.stats.resyncs++;
  context.port.resync(cursor.thread, cursor.next, rebase ? resync.from : Math.max(cursor.next, resync.from), resync.reason);
  if (rebase) cursor.restartAt(resync.from);
  else cursor.skipTo(resync.from);
  cursor.confirmed = true;
  if (epoch !== undefined) cursor.epoch = epoch;
}

/** Release what is in order; true when an app failure stalled a stream. */
function drainStream(context: ClientContext, cursor: StreamCursor): boolean {
  const { port, config } = context;
  const outcome = cursor.drain(
    {
      deliver: (seq, event) => port.deliver(cursor.thread, seq, event),
      failed: (seq, event, attempt, message) => port.appFailed(cursor.thread, seq, event, attempt, message),
      deadLetter: (seq, event, message, attempts) => {
        context.stats.deadLetters++;
        port.deadLetter(cursor.thread, seq, event, message, attempts);
      },
    },
    config.maxAppAttempts,
  );
  return outcome === 'stalled';
}

/** Cursors restored from an earlier client: acked up to where the app stood (the resume says so). */
function restoredStreams(saved: ClientInput['cursors'], bufferCap: number): Map<string, StreamCursor> {
  const streams = new Map<string, StreamCursor>();
  for (const [thread, { epoch, next }] of Object.entries(saved ?? {})) {
    const cursor = new StreamCursor(thread, bufferCap);
    cursor.restartAt(next);
    cursor.epoch = epoch;
    streams.set(thread, cursor);
  }
  return streams;
}

/** The positions to save for a later client (see `ClientInput.cursors`). */
export function savedCursors(context: Pick<ClientContext, 'streams'>): Record<string, SavedCursor> {
  const out: Record<string, SavedCursor> = {};
  for (const [thread, cursor] of context.streams) out[thread] = { epoch: cursor.epoch ?? cursor.seenEpoch, next: cursor.next };
  return out;
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
    backoff: ({ context }) => context.backoffMs,
    ackDelay: ({ context }) => context.config.ackDelayMs,
    closeTimeout: ({ context }) => context.config.closeTimeoutMs,
    appRetry: ({ context }) => context.config.appRetryMs,
    resubscribe: ({ context }) => context.config.resubscribeMs,
  },
  guards: {
    isFinalClose: ({ event }) => event.type === 'LINK_CLOSED' && !isReconnectCode(event.code),
    outOfAttempts: ({ context }) => context.attempt >= context.config.maxAttempts,
    isWelcome: ({ event }) => isFrame(event, 'welcome'),
    isPong: ({ event }) => isFrame(event, 'pong'),
    isSubscribed: ({ event }) => isFrame(event, 'subscribed'),
    isResync: ({ event }) => isFrame(event, 'resync_required'),
    /** A resync to an epoch the cursor already follows: a duplicate, which must not reset it again. */
    isStaleResync: ({ context, event }) => {
      if (!isFrame(event, 'resync_required') || event.frame.reason !== 'epoch_changed') return false;
      const cursor = context.streams.get(event.frame.thread);
      return cursor !== undefined && (cursor.epoch === event.frame.epoch || cursor.seenEpoch === event.frame.epoch);
    },
    isError: ({ event }) => isFrame(event, 'error'),
    /** An event frame for a thread the app no longer wants. */
    isUnwanted: ({ context, event }) => isFrame(event, 'event') && !context.threads.has(event.frame.thread),
    /** Dedup: the frame was released or is held already. */
    isDuplicate: ({ context, event }) => isFrame(event, 'event') && cursorFor(context, event.frame.thread).isDuplicate(event.frame),
    isEvent: ({ event }) => isFrame(event, 'event'),
    hasUnconfirmed: ({ context }) => [...context.threads].some((t) => !cursorFor(context, t).confirmed),
    hasPendingAcks: ({ context }) => [...context.streams.values()].some((c) => c.pendingAck() !== undefined),
  },
  actions: {
    openLink: ({ context }) => context.port.connect(),
    closeLink: ({ context }, params: { code: number; reason: string }) => context.port.close(params.code, params.reason),
    sendHello: ({ context }) => context.port.send({ v: PROTOCOL_VERSION, type: 'hello', token: context.token }),
    /** Subscribe every wanted thread, resuming from each cursor after a reconnect. */
    sendResume: ({ context }) => requestStreams(context, context.threads),
    recordWelcome: assign(({ event }) => (isFrame(event, 'welcome') ? { epoch: event.frame.epoch, attempt: 0 } : {})),
    /** The server answered: the cursor now refers to the server's epoch. */
    confirmStream: ({ context, event }) => {
      const frame = (event as { frame: SubscribedFrame | ResyncRequiredFrame }).frame;
      const cursor = cursorFor(context, frame.thread);
      cursor.confirmed = true;
      cursor.epoch = frame.epoch;
    },
    /** Subscribe and resume frames can be lost like any other: send them again until answered. */
    resendUnconfirmed: ({ context }) => requestStreams(context, [...context.threads].filter((t) => !cursorFor(context, t).confirmed)),
    recordSubscribed: assign(({ event }) => ({ epoch: (event as { frame: SubscribedFrame }).frame.epoch })),
    applyResync: ({ context, event }) => {
      const frame = (event as { frame: ResyncRequiredFrame }).frame;
      // a new epoch numbers its streams afresh: the cursor may have to go back
      resyncCursor(context, cursorFor(context, frame.thread), frame, frame.epoch, frame.reason === 'epoch_changed');
    },
    /**
     * A resync to an epoch whose frames already arrived (it was overtaken, or it came twice):
     * the app still hears of the gap, and the cursor only ever moves forward.
     */
    noticeResync: ({ context, event }) => {
      const frame = (event as { frame: ResyncRequiredFrame }).frame;
      resyncCursor(context, cursorFor(context, frame.thread), frame, frame.epoch, false);
    },
    updateEpochFromResync: assign(({ event }) => ({ epoch: (event as { frame: ResyncRequiredFrame }).frame.epoch })),
    /** A frame we already have came again: the server missed our ack, so the next ack must cover it again. */
    countDuplicate: ({ context, event }) => {
      context.stats.duplicates++;
      if (!isFrame(event, 'event')) return;
      const cursor = cursorFor(context, event.frame.thread);
      cursor.acked = Math.min(cursor.acked, event.frame.seq - 1);
    },
    /** Take an event frame the dedup guard let through, and release what is in order. */
    acceptEvent: enqueueActions(({ context, event, enqueue }) => {
      const frame = (event as { frame: EventFrame }).frame;
      const cursor = cursorFor(context, frame.thread);
      // a frame may overtake the server's answer to our request: remember whose sequence it was
      const firstOfEpoch = frame.epoch !== undefined && cursor.seenEpoch !== frame.epoch;
      if (frame.epoch !== undefined) cursor.seenEpoch = frame.epoch;
      // the frame repeats a resync the client has not heard yet (its resync_required was lost): tell the app first
      // (in the same epoch too: a window evicted mid-stream leaves the cursor behind the resync's start)
      if (frame.resync && (!cursor.confirmed || cursor.epoch !== (frame.epoch ?? cursor.epoch) || cursor.next < frame.resync.from)) {
        const newEpoch = frame.resync.reason === 'epoch_changed' && firstOfEpoch && cursor.epoch !== frame.epoch;
        resyncCursor(context, cursor, frame.resync, frame.epoch, newEpoch);
      }
      if (frame.seq < cursor.next) {
        // dedup said "new" for a sequence already released: the app gets it again
        if (frame.event) context.port.deliver(frame.thread, frame.seq, frame.event);
        return;
      }
      if (!cursor.hold(frame)) return;
      if (drainStream(context, cursor)) enqueue.raise({ type: 'APP_STALLED' });
      enqueue.raise({ type: 'ACK_DUE' });
    }),
    retryStalled: enqueueActions(({ context, enqueue }) => {
      let stalled = false;
      for (const cursor of context.streams.values()) stalled = drainStream(context, cursor) || stalled;
      if (stalled) enqueue.raise({ type: 'APP_STALLED' });
      enqueue.raise({ type: 'ACK_DUE' });
    }),
    flushAcks: ({ context }) => {
      const acks: Record<string, number> = {};
      let any = false;
      for (const cursor of context.streams.values()) {
        const upTo = cursor.pendingAck();
        if (upTo === undefined) continue;
        acks[cursor.thread] = upTo;
        cursor.acked = upTo;
        any = true;
      }
      if (any) context.port.send({ v: PROTOCOL_VERSION, type: 'ack', acks });
    },
    /** After a reconnect the resume position itself acknowledges everything before it. */
    forgetAcks: ({ context }) => {
      for (const cursor of context.streams.values()) cursor.acked = cursor.next - 1;
    },
    sendPing: assign(({ context }) => {
      const id = context.pingId + 1;
      context.port.send({ v: PROTOCOL_VERSION, type: 'ping', id });
      return { pingId: id, heard: false };
    }),
    /** The first frame after a ping proves the server → client direction alive: HEARD ends the probe. */
    noteHeard: enqueueActions(({ context, enqueue }) => {
      if (context.heard) return;
      enqueue.assign({ heard: true });
      enqueue.raise({ type: 'HEARD' });
    }),
    countRejected: ({ context, event }) => {
      if (event.type !== 'BAD_FRAME') return;
      context.stats.rejected++;
      context.port.rejected(event.code, event.detail);
    },
    subscribeThread: ({ context, event }) => {
      if (event.type !== 'SUBSCRIBE' || context.threads.has(event.thread)) return;
      context.threads.add(event.thread);
      requestStreams(context, [event.thread]);
    },
    unsubscribeThread: ({ context, event }) => {
      if (event.type !== 'UNSUBSCRIBE' || !context.threads.delete(event.thread)) return;
      context.port.send({ v: PROTOCOL_VERSION, type: 'unsubscribe', thread: event.thread });
    },
    /** Remember wanted threads while offline; they are sent with the next resume. */
    rememberThread: ({ context, event }) => {
      if (event.type === 'SUBSCRIBE') context.threads.add(event.thread);
      if (event.type === 'UNSUBSCRIBE') context.threads.delete(event.thread);
    },
    /** Full jitter: uniform in [0, min(cap, base·2^attempt)). */
    planBackoff: assign(({ context }) => {
      const ceiling = Math.min(context.config.backoffCapMs, context.config.backoffBaseMs * 2 ** context.attempt);
      return { attempt: context.attempt + 1, backoffMs: Math.floor(context.random.next() * ceiling), stats: { ...context.stats, reconnects: context.stats.reconnects + 1 } };
    }),
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
    config: { ...DEFAULT_CLIENT_CONFIG, ...input.config },
    random: input.random,
    port: input.port,
    threads: new Set(input.threads),
    streams: restoredStreams(input.cursors, { ...DEFAULT_CLIENT_CONFIG, ...input.config }.releaseBufferCap),
    epoch: null,
    attempt: 0,
    backoffMs: 0,
    pingId: 0,
    heard: false,
    failure: null,
    stats: { duplicates: 0, rejected: 0, reconnects: 0, resyncs: 0, deadLetters: 0 },
  }),
  initial: 'idle',
  on: {
    SUBSCRIBE: { actions: 'rememberThread' },
    UNSUBSCRIBE: { actions: 'rememberThread' },
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
      },
    },
    authenticating: {
      entry: 'sendHello',
      after: {
        authTimeout: { target: 'reconnecting', actions: { type: 'closeLink', params: { code: CloseCode.normal, reason: 'auth timeout' } } },
      },
      on: {
        FRAME: [
          // a frame held for a failing app waits for no timer after a reconnect: retry it now
          { guard: 'isWelcome', target: 'open', actions: ['forgetAcks', 'retryStalled', 'sendResume', 'recordWelcome'] },
          { guard: 'isError', actions: 'noteHeard' },
        ],
        BAD_FRAME: { actions: 'countRejected' },
        LINK_CLOSED: [{ guard: 'isFinalClose', target: 'failed' }, { target: 'reconnecting' }],
        STOP: 'closing',
      },
    },
    open: {
      type: 'parallel',
      on: {
        FRAME: [
          // Any frame proves the server → client direction alive (a pong may queue behind a large
          // frame on a slow link); a silent client → server direction is the server's reaper's to find.
          { guard: 'isPong', actions: 'noteHeard' },
          { guard: 'isSubscribed', actions: ['noteHeard', 'confirmStream', 'recordSubscribed'] },
          { guard: 'isStaleResync', actions: ['noteHeard', 'noticeResync'] },
          { guard: 'isResync', actions: ['noteHeard', 'confirmStream', 'applyResync', 'updateEpochFromResync', raise({ type: 'ACK_DUE' })] },
          { guard: 'isUnwanted', actions: 'noteHeard' },
          { guard: 'isDuplicate', actions: ['noteHeard', 'countDuplicate', raise({ type: 'ACK_DUE' })] },
          { guard: 'isEvent', actions: ['noteHeard', 'acceptEvent'] },
          { actions: 'noteHeard' },
        ],
        BAD_FRAME: { actions: ['noteHeard', 'countRejected'] },
        SUBSCRIBE: { actions: ['subscribeThread', raise({ type: 'SUBSCRIPTIONS_SENT' })] },
        UNSUBSCRIBE: { actions: 'unsubscribeThread' },
        LINK_CLOSED: [{ guard: 'isFinalClose', target: 'failed' }, { target: 'reconnecting' }],
        STOP: 'closing',
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
              entry: 'sendPing',
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
            pending: { after: { ackDelay: { target: 'idle', actions: 'flushAcks' } } },
          },
        },
        subscriptions: {
          initial: 'awaiting',
          states: {
            settled: { on: { SUBSCRIPTIONS_SENT: 'awaiting' } },
            awaiting: {
              after: {
                resubscribe: [{ guard: 'hasUnconfirmed', target: 'awaiting', reenter: true, actions: 'resendUnconfirmed' }, { target: 'settled' }],
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
      on: { STOP: 'closed' },
    },
    closing: {
      entry: { type: 'closeLink', params: { code: CloseCode.normal, reason: 'client closing' } },
      after: { closeTimeout: 'closed' },
      on: { LINK_CLOSED: 'closed' },
    },
    closed: { type: 'final' },
    failed: { type: 'final', entry: 'recordFailure' },
  },
});

export type ClientConnectionMachine = typeof clientConnectionMachine;
