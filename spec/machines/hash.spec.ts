import { expect } from 'chai';
import fc from 'fast-check';
import { hex32, PAYLOAD_HASH_LENGTH, payloadHash } from '../../machines/hash.ts';

describe('machines/hash', () => {
  it('hex32 writes what Number#toString(16) padded to 8 digits writes, for every 32-bit value', () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), (n) => {
      expect(hex32(n)).to.equal((n >>> 0).toString(16).padStart(8, '0'));
    }), { numRuns: 2000 });
    for (const n of [0, 1, 255, 256, 0x7fffffff, -1, -(2 ** 31)]) expect(hex32(n)).to.equal((n >>> 0).toString(16).padStart(8, '0'));
  });

  it('payloadHash keeps its known values (other clients compute the same hash)', () => {
    const known: [string, string][] = [
      ['', '488bdcb81aee8d83'],
      ['a', '7a3bb02308d28faa'],
      ['hello world', 'da67ee98903f438d'],
      ['\u00e9\u4e2d\ud83d\ude00', '89e4065cbf11c02c'],
      ['x'.repeat(1000), '293da5faf78b3363'],
    ];
    for (const [text, hash] of known) expect(payloadHash(text)).to.equal(hash).and.to.have.length(PAYLOAD_HASH_LENGTH);
  });
});
