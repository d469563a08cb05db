/**
 * What PROTOCOL.md must agree with, as functions from the document's text to
 * the list of its problems (empty when it is right): the specs it names, the
 * ids the specs name, the code's defaults, hash, error codes and close codes.
 * Pure functions of the text, so a spec can also feed them a broken document
 * and see each problem caught.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createActor } from 'xstate';
import { CloseCode, isReconnectCode } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { hubMachine } from '../../machines/hub.ts';
import { Directory } from '../../machines/identity.ts';
import { ERROR_CODES } from '../../machines/protocol.ts';
import { SCENARIOS } from '../../sim/scenarios/index.ts';
import { hasTestTitled, ID_PATTERN, numberCell, provedCategory, requirements, ROOT, source, specExists, specFiles, tables, tablesWith, unquote, type TestRef } from './protocol-doc.ts';

// ---- the code's side -------------------------------------------------------

/** Constant name (or `Input.field`) → the code's default: a number, or an object of settings. */
export type Defaults = Map<string, number | Record<string, unknown>>;

/** The hub's default log capacity is an input default, not a constant: read it from a hub. */
function hubLogCapacity(): number {
  const hub = createActor(hubMachine, { input: { epoch: 'e', directory: new Directory() } }).start();
  const capacity = hub.getSnapshot().context.logs.capacity;
  hub.stop();
  return capacity;
}

/**
 * Every upper-case constant that machines/ and transport/ export with a number
 * or an object for value: found by importing each module, so a new module's
 * `DEFAULT_*` (and a new field of one) is seen without this file changing.
 */
export async function codeDefaults(): Promise<Defaults> {
  const out: Defaults = new Map();
  for (const dir of ['machines', 'transport']) {
    for (const file of readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.ts')).sort()) {
      const module = (await import(pathToFileURL(path.join(ROOT, dir, file)).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(module)) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
        if (typeof value === 'number' || (typeof value === 'object' && value !== null && !Array.isArray(value))) out.set(name, value as number | Record<string, unknown>);
      }
    }
  }
  out.set('HubInput', { logCapacity: hubLogCapacity() });
  return out;
}

function codeDefault(defaults: Defaults, name: string): unknown {
  const [head = '', field] = name.split('.');
  const value = defaults.get(head);
  if (field === undefined) return value;
  return typeof value === 'object' ? value[field] : undefined;
}

/** The names the Limits table must list: every numeric `DEFAULT_*`, and every numeric field of a `DEFAULT_*` object. */
function requiredLimits(defaults: Defaults): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, value] of defaults) {
    if (!name.startsWith('DEFAULT_')) continue;
    if (typeof value === 'number') out.set(name, value);
    else for (const [field, v] of Object.entries(value)) if (typeof v === 'number') out.set(`${name}.${field}`, v);
  }
  return out;
}

/** Why a reference names no test, or null when it does. */
function brokenRef(ref: TestRef): string | null {
  if (!specExists(ref.file)) return `no spec file ${ref.file}`;
  const category = provedCategory(ref.file);
  if (category !== null) {
    const found = SCENARIOS.some((s) => s.category === category && s.id === ref.title);
    return found ? null : `${ref.file} proves category ${category}, which has no scenario "${ref.title}"`;
  }
  return hasTestTitled(ref.file, ref.title) ? null : `${ref.file} has no test titled "…${ref.title}…"`;
}

const rowsOf = (doc: string, header: string[]): string[][] => tablesWith(tables(doc), header).flatMap((t) => t.rows);

// ---- the checks --------------------------------------------------------------

/** Ids unique and well formed, each requirement with an RFC 2119 word and a covering test. */
export function requirementProblems(doc: string): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const r of requirements(tables(doc))) {
    if (!/^WS-[A-Z]+-\d+$/.test(r.id)) problems.push(`malformed id "${r.id}"`);
    if (seen.has(r.id)) problems.push(`${r.id} is defined twice`);
    seen.add(r.id);
    if (!/\b(MUST|SHOULD|MAY|SHALL|REQUIRED)\b/.test(r.text)) problems.push(`${r.id} says no RFC 2119 word`);
    if (r.refs.length === 0) problems.push(`${r.id} has no covering test`);
  }
  return problems;
}

/** Every covering test named exists. */
export function referenceProblems(doc: string): string[] {
  return requirements(tables(doc)).flatMap((r) => r.refs.map(brokenRef).filter((p): p is string => p !== null).map((p) => `${r.id}: ${p}`));
}

/** Every id mentioned (by the doc or a spec) is defined; a test titled with an id is listed under it. */
export function idProblems(doc: string, files: string[] = specFiles()): string[] {
  const reqs = new Map(requirements(tables(doc)).map((r) => [r.id, r]));
  const problems: string[] = [];
  for (const id of doc.match(ID_PATTERN) ?? []) if (!reqs.has(id)) problems.push(`PROTOCOL.md mentions undefined ${id}`);
  for (const file of files) {
    for (const line of source(file).split('\n')) {
      for (const id of line.match(ID_PATTERN) ?? []) {
        const r = reqs.get(id);
        if (!r) problems.push(`${file} names undefined ${id}`);
        else if (/\bit\(/.test(line) && !r.refs.some((ref) => ref.file === file)) problems.push(`${file} has a test for ${id}, which does not list it`);
      }
    }
  }
  return problems;
}

/** Each Limits value is the code's default; every numeric `DEFAULT_*` setting has a row. */
export function limitProblems(doc: string, defaults: Defaults): string[] {
  const listed = new Set<string>();
  const problems: string[] = [];
  for (const [nameCell = '', valueCell = ''] of rowsOf(doc, ['configuration', 'default', 'unit', 'what it bounds'])) {
    const name = unquote(nameCell);
    listed.add(name);
    const actual = codeDefault(defaults, name);
    if (typeof actual !== 'number') problems.push(`${name}: no numeric default of that name in the code`);
    else if (numberCell(valueCell) !== actual) problems.push(`${name}: the doc says ${valueCell}, the code ${actual}`);
  }
  for (const [name, value] of requiredLimits(defaults)) if (!listed.has(name)) problems.push(`${name} (${value}) is missing from the Limits table`);
  return problems;
}

/** The hash vectors: what payloadHash computes, reaching empty, non-ASCII and surrogate-pair input. */
export function hashProblems(doc: string): string[] {
  const problems: string[] = [];
  const inputs: string[] = [];
  for (const [inputCell = '', expectedCell = ''] of rowsOf(doc, ['input', 'payloadHash'])) {
    const input = JSON.parse(unquote(inputCell)) as string;
    inputs.push(input);
    const expected = unquote(expectedCell);
    if (!/^[0-9a-f]{16}$/.test(expected)) problems.push(`vector ${inputCell}: "${expected}" is not 16 lowercase hex digits`);
    if (payloadHash(input) !== expected) problems.push(`vector ${inputCell}: the doc says ${expected}, payloadHash ${payloadHash(input)}`);
  }
  if (!inputs.includes('')) problems.push('no vector for the empty string');
  if (!inputs.some((s) => /[^\u0000-\u007f]/.test(s) && !/[\ud800-\udfff]/.test(s))) problems.push('no vector with a non-ASCII BMP character');
  if (!inputs.some((s) => /[\ud800-\udbff][\udc00-\udfff]/.test(s))) problems.push('no vector with a surrogate pair');
  return problems;
}

/** The error-code table lists exactly the codec's codes. */
export function errorCodeProblems(doc: string): string[] {
  const listed = rowsOf(doc, ['code', 'sent by', 'when']).map(([code = '']) => unquote(code));
  const known = new Set<string>(ERROR_CODES);
  return [
    ...listed.filter((c) => !known.has(c)).map((c) => `error code ${c} is not the codec's`),
    ...ERROR_CODES.filter((c) => !listed.includes(c)).map((c) => `error code ${c} is missing`),
  ];
}

/** The close-code table lists every close code, with the client's reconnect class. */
export function closeCodeProblems(doc: string): string[] {
  const reactions = new Map(rowsOf(doc, ['code', 'sent by', 'meaning', 'client reaction']).map(([code = '', , , reaction = '']) => [Number(code), reaction]));
  const problems: string[] = [];
  for (const code of Object.values(CloseCode)) if (!reactions.has(code)) problems.push(`close code ${code} is missing`);
  for (const [code, reaction] of reactions) {
    const expected = isReconnectCode(code) ? 'reconnect' : 'final';
    if (reaction !== expected) problems.push(`close code ${code}: the doc says ${reaction}, the client does ${expected}`);
  }
  return problems;
}
