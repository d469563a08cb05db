/**
 * PROTOCOL.md against the code and the specs: every requirement id is unique
 * and covered by tests that exist; every id a spec names is defined; the
 * numbers of the Limits table, the hash vectors, the error codes and the close
 * codes' reconnect classes are those of the code.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createActor } from 'xstate';
import { DEFAULT_MAX_PENDING_BYTES, RECENT_COMPLETIONS } from '../../machines/chunking.ts';
import { DEFAULT_CLIENT_CONFIG } from '../../machines/client-connection.ts';
import { CloseCode, isReconnectCode } from '../../machines/frames.ts';
import { PAYLOAD_HASH_LENGTH, payloadHash } from '../../machines/hash.ts';
import { hubMachine } from '../../machines/hub.ts';
import { Directory } from '../../machines/identity.ts';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_MESSAGE_BYTES, ERROR_CODES } from '../../machines/protocol.ts';
import { DEFAULT_SESSION_CONFIG } from '../../machines/server-session.ts';
import { SCENARIOS } from '../../sim/scenarios/index.ts';
import { DEFAULT_BUFFER_CAP, DEFAULT_CLOSE_GRACE_MS } from '../../transport/ws-client.ts';
import { DEFAULT_MAX_PAYLOAD, DEFAULT_RATE_LIMIT } from '../../transport/ws-server.ts';
import {
  hasTestTitled,
  ID_PATTERN,
  numberCell,
  provedCategory,
  requirements,
  ROOT,
  source,
  specExists,
  specFiles,
  tables,
  tablesWith,
  unquote,
  type Requirement,
  type TestRef,
} from './protocol-doc.ts';

const DOC = readFileSync(path.join(ROOT, 'PROTOCOL.md'), 'utf8');
const ALL = tables(DOC);
const REQS = requirements(ALL);
const DEFINED = new Set(REQS.map((r) => r.id));

/** The hub's default log capacity is an input default, not a constant: read it from a hub. */
function hubLogCapacity(): number {
  const hub = createActor(hubMachine, { input: { epoch: 'e', directory: new Directory() } }).start();
  const capacity = hub.getSnapshot().context.logs.capacity;
  hub.stop();
  return capacity;
}

/** Every configuration name the Limits table may use, with the code's default. */
const DEFAULTS: Record<string, number | Record<string, unknown>> = {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_MAX_PENDING_BYTES,
  RECENT_COMPLETIONS,
  PAYLOAD_HASH_LENGTH,
  DEFAULT_RATE_LIMIT,
  DEFAULT_BUFFER_CAP,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_SESSION_CONFIG: { ...DEFAULT_SESSION_CONFIG },
  DEFAULT_CLIENT_CONFIG: { ...DEFAULT_CLIENT_CONFIG },
  HubInput: { logCapacity: hubLogCapacity() },
};

function codeDefault(name: string): unknown {
  const [head = '', field] = name.split('.');
  const value = DEFAULTS[head];
  if (field === undefined) return value;
  return typeof value === 'object' ? value[field] : undefined;
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

const limitRows = () => tablesWith(ALL, ['configuration', 'default', 'unit', 'what it bounds']).flatMap((t) => t.rows);

describe('protocol: PROTOCOL.md is complete and true', function () {
  it('defines requirements with unique, well-formed ids, each with a requirement word and at least one covering test', () => {
    expect(REQS.length, 'requirement rows found').to.be.greaterThan(50);
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const r of REQS) {
      if (!/^WS-[A-Z]+-\d+$/.test(r.id)) problems.push(`malformed id "${r.id}"`);
      if (seen.has(r.id)) problems.push(`${r.id} is defined twice`);
      seen.add(r.id);
      if (!/\b(MUST|SHOULD|MAY|SHALL|REQUIRED)\b/.test(r.text)) problems.push(`${r.id} says no RFC 2119 word`);
      if (r.refs.length === 0) problems.push(`${r.id} has no covering test`);
    }
    expect(problems).to.deep.equal([]);
  });

  it('every covering test it names exists: the file, and a test whose title holds the quoted words (a scenario id for scenario suites)', () => {
    const problems = REQS.flatMap((r: Requirement) => r.refs.map(brokenRef).filter((p): p is string => p !== null).map((p) => `${r.id}: ${p}`));
    expect(problems).to.deep.equal([]);
  });

  it('every requirement id a spec or the doc itself mentions is defined, and a spec titled with an id is listed under that id', () => {
    const problems: string[] = [];
    for (const id of DOC.match(ID_PATTERN) ?? []) if (!DEFINED.has(id)) problems.push(`PROTOCOL.md mentions undefined ${id}`);
    for (const file of specFiles()) {
      for (const line of source(file).split('\n')) {
        for (const id of line.match(ID_PATTERN) ?? []) {
          if (!DEFINED.has(id)) problems.push(`${file} names undefined ${id}`);
          else if (/\bit\(/.test(line) && !REQS.find((r) => r.id === id)!.refs.some((ref) => ref.file === file)) problems.push(`${file} has a test for ${id}, which does not list it`);
        }
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('Limits: every value is the code default of the configuration it names, and every numeric session and client setting is listed', () => {
    const rows = limitRows();
    expect(rows.length).to.be.greaterThan(20);
    const listed = new Set<string>();
    const problems: string[] = [];
    for (const [nameCell = '', valueCell = ''] of rows) {
      const name = unquote(nameCell);
      listed.add(name);
      const actual = codeDefault(name);
      if (typeof actual !== 'number') problems.push(`${name}: no numeric default of that name in the code`);
      else if (numberCell(valueCell) !== actual) problems.push(`${name}: the doc says ${valueCell}, the code ${actual}`);
    }
    for (const [config, values] of [['DEFAULT_SESSION_CONFIG', DEFAULT_SESSION_CONFIG], ['DEFAULT_CLIENT_CONFIG', DEFAULT_CLIENT_CONFIG]] as const) {
      for (const [field, value] of Object.entries(values)) {
        if (typeof value === 'number' && !listed.has(`${config}.${field}`)) problems.push(`${config}.${field} (${value}) is missing from the Limits table`);
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('WS-HASH-1: the test vectors are what payloadHash computes, each 16 lowercase hex digits', () => {
    const rows = tablesWith(ALL, ['input', 'payloadHash']).flatMap((t) => t.rows);
    expect(rows.length).to.be.at.least(5);
    for (const [input = '', expected = ''] of rows) {
      const text = JSON.parse(unquote(input)) as string;
      expect(payloadHash(text), `payloadHash(${input})`).to.equal(unquote(expected));
      expect(unquote(expected)).to.match(/^[0-9a-f]{16}$/);
    }
    // the vectors reach every branch that differs between languages: empty, non-ASCII, a surrogate pair
    const inputs = rows.map(([input = '']) => JSON.parse(unquote(input)) as string);
    expect(inputs).to.include('');
    expect(inputs.some((s) => /[^\u0000-\u007f]/.test(s) && !/[\ud800-\udfff]/.test(s))).to.equal(true);
    expect(inputs.some((s) => /[\ud800-\udbff][\udc00-\udfff]/.test(s))).to.equal(true);
  });

  it('WS-ERR-1: the error-code table lists exactly the codes of the codec', () => {
    const codes = tablesWith(ALL, ['code', 'sent by', 'when']).flatMap((t) => t.rows.map(([code = '']) => unquote(code)));
    expect([...codes].sort()).to.deep.equal([...ERROR_CODES].sort());
  });

  it('WS-CLOSE-1: the close-code table lists every close code, and its reactions are the client\'s reconnect classes', () => {
    const rows = tablesWith(ALL, ['code', 'sent by', 'meaning', 'client reaction']).flatMap((t) => t.rows);
    const reactions = new Map(rows.map(([code = '', , , reaction = '']) => [Number(code), reaction]));
    for (const code of Object.values(CloseCode)) expect(reactions.has(code), `close code ${code} in the table`).to.equal(true);
    for (const [code, reaction] of reactions) expect(reaction, `reaction to ${code}`).to.equal(isReconnectCode(code) ? 'reconnect' : 'final');
    // the prose rule for the private range: 4000–4499 reconnect but 4401 and 4403; 4500 and above final
    for (let code = 4000; code <= 4999; code++) {
      expect(isReconnectCode(code), `code ${code}`).to.equal(code <= 4499 && code !== 4401 && code !== 4403);
    }
  });
});
