/**
 * The server's limits: protocol configuration, decided here and nowhere else.
 *
 * Threat model: any client may hold a valid token for *some* tenant and send
 * anything the wire allows. Each limit below bounds what one such client can
 * make the server hold or do; each refusal is a typed error frame or a close
 * code (see `LIMIT_REFUSALS`), so a well-behaved client can tell what happened.
 * The defaults are chosen so an honest client never meets them (the reasons
 * are next to each number); a deployment may tune them (`HubInput.limits`).
 *
 * `transport/` only applies the ones that are socket facts (header and
 * upgrade timeouts, the frame size cap that `ws` enforces); the codec, the
 * sessions and the hub apply the rest.
 */

export interface Limits {
  /** Longest thread name, in UTF-16 code units (checked by the codec). */
  maxThreadNameChars: number;
  /** Deepest JSON nesting a client frame may have (scanned before JSON.parse). */
  maxJsonDepth: number;
  /** Streams one session may have open at once. */
  maxThreadsPerSession: number;
  /** Replay logs one user may make the server create by subscribing. */
  maxLogsPerUser: number;
  /** Replay logs one tenant may make the server create by subscribing. */
  maxLogsPerTenant: number;
  /** A log with no subscriber and no append for this long is evicted (a later resume is a resync). */
  logIdleTtlMs: number;
  /** Evicted logs whose last sequence is remembered, so a recreated log numbers on (oldest forgotten first). */
  tombstones: number;
  /** History frames (below the head at subscribe time) re-sent to one session per second. */
  replayFramesPerSecond: number;
  /** A TCP connection must have sent its HTTP request (headers) within this (transport applies it). */
  headersTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  // thread ids are UUIDs or slugs: 256 is 7× a UUID, and 64 KB of names per session at most
  maxThreadNameChars: 256,
  // our deepest frame is a batch of events: depth 4; 32 leaves room for extensions
  maxJsonDepth: 32,
  // a browser tab follows a handful of threads; 64 is plenty and bounds a session's state
  maxThreadsPerSession: 64,
  // a user's open threads across tabs; logs die after their TTL anyway
  maxLogsPerUser: 256,
  // 16 users at their quota; a rogue user of a tenant cannot take the whole tenant's share alone
  maxLogsPerTenant: 4096,
  // 10 minutes: a laptop lid closed over a coffee resumes without a resync
  logIdleTtlMs: 10 * 60 * 1000,
  tombstones: 16_384,
  // two windows (2 × 2,048 frames) a second: an honest resume is at most a few windows behind
  replayFramesPerSecond: 4096,
  // a browser sends its upgrade request at once; Node's defaults (60 s, checked every 30 s) let idle sockets pile up
  headersTimeoutMs: 5000,
});

/** How each limit is refused on the wire (the README's limits table is this). */
export const LIMIT_REFUSALS: Record<keyof Limits | 'maxMessageBytes' | 'helloTimeout' | 'identityBinding', string> = {
  maxThreadNameChars: "error frame 'bad_field' (field 'thread')",
  maxJsonDepth: "error frame 'too_deep'",
  maxThreadsPerSession: "error frame 'limit_exceeded' (field 'thread'); the stream is not opened",
  maxLogsPerUser: "error frame 'limit_exceeded' (field 'thread'); the stream is not opened",
  maxLogsPerTenant: "error frame 'limit_exceeded' (field 'thread'); the stream is not opened",
  logIdleTtlMs: "a later subscribe or resume gets 'resync_required' (beyond_window)",
  tombstones: 'past it a recreated log numbers on from the client position, with a resync_required',
  replayFramesPerSecond: 'history is sent later (paced), never dropped',
  headersTimeoutMs: 'the TCP socket is destroyed (no HTTP response)',
  maxMessageBytes: "error frame 'too_large' (ws closes 1009 above its maxPayload)",
  helloTimeout: "close 4401 'no hello'",
  identityBinding: "close 4403 'identity mismatch'",
};
