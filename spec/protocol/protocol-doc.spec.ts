/**
 * PROTOCOL.md against the code and the specs: every requirement id is unique
 * and covered by tests that exist; every id a spec names is defined; the
 * numbers of the Limits table, the hash vectors, the error codes and the close
 * codes' reconnect classes are those of the code. Then the same checks on
 * broken copies of the document: each break must be caught.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { closeCodeProblems, codeDefaults, errorCodeProblems, hashProblems, idProblems, limitProblems, referenceProblems, requirementProblems, type Defaults } from './doc-checks.ts';
import { requirements, ROOT, tables } from './protocol-doc.ts';

const DOC = readFileSync(path.join(ROOT, 'PROTOCOL.md'), 'utf8');

/** The document with one exact piece replaced (which must be there). */
function broken(from: string | RegExp, to: string): string {
  const out = DOC.replace(from, to);
  expect(out, `the mutation ${String(from)} applies`).to.not.equal(DOC);
  return out;
}

describe('protocol: PROTOCOL.md is complete and true', function () {
  let defaults: Defaults = new Map();
  before(async () => {
    defaults = await codeDefaults();
  });

  it('defines requirements with unique, well-formed ids, each with a requirement word and at least one covering test', () => {
    expect(requirements(tables(DOC)).length, 'requirement rows found').to.be.greaterThan(50);
    expect(requirementProblems(DOC)).to.deep.equal([]);
  });

  it('every covering test it names exists: the file, and a test whose title holds the quoted words (a scenario id for scenario suites)', () => {
    expect(referenceProblems(DOC)).to.deep.equal([]);
  });

  it('every requirement id a spec or the doc itself mentions is defined, and a spec titled with an id is listed under that id', () => {
    expect(idProblems(DOC)).to.deep.equal([]);
  });

  it('Limits: every value is the code default of the configuration it names, and every numeric DEFAULT_ setting of machines/ and transport/ is listed', () => {
    expect(limitProblems(DOC, defaults)).to.deep.equal([]);
  });

  it('WS-HASH-1: the test vectors are what payloadHash computes, and reach the empty string, non-ASCII and a surrogate pair', () => {
    expect(hashProblems(DOC)).to.deep.equal([]);
  });

  it('WS-ERR-1: the error-code table lists exactly the codes of the codec', () => {
    expect(errorCodeProblems(DOC)).to.deep.equal([]);
  });

  it('WS-CLOSE-1: the close-code table lists every close code, and its reactions are the client reconnect classes', () => {
    expect(closeCodeProblems(DOC)).to.deep.equal([]);
  });

  it('catches a broken document: each kind of mistake is reported', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['a requirement without test', requirementProblems(broken(/(\| WS-SUB-4 \|[^\n]*\| )[^\n]*( \|\n)/, '$1$2')), /WS-SUB-4 has no covering test/],
      ['a requirement without RFC 2119 word', requirementProblems(broken('| WS-HB-3 | The server MUST answer', '| WS-HB-3 | The server answers')), /WS-HB-3 says no RFC 2119 word/],
      ['an id twice', requirementProblems(broken('| WS-HB-4 |', '| WS-HB-3 |')), /WS-HB-3 is defined twice/],
      ['a test title that does not exist', referenceProblems(broken('"a duplicate event frame reaches the app once"', '"a duplicate event frame reaches the app twice"')), /client-connection\.spec\.ts has no test titled/],
      ['a spec file that does not exist', referenceProblems(broken('`spec/protocol/upgrade.spec.ts` "WS-AUTH-2"', '`spec/protocol/upgrades.spec.ts` "WS-AUTH-2"')), /no spec file spec\/protocol\/upgrades\.spec\.ts/],
      ['a scenario that does not exist', referenceProblems(broken('"connection_heartbeat_monitoring"', '"connection_heartbeat_monitor"')), /has no scenario "connection_heartbeat_monitor"/],
      ['a spec naming an undefined id', idProblems(broken(/\| WS-RETX-2 \|[^\n]*\n/, '')), /session-rules\.spec\.ts names undefined WS-RETX-2/],
      ['a test not listed under its id', idProblems(broken('`spec/protocol/session-rules.spec.ts` "WS-HB-4"', '`spec/transport/exhaustion.spec.ts` "the ws-level heartbeat"')), /session-rules\.spec\.ts has a test for WS-HB-4, which does not list it/],
      ['a wrong limit', limitProblems(broken('| `DEFAULT_SESSION_CONFIG.rtoMs` | 300 |', '| `DEFAULT_SESSION_CONFIG.rtoMs` | 301 |'), defaults), /rtoMs: the doc says 301, the code 300/],
      ['a missing limit', limitProblems(broken(/\| `DEFAULT_CLIENT_CONFIG\.resubscribeMs` \|[^\n]*\n/, ''), defaults), /resubscribeMs \(500\) is missing/],
      ['a new default in the code', limitProblems(DOC, new Map([...defaults, ['DEFAULT_NEW_LIMITS', { maxThings: 3 }]])), /DEFAULT_NEW_LIMITS\.maxThings \(3\) is missing/],
      ['a limit of a name the code lacks', limitProblems(broken('`DEFAULT_BUFFER_CAP`', '`DEFAULT_BUFFER_CAPACITY`'), defaults), /DEFAULT_BUFFER_CAPACITY: no numeric default/],
      ['a wrong hash vector', hashProblems(broken('`7a3bb02308d28faa`', '`7a3bb02308d28fab`')), /the doc says 7a3bb02308d28fab, payloadHash 7a3bb02308d28faa/],
      ['a missing error code', errorCodeProblems(broken(/\| `bad_chunk` \|[^\n]*\n/, '')), /error code bad_chunk is missing/],
      ['a wrong close reaction', closeCodeProblems(broken(/(\| 4001 \|[^\n]*\| )reconnect \|/, '$1final |')), /close code 4001: the doc says final/],
    ];
    for (const [what, problems, expected] of cases) expect(problems.some((p) => expected.test(p)), `${what}: ${JSON.stringify(problems)}`).to.equal(true);
  });
});
