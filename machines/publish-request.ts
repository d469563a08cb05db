/**
 * What a producer may publish: one agent event, as JSON from any language.
 * The check is strict (an unknown field is refused, not ignored: a typo in a
 * field name must not silently publish a default) and returns a typed error
 * naming the field, never throws. The payload hash is the server's to compute.
 */
import { EVENT_TYPES, SENSITIVITIES, type AgentEvent } from './frames.ts';

/**
 * An event as a producer publishes it: an `AgentEvent` without the hash (the
 * server computes it). `toolId` is required for `tool_executing` and
 * `tool_completed`; `sensitivity` defaults to 'public', `payload` to ''.
 */
export type PublishRequest = Omit<AgentEvent, 'hash' | 'redacted'>;

export type PublishErrorCode = 'bad_request' | 'bad_field' | 'unknown_field' | 'too_large' | 'illegal_order' | 'out_of_order' | 'conflicting_retry';

export interface PublishError {
  code: PublishErrorCode;
  message: string;
  field?: string;
}

export interface PublishLimits {
  /** Longest tenant, user, thread, run or tool id (characters). */
  maxNameLength: number;
  /** Largest payload (UTF-16 code units, a lower bound of its bytes). */
  maxPayloadChars: number;
}

export const DEFAULT_PUBLISH_LIMITS: PublishLimits = { maxNameLength: 256, maxPayloadChars: 1024 * 1024 };

export type Checked<T> = { ok: true; value: T } | { ok: false; error: PublishError };

const NAMES = ['tenant', 'user', 'thread', 'run'] as const;
const KNOWN = new Set<string>([...NAMES, 'idx', 'type', 'toolId', 'sensitivity', 'payload']);

const refuse = (code: PublishErrorCode, field: string | undefined, message: string): { ok: false; error: PublishError } => ({
  ok: false,
  error: { code, message, ...(field !== undefined ? { field } : {}) },
});

function badName(value: unknown, field: string, limits: PublishLimits): { ok: false; error: PublishError } | undefined {
  if (typeof value !== 'string' || value.length === 0) return refuse('bad_field', field, `${field} must be a non-empty string`);
  if (value.length > limits.maxNameLength) return refuse('bad_field', field, `${field} is longer than ${limits.maxNameLength} characters`);
  return undefined;
}

function oneOf<T extends string>(value: unknown, values: readonly T[], fallback: T | undefined, field: string): Checked<T> {
  if (value === undefined && fallback !== undefined) return { ok: true, value: fallback };
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return { ok: true, value: value as T };
  return refuse('bad_field', field, `${field} must be one of ${values.join(', ')}`);
}

/** `value` as a publish request, or the first thing wrong with it. `at` prefixes field names (e.g. '[3].'). */
export function checkPublishRequest(value: unknown, limits: PublishLimits = DEFAULT_PUBLISH_LIMITS, at = ''): Checked<PublishRequest> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse('bad_request', at || undefined, 'an event must be a JSON object');
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).find((key) => !KNOWN.has(key));
  if (unknown !== undefined) return refuse('unknown_field', at + unknown, `unknown field ${unknown}`);
  for (const name of NAMES) {
    const error = badName(o[name], at + name, limits);
    if (error) return error;
  }
  if (typeof o.idx !== 'number' || !Number.isSafeInteger(o.idx) || o.idx < 0) return refuse('bad_field', `${at}idx`, 'idx must be an integer >= 0');
  const type = oneOf(o.type, EVENT_TYPES, undefined, `${at}type`);
  if (!type.ok) return type;
  const sensitivity = oneOf(o.sensitivity, SENSITIVITIES, 'public', `${at}sensitivity`);
  if (!sensitivity.ok) return sensitivity;
  const isTool = type.value === 'tool_executing' || type.value === 'tool_completed';
  if (isTool || o.toolId !== undefined) {
    const error = isTool ? badName(o.toolId, `${at}toolId`, limits) : refuse('bad_field', `${at}toolId`, `toolId only belongs to tool events, not ${type.value}`);
    if (error) return error;
  }
  const payload = o.payload ?? '';
  if (typeof payload !== 'string') return refuse('bad_field', `${at}payload`, 'payload must be a string');
  if (payload.length > limits.maxPayloadChars) return refuse('too_large', `${at}payload`, `payload of ${payload.length} characters exceeds ${limits.maxPayloadChars}`);
  const request: PublishRequest = {
    tenant: o.tenant as string,
    user: o.user as string,
    thread: o.thread as string,
    run: o.run as string,
    idx: o.idx,
    type: type.value,
    sensitivity: sensitivity.value,
    payload,
  };
  if (isTool) request.toolId = o.toolId as string;
  return { ok: true, value: request };
}
