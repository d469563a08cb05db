/**
 * Payload integrity hash: pure JS, synchronous, identical in Node and browsers.
 *
 * Not cryptographic. It detects corruption and mis-assembled chunks, not an
 * adversary. Two independent 32-bit lanes (cyrb53's mixing, kept at full 64
 * bits) make an accidental collision ~2^-64 per pair, and one pass over the
 * UTF-16 code units keeps a 1 MB payload in the low milliseconds.
 */

/** Length of every hash string: 16 lowercase hex digits. */
export const PAYLOAD_HASH_LENGTH = 16;

export function payloadHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  // Final avalanche: every input bit reaches every output bit of both lanes,
  // and the length is folded in so "" and "\0" differ.
  h1 ^= text.length;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return hex32(h2) + hex32(h1);
}

/** Two hex digits per byte value: a lookup, since Number#toString(16) costs ten times as much (two calls per hash). */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** 8 hex digits of the unsigned 32-bit value of n. */
export function hex32(n: number): string {
  return HEX_BYTE[n >>> 24]! + HEX_BYTE[(n >>> 16) & 0xff]! + HEX_BYTE[(n >>> 8) & 0xff]! + HEX_BYTE[n & 0xff]!;
}
