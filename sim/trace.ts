/**
 * The trace of a run: every send, delivery, drop, fault and transition, with
 * an incremental SHA-256. Records are hashed in a canonical encoding (JSON,
 * keys sorted recursively) followed by a newline, and `toJSONL` writes exactly
 * those lines, so the hash of a run equals the SHA-256 of its JSONL export and
 * an imported trace hashes the same as the original. The hash is fed in
 * batches (the digest of a concatenation does not depend on how it is split).
 */
import { createHash, type Hash } from 'node:crypto';
import type { RecordKind, TraceRecord } from './records.ts';

export type TraceError = { kind: 'trace'; line: number; message: string };

/** Strings up to this length are checked for what JSON escapes before JSON.stringify is called. */
const SHORT_STRING = 32;

/**
 * JSON.stringify(s), without the call for a short string with nothing to
 * escape: most fields of a record are such (ids, kinds, hashes), and a call
 * of JSON.stringify costs several times the check (a fifth of a record's encoding).
 */
export function jsonString(s: string): string {
  return s.length <= SHORT_STRING && !needsEscape(s) ? '"' + s + '"' : JSON.stringify(s);
}

/** Does JSON write `s` other than as itself? A quote, a backslash, a control character, or a surrogate (a lone one is escaped; a pair is left to JSON.stringify too). */
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** JSON with object keys sorted recursively; `undefined` fields omitted, as JSON.stringify does. */
export function canonicalJSON(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return canonicalArray(value);
      return canonicalObject(value as Record<string, unknown>);
    default:
      // undefined, functions, symbols: as JSON.stringify inside arrays.
      return 'null';
  }
}

function canonicalArray(items: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    const v = items[i];
    out += v === undefined || typeof v === 'function' ? 'null' : canonicalJSON(v);
  }
  return out + ']';
}

function canonicalObject(o: Record<string, unknown>): string {
  // Records have a handful of keys: a sort of the key list is cheap and keeps the encoder obvious.
  const keys = Object.keys(o).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = o[key];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(key) + ':' + canonicalJSON(v);
  }
  return out + '}';
}

/** Per record kind, the last key layout seen and its sorted '"key":' prefixes: records of a kind share a layout. */
interface Layout {
  keys: string[];
  sorted: string[];
  prefixes: string[];
}
const layouts = new Map<string, Layout>();

function layoutOf(rec: Record<string, unknown>, kind: string): Layout {
  const keys = Object.keys(rec);
  const cached = layouts.get(kind);
  if (cached !== undefined && sameKeys(cached.keys, keys)) return cached;
  const sorted = [...keys].sort();
  const layout = { keys, sorted, prefixes: sorted.map((k) => JSON.stringify(k) + ':') };
  layouts.set(kind, layout);
  return layout;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** canonicalJSON of a trace record, with the key sort cached per kind (the hot path of every append). */
export function canonicalRecord(rec: TraceRecord): string {
  const o = rec as unknown as Record<string, unknown>;
  const { sorted, prefixes } = layoutOf(o, rec.k);
  let out = '{';
  let first = true;
  for (let i = 0; i < sorted.length; i++) {
    const v = o[sorted[i]!];
    if (v === undefined || typeof v === 'function') continue;
    out += (first ? '' : ',') + prefixes[i]! + canonicalJSON(v);
    first = false;
  }
  return out + '}';
}

const HASH_BATCH_CHARS = 64 * 1024;

const KINDS: ReadonlySet<string> = new Set<RecordKind>([
  'run', 'produce', 'conn', 'role', 'subscribe', 'send', 'deliver', 'drop', 'dup', 'fault',
  'link', 'transition', 'app', 'resync', 'app_error', 'reject', 'rogue', 'runaway', 'gauge', 'end',
]);

export class Trace {
  private readonly kept: TraceRecord[] = [];
  private readonly keep: boolean;
  private readonly sha: Hash = createHash('sha256');
  private readonly counts = new Map<RecordKind, number>();
  private appended = 0;
  /** Encoded records not yet fed to the hash: one update per ~64 KB instead of one per record. */
  private unhashed = '';

  /** keep=false keeps only the hash and per-kind counts (benchmarks). */
  constructor(opts: { keep?: boolean } = {}) {
    this.keep = opts.keep ?? true;
  }

  /** Empty when records are not kept. */
  get records(): readonly TraceRecord[] {
    return this.kept;
  }

  /** Records appended so far (kept or not). */
  get length(): number {
    return this.appended;
  }

  append(rec: TraceRecord): void {
    this.unhashed += canonicalRecord(rec) + '\n';
    if (this.unhashed.length > HASH_BATCH_CHARS) this.flush();
    this.counts.set(rec.k, (this.counts.get(rec.k) ?? 0) + 1);
    this.appended++;
    if (this.keep) this.kept.push(rec);
  }

  count(kind: RecordKind): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Hex SHA-256 of all records so far; appending may continue. */
  hash(): string {
    this.flush();
    return this.sha.copy().digest('hex');
  }

  private flush(): void {
    if (this.unhashed === '') return;
    this.sha.update(this.unhashed);
    this.unhashed = '';
  }

  toJSONL(): string {
    let out = '';
    for (const rec of this.kept) out += canonicalRecord(rec) + '\n';
    return out;
  }

  static fromJSONL(text: string): { ok: true; value: Trace } | { ok: false; error: TraceError } {
    const trace = new Trace();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      const parsed = parseRecord(line);
      if (typeof parsed === 'string') return { ok: false, error: { kind: 'trace', line: i + 1, message: parsed } };
      trace.append(parsed);
    }
    return { ok: true, value: trace };
  }
}

/** A record, or what is wrong with the line. Checks the envelope (t, k), not every field of every kind. */
function parseRecord(line: string): TraceRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const rec = value as Record<string, unknown>;
  if (typeof rec.t !== 'number' || !Number.isFinite(rec.t)) return 'field t must be a finite number';
  if (typeof rec.k !== 'string' || !KINDS.has(rec.k)) return `unknown record kind ${JSON.stringify(rec.k)}`;
  return rec as unknown as TraceRecord;
}
