/**
 * The tokens file of `wsim serve`: `{ "<token>": { "tenant", "user", "role",
 * "threads": "*" | [..] } }`. Checked whole at start-up: a bad file is one
 * line naming the token and the field, never a half-loaded directory.
 */
import { readFileSync } from 'node:fs';
import { ROLES } from '../machines/frames.ts';
import type { Identity } from '../machines/identity.ts';

export type Tokens = Record<string, Identity>;

export type Loaded = { ok: true; tokens: Tokens } | { ok: false; message: string };

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((t) => typeof t === 'string' && t.length > 0);

function identityOf(token: string, value: unknown): Identity | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `token "${token}": must be an object`;
  const o = value as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !['tenant', 'user', 'role', 'threads'].includes(k));
  if (extra !== undefined) return `token "${token}": unknown field ${extra}`;
  for (const field of ['tenant', 'user'] as const) {
    if (typeof o[field] !== 'string' || o[field] === '') return `token "${token}": ${field} must be a non-empty string`;
  }
  if (!ROLES.includes(o.role as Identity['role'])) return `token "${token}": role must be one of ${ROLES.join(', ')}`;
  const threads = o.threads ?? '*';
  if (threads !== '*' && !isStringList(threads)) return `token "${token}": threads must be "*" or a list of thread names`;
  return { tenant: o.tenant as string, user: o.user as string, role: o.role as Identity['role'], threads };
}

export function parseTokens(text: string): Loaded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `not JSON (${(error as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, message: 'must be a JSON object of token → identity' };
  const tokens: Tokens = {};
  for (const [token, value] of Object.entries(parsed)) {
    if (token.trim() === '' || /\s/.test(token)) return { ok: false, message: `token "${token}": a token must be non-empty, without spaces` };
    const identity = identityOf(token, value);
    if (typeof identity === 'string') return { ok: false, message: identity };
    tokens[token] = identity;
  }
  return { ok: true, tokens };
}

export function loadTokens(file: string): Loaded {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, message: `cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  return parseTokens(text);
}
