/**
 * Large event frames travel as chunk frames below the frame limit, and are
 * joined again on the receiving side.
 *
 * The sender encodes the whole event frame, slices the encoded text, and
 * sends each slice as the `data` of a chunk frame carrying the hash of the
 * whole text. The receiver joins the slices by (thread, seq), checks the hash
 * and decodes the text with the ordinary codec: a corrupted, mixed-up or
 * truncated assembly is an error, never a wrong frame.
 */

import { payloadHash } from './hash.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeServerFrame,
  encode,
  type ChunkFrame,
  type DecodeError,
  type EventFrame,
} from './protocol.ts';

// ---- types -----------------------------------------------------------------

export type ChunkError = DecodeError | { code: 'bad_chunk'; message: string };

export type ChunkResult =
  | { status: 'partial' }
  | { status: 'complete'; frame: EventFrame }
  | { status: 'error'; error: ChunkError };

export interface ChunkAssemblerOptions {
  /**
   * Cap on bytes held in partial assemblies (all streams together). An add
   * past it fails with `too_large` and forgets that assembly. Default 16 MB:
   * a 1 MB payload of control characters encodes to ~6 MB (\u00XX each).
   */
  maxPendingBytes?: number;
}

export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** Completed (thread, seq) remembered to swallow late duplicate chunks. */
export const RECENT_COMPLETIONS = 256;

// ---- sending side ----------------------------------------------------------

/**
 * [frame] when the encoded frame fits maxFrameBytes (UTF-8 bytes), else chunk
 * frames whose encodings each fit, in index order.
 *
 * Each slice is sized by what it costs once JSON-escaped inside the chunk
 * frame (quotes and backslashes double, control characters take 6 bytes,
 * non-ASCII takes 2–4 UTF-8 bytes), so the limit holds for any payload.
 * Surrogate pairs are never split. A limit too small for the chunk envelope
 * plus one character still makes progress (one character per chunk) rather
 * than loop: frames then exceed it, which only a silly limit (< ~200) causes.
 */
export function chunkEventFrame(frame: EventFrame, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Array<EventFrame | ChunkFrame> {
  const text = encode(frame);
  return fits(text, maxFrameBytes) ? [frame] : chunksOf(frame, text, maxFrameBytes);
}

/** The wire texts of `chunkEventFrame`'s frames, the event frame encoded once (a sender's hot path). */
export function encodeEventFrame(frame: EventFrame, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): string[] {
  const text = encode(frame);
  return fits(text, maxFrameBytes) ? [text] : chunksOf(frame, text, maxFrameBytes).map(encode);
}

/** Does the encoded frame fit? A UTF-16 code unit is at most 3 UTF-8 bytes: a short text fits without counting. */
function fits(text: string, maxFrameBytes: number): boolean {
  return 3 * text.length <= maxFrameBytes || utf8Length(text) <= maxFrameBytes;
}

function chunksOf(frame: EventFrame, text: string, maxFrameBytes: number): ChunkFrame[] {
  const hash = payloadHash(text);
  const budget = maxFrameBytes - envelopeBytes(frame, hash, text.length);
  const slices = sliceByEscapedSize(text, budget);
  return slices.map((data, index) => ({ v: 1, type: 'chunk', thread: frame.thread, seq: frame.seq, index, count: slices.length, hash, data }));
}

/**
 * Bytes of a chunk frame with empty data; index and count at their widest
 * (count <= text length, one character per chunk at worst).
 */
function envelopeBytes(frame: EventFrame, hash: string, maxCount: number): number {
  const widest: ChunkFrame = { v: 1, type: 'chunk', thread: frame.thread, seq: frame.seq, index: maxCount, count: maxCount, hash, data: '' };
  return utf8Length(encode(widest));
}

function sliceByEscapedSize(text: string, budget: number): string[] {
  const slices: string[] = [];
  let start = 0;
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const width = isPairAt(text, i) ? 2 : 1;
    const cost = escapedCost(text, i);
    if (used + cost > budget && i > start) {
      slices.push(text.slice(start, i));
      start = i;
      used = 0;
    }
    used += cost;
    i += width;
  }
  slices.push(text.slice(start));
  return slices;
}

/** UTF-8 bytes JSON.stringify spends on the character at i (a pair counts once, at its high half). */
function escapedCost(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22 || c === 0x5c) return 2; // \" \\
  if (c < 0x20) return c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6; // \n or \u00XX
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdfff) return isPairAt(text, i) ? 4 : 6; // lone surrogates become \uXXXX
  return 3;
}

function isPairAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) return false;
  const d = text.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}

/** UTF-8 length of a string as TextEncoder would write it (lone surrogates as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (isPairAt(text, i)) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

// ---- receiving side --------------------------------------------------------

interface Assembly {
  count: number;
  hash: string;
  /** index → data; a Map, not an array, so a hostile count allocates nothing. */
  parts: Map<number, string>;
  received: number;
  bytes: number;
}

/**
 * One per connection on the receiving side. Chunks may arrive out of order
 * and duplicated; an assembly completes when every index has arrived.
 *
 * A late duplicate of a recently completed frame is answered `partial` and
 * held nowhere: the assembler remembers the last RECENT_COMPLETIONS (thread,
 * seq, hash) it completed, so network duplication neither delivers a frame
 * twice nor leaks an assembly that never completes. Older duplicates are the
 * caller's to filter (it knows what it released). Call `drop` on resync or
 * disconnect: a restarted server reuses sequence numbers, maybe with the very
 * same text. `pendingBytes` shows what is held.
 */
export class ChunkAssembler {
  private readonly assemblies = new Map<string, Assembly>();
  /** key → hash of recent completions, oldest first. */
  private readonly recent = new Map<string, string>();
  private readonly maxPendingBytes: number;
  private pending = 0;

  constructor(options: ChunkAssemblerOptions = {}) {
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  }

  /** UTF-8 bytes of chunk data held in partial assemblies. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** Partial assemblies held. */
  get pendingCount(): number {
    return this.assemblies.size;
  }

  add(chunk: ChunkFrame): ChunkResult {
    const key = keyOf(chunk.thread, chunk.seq);
    if (!isWellFormed(chunk)) return this.fail(key, `chunk index ${chunk.index} of ${chunk.count} is out of range`);
    if (!this.assemblies.has(key) && this.recent.get(key) === chunk.hash) return { status: 'partial' };
    const assembly = this.assemblies.get(key) ?? this.open(key, chunk);
    if (assembly.count !== chunk.count || assembly.hash !== chunk.hash) {
      return this.fail(key, `chunk of ${chunk.thread}#${chunk.seq} disagrees with earlier chunks on count or hash`);
    }
    const existing = assembly.parts.get(chunk.index);
    if (existing !== undefined) {
      // A duplicate is idempotent; different data for the same slot is corruption.
      return existing === chunk.data ? { status: 'partial' } : this.fail(key, `chunk ${chunk.index} of ${chunk.thread}#${chunk.seq} arrived twice with different data`);
    }
    const bytes = utf8Length(chunk.data);
    if (this.pending + bytes > this.maxPendingBytes) {
      this.forget(key);
      return { status: 'error', error: { code: 'too_large', message: `chunk assemblies would hold more than ${this.maxPendingBytes} bytes` } };
    }
    assembly.parts.set(chunk.index, chunk.data);
    assembly.received++;
    assembly.bytes += bytes;
    this.pending += bytes;
    return assembly.received === assembly.count ? this.complete(key, assembly, chunk) : { status: 'partial' };
  }

  /** Forget partial assemblies of a thread: all of them, or only sequence `seq`. */
  drop(thread: string, seq?: number): void {
    if (seq !== undefined) {
      this.recent.delete(keyOf(thread, seq));
      return this.forget(keyOf(thread, seq));
    }
    const prefix = keyOf(thread, '');
    for (const key of [...this.recent.keys()]) if (key.startsWith(prefix)) this.recent.delete(key);
    for (const key of [...this.assemblies.keys()]) if (key.startsWith(prefix)) this.forget(key);
  }

  clear(): void {
    this.assemblies.clear();
    this.recent.clear();
    this.pending = 0;
  }

  private open(key: string, chunk: ChunkFrame): Assembly {
    const assembly: Assembly = { count: chunk.count, hash: chunk.hash, parts: new Map(), received: 0, bytes: 0 };
    this.assemblies.set(key, assembly);
    return assembly;
  }

  private complete(key: string, assembly: Assembly, chunk: ChunkFrame): ChunkResult {
    this.forget(key);
    let text = '';
    for (let i = 0; i < assembly.count; i++) text += assembly.parts.get(i) ?? '';
    if (payloadHash(text) !== assembly.hash) return bad('joined chunks do not match their hash');
    // The joined text may exceed the message limit (escapes grow it); it is
    // already bounded by maxPendingBytes, and the hash vouches for it.
    const decoded = decodeServerFrame(text, { maxBytes: Number.POSITIVE_INFINITY });
    if (!decoded.ok) return { status: 'error', error: decoded.error };
    const frame = decoded.frame;
    if (frame.type !== 'event') return bad(`joined chunks hold a '${frame.type}' frame, not an event`);
    if (frame.thread !== chunk.thread || frame.seq !== chunk.seq) return bad(`joined chunks hold ${frame.thread}#${frame.seq}, not ${chunk.thread}#${chunk.seq}`);
    this.remember(key, assembly.hash);
    return { status: 'complete', frame };
  }

  private remember(key: string, hash: string): void {
    this.recent.delete(key); // re-insert as newest
    this.recent.set(key, hash);
    if (this.recent.size > RECENT_COMPLETIONS) {
      const oldest = this.recent.keys().next();
      if (!oldest.done) this.recent.delete(oldest.value);
    }
  }

  private fail(key: string, message: string): ChunkResult {
    // The assembly can no longer be trusted: forget it, and let the sender's
    // retransmission rebuild it from scratch.
    this.forget(key);
    return bad(message);
  }

  private forget(key: string): void {
    const assembly = this.assemblies.get(key);
    if (!assembly) return;
    this.pending -= assembly.bytes;
    this.assemblies.delete(key);
  }
}

function isWellFormed(chunk: ChunkFrame): boolean {
  return Number.isSafeInteger(chunk.count) && chunk.count >= 1 && Number.isSafeInteger(chunk.index) && chunk.index >= 0 && chunk.index < chunk.count;
}

/** Length-prefixed, so no two (thread, seq) pairs share a key and a thread's keys share a prefix no other thread has. */
function keyOf(thread: string, seq: number | string): string {
  return `${thread.length}:${thread}\u0000${seq}`;
}

function bad(message: string): ChunkResult {
  return { status: 'error', error: { code: 'bad_chunk', message } };
}
