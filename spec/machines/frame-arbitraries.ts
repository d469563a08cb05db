/**
 * fast-check arbitraries for every wire frame of protocol v1, shared by the
 * codec and chunking specs (and anyone fuzzing the machines).
 *
 * Every generated frame is a valid frame: optional fields are absent or
 * well-typed (never `undefined`, which JSON would drop), integers are safe
 * and non-negative (never -0), so `decode(encode(f))` must deep-equal `f`.
 */

import fc from 'fast-check';
import {
  EVENT_TYPES,
  SENSITIVITIES,
  type AckFrame,
  type AgentEvent,
  type BatchFrame,
  type ChunkFrame,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  type EventFrame,
  type Frame,
  type HelloFrame,
  type PingFrame,
  type PongFrame,
  type ResumeFrame,
  type ResyncRequiredFrame,
  type ServerFrame,
  type SubscribedFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
  type WelcomeFrame,
} from '../../machines/frames.ts';

// ---- run parameters --------------------------------------------------------

/**
 * fast-check parameters: `base` runs times the SIM_RUNS multiplier (default
 * 1), and the seed pinned by SIM_SEED when set. fast-check prints the seed
 * and path of any failure, so a failure replays with SIM_SEED=<seed>.
 */
export function runParams(base: number): { numRuns: number; seed?: number } {
  const multiplier = Number(process.env.SIM_RUNS ?? '1');
  const numRuns = Math.max(1, Math.round(base * (Number.isFinite(multiplier) && multiplier > 0 ? multiplier : 1)));
  const seed = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
  return seed === undefined || !Number.isFinite(seed) ? { numRuns } : { numRuns, seed };
}

// ---- leaves ----------------------------------------------------------------

/** Text of every kind: ASCII, full Unicode (incl. astral), quotes, backslashes, control characters. */
export const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u2028', '😀', 'é', 'a') }),
);
export const idArb: fc.Arbitrary<string> = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), textArb);
export const natArb: fc.Arbitrary<number> = fc.oneof(fc.nat(), fc.maxSafeNat());
export const posArb: fc.Arbitrary<number> = natArb.map((n) => Math.max(1, n));
const mapArb = (value: fc.Arbitrary<number>): fc.Arbitrary<Record<string, number>> =>
  fc.dictionary(idArb, value, { maxKeys: 6, noNullPrototype: true });

export const agentEventArb: fc.Arbitrary<AgentEvent> = fc.record(
  {
    tenant: idArb,
    user: idArb,
    thread: idArb,
    run: idArb,
    idx: natArb,
    type: fc.constantFrom(...EVENT_TYPES),
    toolId: idArb,
    sensitivity: fc.constantFrom(...SENSITIVITIES),
    payload: textArb,
    hash: fc.stringMatching(/^[0-9a-f]{16}$/),
    redacted: fc.boolean(),
  },
  { requiredKeys: ['tenant', 'user', 'thread', 'run', 'idx', 'type', 'sensitivity', 'payload', 'hash'] },
);

const ERROR_CODE_LIST: ErrorCode[] = ['malformed_json', 'unknown_type', 'bad_field', 'too_large', 'unsupported_version', 'forbidden', 'not_authenticated', 'bad_chunk', 'too_deep', 'limit_exceeded'];

// ---- frames ----------------------------------------------------------------

const v = fc.constant(1 as const);

export const helloArb: fc.Arbitrary<HelloFrame> = fc.record({ v, type: fc.constant('hello' as const), token: textArb });
export const subscribeArb: fc.Arbitrary<SubscribeFrame> = fc.record(
  { v, type: fc.constant('subscribe' as const), thread: idArb, from: posArb, epoch: idArb },
  { requiredKeys: ['v', 'type', 'thread', 'from'] },
);
export const unsubscribeArb: fc.Arbitrary<UnsubscribeFrame> = fc.record({ v, type: fc.constant('unsubscribe' as const), thread: idArb });
export const resumeArb: fc.Arbitrary<ResumeFrame> = fc.record({ v, type: fc.constant('resume' as const), epoch: idArb, positions: mapArb(posArb) });
export const ackArb: fc.Arbitrary<AckFrame> = fc.record({ v, type: fc.constant('ack' as const), acks: mapArb(natArb) });
export const pingArb: fc.Arbitrary<PingFrame> = fc.record({ v, type: fc.constant('ping' as const), id: natArb });
export const errorArb: fc.Arbitrary<ErrorFrame> = fc.record(
  { v, type: fc.constant('error' as const), code: fc.constantFrom(...ERROR_CODE_LIST), message: textArb, field: idArb },
  { requiredKeys: ['v', 'type', 'code', 'message'] },
);

export const welcomeArb: fc.Arbitrary<WelcomeFrame> = fc.record({ v, type: fc.constant('welcome' as const), session: idArb, epoch: idArb });
export const subscribedArb: fc.Arbitrary<SubscribedFrame> = fc.record({
  v,
  type: fc.constant('subscribed' as const),
  thread: idArb,
  epoch: idArb,
  from: posArb,
  recovered: fc.boolean(),
});
export const resyncArb: fc.Arbitrary<ResyncRequiredFrame> = fc.record({
  v,
  type: fc.constant('resync_required' as const),
  thread: idArb,
  epoch: idArb,
  from: posArb,
  reason: fc.constantFrom('epoch_changed' as const, 'beyond_window' as const),
});
export const eventArb: fc.Arbitrary<EventFrame> = fc
  .record(
    { v, type: fc.constant('event' as const), thread: idArb, seq: natArb, through: fc.nat({ max: 1000 }), event: agentEventArb },
    { requiredKeys: ['v', 'type', 'thread', 'seq'] },
  )
  .map((f) => (f.through === undefined ? f : { ...f, through: Math.min(Number.MAX_SAFE_INTEGER, f.seq + f.through) }));
export const chunkArb: fc.Arbitrary<ChunkFrame> = fc
  .record({ v, type: fc.constant('chunk' as const), thread: idArb, seq: natArb, count: fc.integer({ min: 1, max: 10_000 }), index: fc.nat(), hash: fc.string(), data: textArb })
  .map((f) => ({ ...f, index: f.index % f.count }));
export const pongArb: fc.Arbitrary<PongFrame> = fc.record({ v, type: fc.constant('pong' as const), id: natArb });

/** Server frames that may travel inside a batch (everything but a batch). */
export const batchableArb: fc.Arbitrary<Exclude<ServerFrame, BatchFrame>> = fc.oneof(welcomeArb, subscribedArb, resyncArb, eventArb, chunkArb, pongArb, errorArb);
export const batchArb: fc.Arbitrary<BatchFrame> = fc.record({ v, type: fc.constant('batch' as const), frames: fc.array(batchableArb, { maxLength: 5 }) });

/** One arbitrary per frame type: the round-trip spec runs each on its own. */
export const FRAME_ARBS: Record<Frame['type'], fc.Arbitrary<Frame>> = {
  hello: helloArb,
  subscribe: subscribeArb,
  unsubscribe: unsubscribeArb,
  resume: resumeArb,
  ack: ackArb,
  ping: pingArb,
  error: errorArb,
  welcome: welcomeArb,
  subscribed: subscribedArb,
  resync_required: resyncArb,
  event: eventArb,
  chunk: chunkArb,
  pong: pongArb,
  batch: batchArb,
};

export const clientFrameArb: fc.Arbitrary<ClientFrame> = fc.oneof(helloArb, subscribeArb, unsubscribeArb, resumeArb, ackArb, pingArb, errorArb);
export const serverFrameArb: fc.Arbitrary<ServerFrame> = fc.oneof(batchableArb, batchArb);
export const frameArb: fc.Arbitrary<Frame> = fc.oneof(clientFrameArb, serverFrameArb);
