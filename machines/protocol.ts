/**
 * The wire codec of protocol version 1: `encode` is JSON.stringify; `decode`
 * never throws, on any input, and answers a frame or a typed error.
 *
 * Validation is complete and field by field, so a frame that decodes is a
 * frame the machines can trust: every field of its type is present (unless
 * optional), of the right JS type, and in range. Unknown extra fields are
 * ignored (forward compatibility) and left on the returned object.
 *
 * Order of checks: size → UTF-8 → JSON → object → `v` → `type` → fields. `v`
 * comes before `type` so that a newer peer's new frame types read as
 * `unsupported_version`, not `unknown_type`.
 */

import { DEFAULT_LIMITS } from './limits.ts';
import {
  EVENT_TYPES,
  PROTOCOL_VERSION,
  SENSITIVITIES,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  type Frame,
  type ServerFrame,
} from './frames.ts';

export * from './frames.ts';

// ---- types -----------------------------------------------------------------

/** Frame limit: larger event frames travel as chunks (see chunking.ts). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** `decode` refuses larger inputs with `too_large`, before parsing them. */
export const DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

export type DecodeErrorCode = 'malformed_json' | 'unknown_type' | 'bad_field' | 'too_large' | 'unsupported_version' | 'too_deep';

export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
  /** Path of the offending field: 'seq', 'event.idx', 'acks.t1', 'frames[2].seq'. */
  field?: string;
}

export type Decoded<F> = { ok: true; frame: F } | { ok: false; error: DecodeError };

export interface DecodeOptions {
  /** Default DEFAULT_MAX_MESSAGE_BYTES. */
  maxBytes?: number;
  /** Deepest nesting accepted, scanned before parsing (default DEFAULT_LIMITS.maxJsonDepth). */
  maxDepth?: number;
  /** Longest thread name accepted (default DEFAULT_LIMITS.maxThreadNameChars). */
  maxThreadChars?: number;
}

/** Every ErrorCode at run time (frames.ts only has the type). */
export const ERROR_CODES = [
  'malformed_json',
  'unknown_type',
  'bad_field',
  'too_large',
  'unsupported_version',
  'forbidden',
  'not_authenticated',
  'bad_chunk',
  'too_deep',
  'limit_exceeded',
] as const satisfies readonly ErrorCode[];
// Compile-time proof that the list is exhaustive.
const _allErrorCodes: (typeof ERROR_CODES)[number] = null as unknown as ErrorCode;
void _allErrorCodes;

export const CLIENT_FRAME_TYPES = ['hello', 'subscribe', 'unsubscribe', 'resume', 'ack', 'ping', 'error'] as const satisfies readonly ClientFrame['type'][];
export const SERVER_FRAME_TYPES = ['welcome', 'subscribed', 'resync_required', 'event', 'chunk', 'pong', 'batch', 'error'] as const satisfies readonly ServerFrame['type'][];
export const FRAME_TYPES = [...new Set<Frame['type']>([...CLIENT_FRAME_TYPES, ...SERVER_FRAME_TYPES])];

// ---- encode ----------------------------------------------------------------

export function encode(frame: Frame): string {
  return JSON.stringify(frame);
}

/** An error frame from a decode error (or any typed error) to send back to the peer. */
export function errorFrame(error: DecodeError | { code: ErrorCode; message: string; field?: string }): ErrorFrame {
  const frame: ErrorFrame = { v: PROTOCOL_VERSION, type: 'error', code: error.code, message: error.message };
  if (error.field !== undefined) frame.field = error.field;
  return frame;
}

// ---- decode ----------------------------------------------------------------

export function decode(input: string | Uint8Array, opts?: DecodeOptions): Decoded<Frame> {
  return decodeAs<Frame>(input, FRAME_TYPES, opts);
}

/** What a server accepts: a server-only type is `unknown_type`. */
export function decodeClientFrame(input: string | Uint8Array, opts?: DecodeOptions): Decoded<ClientFrame> {
  return decodeAs<ClientFrame>(input, CLIENT_FRAME_TYPES, opts);
}

/** What a client accepts: a client-only type is `unknown_type`. */
export function decodeServerFrame(input: string | Uint8Array, opts?: DecodeOptions): Decoded<ServerFrame> {
  return decodeAs<ServerFrame>(input, SERVER_FRAME_TYPES, opts);
}

function decodeAs<F extends Frame>(input: string | Uint8Array, allowed: readonly string[], opts?: DecodeOptions): Decoded<F> {
  const parsed = parseJson(input, opts?.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES, opts?.maxDepth ?? DEFAULT_LIMITS.maxJsonDepth);
  if (!parsed.ok) return parsed;
  // A frame is a JSON object: well-formed JSON of another shape (number,
  // array, null, string) is not a frame at all, so it is malformed_json
  // rather than bad_field (there is no field to name).
  if (!isObject(parsed.value)) return fail('malformed_json', 'a frame must be a JSON object');
  const error = checkFrame(parsed.value, allowed, '') ?? checkThreadNames(parsed.value, opts?.maxThreadChars ?? DEFAULT_LIMITS.maxThreadNameChars);
  return error ? { ok: false, error } : { ok: true, frame: parsed.value as unknown as F };
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: DecodeError };

function parseJson(input: string | Uint8Array, maxBytes: number, maxDepth: number): Parsed {
  // Size is checked before any work. Bytes are measured exactly; a string is
  // measured by its length in UTF-16 code units (cheap, and a lower bound of
  // its UTF-8 size: at most 3× off). Transports that care hand us bytes.
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > maxBytes) return fail('too_large', `message of ${size} ${typeof input === 'string' ? 'chars' : 'bytes'} exceeds ${maxBytes}`);
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return fail('malformed_json', 'invalid UTF-8');
    }
  }
  // JSON.parse of a deep frame costs seconds (and V8 may recurse into a stack overflow):
  // one linear scan refuses it first, so a hostile frame costs O(its size) once
  if (nestingExceeds(text, maxDepth)) return fail('too_deep', `nesting deeper than ${maxDepth}`);
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    // Also catches a RangeError from absurdly deep nesting.
    return fail('malformed_json', e instanceof Error ? e.message : 'invalid JSON');
  }
}

/**
 * Does the nesting of `text` pass `max`? One pass over the characters,
 * skipping strings (brackets inside them do not nest). Invalid JSON is left
 * to JSON.parse: this only has to be right for the depth.
 */
export function nestingExceeds(text: string, max: number): boolean {
  // Depth never exceeds the number of opening brackets: most frames have a few,
  // and counting them is a native search, not a loop over every character.
  if (openingBracketsAtMost(text, max)) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = closingQuote(text, i);
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Index of the quote that closes the string opened at `open` (text.length if
 * none): native searches for quotes, not a loop over the string's characters
 * (payloads are most of a batch). A quote after an odd run of backslashes is
 * escaped; the run cannot reach back past the opening quote.
 */
function closingQuote(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q !== -1; q = text.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q;
  }
  return text.length;
}

/** Are there at most `max` '{' and '[' in `text` (inside strings or not)? */
function openingBracketsAtMost(text: string, max: number): boolean {
  let n = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++n > max) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++n > max) return false;
  return true;
}

/** Thread names a client sends (subscribe, unsubscribe, resume and ack keys) are bounded: each becomes server state. */
function checkThreadNames(o: Obj, max: number): DecodeError | undefined {
  if (o.type === 'subscribe' || o.type === 'unsubscribe') return (o.thread as string).length > max ? bad('thread', `is longer than ${max} characters`) : undefined;
  const field = o.type === 'resume' ? 'positions' : o.type === 'ack' ? 'acks' : null;
  if (field === null) return undefined;
  for (const name of Object.keys(o[field] as Obj)) if (name.length > max) return bad(field, `has a thread name longer than ${max} characters`);
  return undefined;
}

// ---- field checks ----------------------------------------------------------

/**
 * A check answers undefined when the value is fine, else the error. The field's
 * path is `prefix + name`, joined only for an error: a valid frame builds no
 * path strings.
 */
type Check = (value: unknown, prefix: string, name: string) => DecodeError | undefined;
/** Field name → check; a name ending in '?' is optional (absent is fine, null is not). */
type Shape = Record<string, Check>;
type Obj = Record<string, unknown>;
/** A shape's field, parsed once. */
interface Field {
  name: string;
  optional: boolean;
  check: Check;
}

const str: Check = (v, prefix, name) => (typeof v === 'string' ? undefined : bad(prefix + name, 'must be a string'));
const bool: Check = (v, prefix, name) => (typeof v === 'boolean' ? undefined : bad(prefix + name, 'must be a boolean'));
const int = (min: number): Check => (v, prefix, name) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? undefined : bad(prefix + name, `must be an integer >= ${min}`);
const oneOf = (values: readonly string[]): Check => (v, prefix, name) =>
  typeof v === 'string' && values.includes(v) ? undefined : bad(prefix + name, `must be one of ${values.join(', ')}`);

/** A JSON object used as a map: string keys, every value checked. */
const record = (value: Check): Check => (v, prefix, name) => {
  if (!isObject(v)) return bad(prefix + name, 'must be an object');
  const inner = `${prefix}${name}.`;
  for (const key of Object.keys(v)) {
    const error = value(v[key], inner, key);
    if (error) return error;
  }
  return undefined;
};

const object = (shape: Shape): Check => {
  const fields = compile(shape);
  return (v, prefix, name) => (isObject(v) ? checkShape(v, fields, `${prefix}${name}.`) : bad(prefix + name, 'must be an object'));
};

function compile(shape: Shape): Field[] {
  return Object.entries(shape).map(([spec, check]) => ({ name: spec.endsWith('?') ? spec.slice(0, -1) : spec, optional: spec.endsWith('?'), check }));
}

function checkShape(o: Obj, fields: readonly Field[], prefix: string): DecodeError | undefined {
  for (const field of fields) {
    if (!Object.hasOwn(o, field.name)) {
      if (field.optional) continue;
      return bad(prefix + field.name, 'is missing');
    }
    const error = field.check(o[field.name], prefix, field.name);
    if (error) return error;
  }
  return undefined;
}

const seq = int(0);
const position = int(1);

const agentEvent: Check = object({
  tenant: str,
  user: str,
  thread: str,
  run: str,
  idx: int(0),
  type: oneOf(EVENT_TYPES),
  'toolId?': str,
  sensitivity: oneOf(SENSITIVITIES),
  payload: str,
  hash: str,
  'redacted?': bool,
});

/** The fields of each frame type, beyond `v` and `type`. */
const SHAPES: Record<Frame['type'], Field[]> = compileAll({
  hello: { token: str },
  subscribe: { thread: str, from: position, 'epoch?': str },
  unsubscribe: { thread: str },
  resume: { epoch: str, positions: record(position) },
  ack: { acks: record(seq) },
  ping: { id: int(0) },
  welcome: { session: str, epoch: str },
  subscribed: { thread: str, epoch: str, from: position, recovered: bool },
  resync_required: { thread: str, epoch: str, from: position, reason: oneOf(['epoch_changed', 'beyond_window']) },
  event: { thread: str, seq, 'through?': seq, 'epoch?': str, 'resync?': object({ from: position, reason: oneOf(['epoch_changed', 'beyond_window']) }), 'event?': agentEvent },
  chunk: { thread: str, seq, index: int(0), count: int(1), hash: str, data: str },
  pong: { id: int(0) },
  batch: {}, // checkBatch: its frames are frames
  error: { code: oneOf(ERROR_CODES), message: str, 'field?': str },
});

function compileAll<K extends string>(shapes: Record<K, Shape>): Record<K, Field[]> {
  return Object.fromEntries(Object.entries<Shape>(shapes).map(([type, shape]) => [type, compile(shape)])) as Record<K, Field[]>;
}

/** Checks that span fields, after every field passed on its own. */
function checkRelations(o: Obj, prefix: string): DecodeError | undefined {
  if (o.type === 'chunk' && (o.index as number) >= (o.count as number)) return bad(prefix + 'index', 'must be < count');
  if (o.type === 'event' && o.through !== undefined && (o.through as number) < (o.seq as number)) return bad(prefix + 'through', 'must be >= seq');
  return undefined;
}

/**
 * Batches hold server frames and do not nest (max depth 1): `batch` is not
 * among the types accepted inside one, so a nested batch is `unknown_type`
 * at 'frames[i].type'.
 */
const BATCHABLE = SERVER_FRAME_TYPES.filter((t) => t !== 'batch');

function checkBatch(o: Obj, prefix: string): DecodeError | undefined {
  const path = prefix + 'frames';
  if (!Object.hasOwn(o, 'frames')) return bad(path, 'is missing');
  if (!Array.isArray(o.frames)) return bad(path, 'must be an array');
  for (let i = 0; i < o.frames.length; i++) {
    const item: unknown = o.frames[i];
    const itemPath = `${path}[${i}]`;
    if (!isObject(item)) return bad(itemPath, 'must be an object');
    const error = checkFrame(item, BATCHABLE, `${itemPath}.`);
    if (error) return error;
  }
  return undefined;
}

function checkFrame(o: Obj, allowed: readonly string[], prefix: string): DecodeError | undefined {
  if (!Object.hasOwn(o, 'v') || typeof o.v !== 'number') return bad(prefix + 'v', 'must be the protocol version number');
  if (o.v !== PROTOCOL_VERSION) return { code: 'unsupported_version', message: `version ${o.v} is not supported (expected ${PROTOCOL_VERSION})`, field: prefix + 'v' };
  if (!Object.hasOwn(o, 'type') || typeof o.type !== 'string') return bad(prefix + 'type', 'must be a string');
  const type = o.type;
  if (!allowed.includes(type) || !isFrameType(type)) {
    const where = isFrameType(type) ? ' in this direction or position' : '';
    return { code: 'unknown_type', message: `frame type '${type}' is not accepted${where}`, field: prefix + 'type' };
  }
  if (type === 'batch') return checkBatch(o, prefix);
  return checkShape(o, SHAPES[type], prefix) ?? checkRelations(o, prefix);
}

// ---- helpers ---------------------------------------------------------------

function isFrameType(type: string): type is Frame['type'] {
  return Object.hasOwn(SHAPES, type);
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(field: string, message: string): DecodeError {
  return { code: 'bad_field', message: `${field} ${message}`, field };
}

function fail(code: DecodeErrorCode, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { code, message } };
}
