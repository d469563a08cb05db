/**
 * The wire frames of the agent-event delivery protocol (version 1).
 *
 * Types only: `protocol.ts` holds the codec. Every frame is a JSON object with
 * `v` (protocol version) and `type` (discriminant). Streams are channels keyed
 * by (tenant, user, thread) on the server; a connection is already bound to a
 * tenant and user by its token, so on the wire a stream is named by `thread`.
 */

export const PROTOCOL_VERSION = 1 as const;

/** The five events of an agent run. */
export const EVENT_TYPES = [
  'agent_started',
  'agent_thinking',
  'tool_executing',
  'tool_completed',
  'agent_completed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Every type but `agent_thinking` is critical: it is never dropped or coalesced. */
export const isCritical = (type: EventType): boolean => type !== 'agent_thinking';

export const SENSITIVITIES = ['public', 'internal', 'restricted'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** One event of one agent run, as the producer emitted it. */
export interface AgentEvent {
  tenant: string;
  user: string;
  thread: string;
  run: string;
  /** Position of the event in its run (0-based): the producer's order. */
  idx: number;
  type: EventType;
  /** Tool call id for `tool_executing` / `tool_completed`. */
  toolId?: string;
  sensitivity: Sensitivity;
  /** Free text (thinking, tool args, tool result). May be large (up to 1 MB). */
  payload: string;
  /** Integrity hash of `payload` (see `payloadHash`), set by the producer. */
  hash: string;
  /** True when a policy replaced `payload` with a redaction marker. */
  redacted?: boolean;
}

// ---- client → server -------------------------------------------------------

export interface HelloFrame {
  v: 1;
  type: 'hello';
  token: string;
}

/** Subscribe to a thread's stream from sequence `from` (1 = from the start). */
export interface SubscribeFrame {
  v: 1;
  type: 'subscribe';
  thread: string;
  from: number;
  /** The server epoch `from` refers to; absent on a first subscribe. */
  epoch?: string;
}

export interface UnsubscribeFrame {
  v: 1;
  type: 'unsubscribe';
  thread: string;
}

/** Resume several streams at once after a reconnect. */
export interface ResumeFrame {
  v: 1;
  type: 'resume';
  epoch: string;
  /** thread → next sequence wanted (last delivered + 1). */
  positions: Record<string, number>;
}

/** Cumulative acknowledgement: thread → highest sequence released to the app. */
export interface AckFrame {
  v: 1;
  type: 'ack';
  acks: Record<string, number>;
}

export interface PingFrame {
  v: 1;
  type: 'ping';
  id: number;
}

// ---- server → client -------------------------------------------------------

export interface WelcomeFrame {
  v: 1;
  type: 'welcome';
  session: string;
  /** Changes whenever the server loses its replay logs (restart). */
  epoch: string;
}

/** Answer to subscribe/resume: where the stream continues, and whether the position was recovered. */
export interface SubscribedFrame {
  v: 1;
  type: 'subscribed';
  thread: string;
  epoch: string;
  from: number;
  recovered: boolean;
}

/**
 * The asked position cannot be served (before the replay log's start, or an
 * old epoch): the stream continues at `from`, and the gap is explicit.
 */
export interface ResyncRequiredFrame {
  v: 1;
  type: 'resync_required';
  thread: string;
  epoch: string;
  from: number;
  reason: 'epoch_changed' | 'beyond_window';
}

/**
 * One sequence number of a stream. `event` is absent when the policy withholds
 * it from this connection's role; `through` > `seq` when several coalesced
 * `agent_thinking` events travel as one (the event is the latest of them).
 */
export interface EventFrame {
  v: 1;
  type: 'event';
  thread: string;
  seq: number;
  through?: number;
  /** The server epoch the sequence belongs to (a frame may overtake the resync that announced it). */
  epoch?: string;
  /**
   * The stream was opened with a resync_required: every frame repeats it until
   * the client acks, so the gap is announced even if that frame was lost.
   */
  resync?: { from: number; reason: ResyncRequiredFrame['reason'] };
  event?: AgentEvent;
}

/** A part of an event frame too large for one frame; joined by (thread, seq). */
export interface ChunkFrame {
  v: 1;
  type: 'chunk';
  thread: string;
  seq: number;
  index: number;
  count: number;
  /** Hash of the joined text, checked on reassembly. */
  hash: string;
  data: string;
}

export interface PongFrame {
  v: 1;
  type: 'pong';
  id: number;
}

/** Several frames in one (the server batches when its outbox holds more than one). */
export interface BatchFrame {
  v: 1;
  type: 'batch';
  frames: ServerFrame[];
}

export type ErrorCode =
  | 'malformed_json'
  | 'unknown_type'
  | 'bad_field'
  | 'too_large'
  | 'unsupported_version'
  | 'forbidden'
  | 'not_authenticated'
  | 'bad_chunk'
  /** JSON nested deeper than the limit (refused before parsing). */
  | 'too_deep'
  /** A quota of machines/limits.ts (threads per session, logs per user or tenant). */
  | 'limit_exceeded';

/** A typed error: the answer to a frame that was refused (the connection stays up). */
export interface ErrorFrame {
  v: 1;
  type: 'error';
  code: ErrorCode;
  message: string;
  field?: string;
}

export type ClientFrame =
  | HelloFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | ResumeFrame
  | AckFrame
  | PingFrame
  | ErrorFrame;

export type ServerFrame =
  | WelcomeFrame
  | SubscribedFrame
  | ResyncRequiredFrame
  | EventFrame
  | ChunkFrame
  | PongFrame
  | BatchFrame
  | ErrorFrame;

export type Frame = ClientFrame | ServerFrame;

/** Close codes (RFC 6455 and ours), and which ones a client reconnects after. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  restart: 1012,
  tryAgainLater: 1013,
  abnormal: 1006,
  heartbeatTimeout: 4000,
  ackTimeout: 4001,
  authRefused: 4401,
  /** A thread the token does not grant, or a hello whose identity is not the upgrade's. */
  forbidden: 4403,
} as const;

/**
 * Two classes, as Centrifugo and graphql-ws split them: "reconnect" codes are
 * transient; everything else (auth refused, forbidden, policy, 4500+) is final.
 */
export function isReconnectCode(code: number): boolean {
  if (code === 1001 || code === 1006 || code === 1011 || code === 1012 || code === 1013) return true;
  return code >= 4000 && code <= 4499 && code !== CloseCode.authRefused && code !== CloseCode.forbidden;
}
