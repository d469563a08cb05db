import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalJSON, jsonString } from '../../sim/trace.ts';

/** The reference: JSON.stringify for everything but an object's key order (plain JSON values, no undefined). */
const reference = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map(reference).join(',')}]`
  : v !== null && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`).join(',')}}`
  : JSON.stringify(v);

describe('sim/trace encoding', () => {
  // what JSON escapes or might: quotes, backslashes, control characters, lone and paired surrogates, and what it leaves (DEL, U+2028)
  const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\n', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '😀', 'é', 'a', '/'), maxLength: 40 });
  const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), tricky);

  it('jsonString writes what JSON.stringify writes, short or long, escaped or not', () => {
    fc.assert(fc.property(text, (s) => {
      expect(jsonString(s)).to.equal(JSON.stringify(s));
    }), { numRuns: 2000 });
  });

  it('canonicalJSON is JSON with every object\'s keys sorted', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(text, text, { maxKeys: 4 }), (value, strings) => {
      for (const v of [value, strings]) expect(canonicalJSON(v)).to.equal(reference(v));
    }), { numRuns: 500 });
  });
});
