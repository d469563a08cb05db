/**
 * The typed records of a trace. The oracle reads these and nothing else, so a
 * broken machine cannot hide its own bug: `produce`, `conn`, `role`, `subscribe`
 * are written by the world (ground truth), `app` by the app stub that the
 * client hands events to.
 */
import type { EventType, Role, Sensitivity } from '../machines/frames.ts';

/** Simulated time in milliseconds. */
export type Time = number;

export type Dir = 'c2s' | 's2c';

export type TraceRecord =
  /** The first record of a run: what reproduces it. */
  | { t: Time; k: 'run'; scenario: string; seed: number; path?: string; faultPlan: unknown }
  /** The producer emitted an event (ground truth of what must be delivered). */
  | {
      t: Time;
      k: 'produce';
      tenant: string;
      user: string;
      thread: string;
      run: string;
      idx: number;
      type: EventType;
      sensitivity: Sensitivity;
      bytes: number;
      hash: string;
    }
  /** The world opened a client connection as this identity. */
  | { t: Time; k: 'conn'; conn: string; tenant: string; user: string; role: Role; endpoint: string }
  /** The world changed a connection owner's role (takes effect for the next event). */
  | { t: Time; k: 'role'; tenant: string; user: string; role: Role }
  /** The app of a connection asked to (un)subscribe a thread. */
  | { t: Time; k: 'subscribe'; conn: string; thread: string; on: boolean }
  /** A frame handed to the network. */
  | { t: Time; k: 'send'; link: string; dir: Dir; frame: string; bytes: number }
  /** A frame handed to the receiving endpoint. */
  | { t: Time; k: 'deliver'; link: string; dir: Dir; frame: string; bytes: number }
  | { t: Time; k: 'drop'; link: string; dir: Dir; frame: string; reason: string }
  | { t: Time; k: 'dup'; link: string; dir: Dir; frame: string }
  /**
   * A sender went over what one link direction may hold (queued plus in
   * flight, `bytes` > `bound`): the network refuses its frames from then on
   * and the run stops there, failed.
   */
  | { t: Time; k: 'runaway'; link: string; dir: Dir; bytes: number; bound: number }
  /** An injected fault (disconnect, partition, corrupt, restart, half-open, ...). */
  | { t: Time; k: 'fault'; fault: string; target?: string; detail?: string }
  /** A link opened or closed, and why. */
  | { t: Time; k: 'link'; link: string; event: 'open' | 'close'; code?: number; reason?: string }
  /** An actor changed state. */
  | { t: Time; k: 'transition'; actor: string; from: string; to: string; event: string }
  /** The app of connection `conn` received an event. */
  | {
      t: Time;
      k: 'app';
      conn: string;
      tenant: string;
      user: string;
      thread: string;
      run: string;
      idx: number;
      type: EventType;
      seq: number;
      sensitivity: Sensitivity;
      redacted: boolean;
      hash: string;
      /** Hash of the payload as received (integrity check against `hash`). */
      receivedHash: string;
    }
  /** The client told its app that a stream skipped from `from` to `to` (explicit loss). */
  | { t: Time; k: 'resync'; conn: string; thread: string; from: number; to: number; reason: string }
  /** The app handler failed on an event (it is retried) or gave up (dead letter). */
  | { t: Time; k: 'app_error'; conn: string; thread: string; seq: number; run: string; idx: number; attempt: number; dead: boolean; message: string }
  /** A frame was refused by a decoder with a typed error. */
  | { t: Time; k: 'reject'; side: 'client' | 'server'; link: string; code: string; detail: string }
  /**
   * A rogue client (a fault kind): it started or left, was refused (an error
   * frame's code, or the close code), or received an event owned by `owner`.
   */
  | { t: Time; k: 'rogue'; rogue: string; kind: string; tenant: string; user: string; event: 'start' | 'leave' | 'error' | 'close' | 'event'; code?: string | number; owner?: string }
  /** A gauge sample (buffer high-water marks, memory). */
  | { t: Time; k: 'gauge'; name: string; owner: string; value: number; cap?: number }
  /** The world's accounting at the end: what was left running. */
  | { t: Time; k: 'end'; pendingTimers: number; liveActors: number; openLinks: number; healedAt: Time };

export type RecordKind = TraceRecord['k'];
export type RecordOf<K extends RecordKind> = Extract<TraceRecord, { k: K }>;
