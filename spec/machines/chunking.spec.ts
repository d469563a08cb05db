/**
 * Chunking: any event frame crosses the frame limit intact, whatever the
 * order and duplication of its chunks; a corrupted chunk is an error, never a
 * wrong frame. Sizes are measured here with TextEncoder, not with the code's
 * own byte counter.
 */

import { expect } from 'chai';
import fc from 'fast-check';
import { ChunkAssembler, chunkEventFrame, encodeEventFrame, type ChunkResult } from '../../machines/chunking.ts';
import { payloadHash } from '../../machines/hash.ts';
import { DEFAULT_MAX_FRAME_BYTES, decodeServerFrame, encode, type ChunkFrame, type EventFrame } from '../../machines/protocol.ts';
import { eventArb, runParams, textArb } from './frame-arbitraries.ts';

const bytesOf = (text: string): number => new TextEncoder().encode(text).byteLength;
const MB = 1024 * 1024;

function eventFrame(payload: string, seq = 7, thread = 'thread-1'): EventFrame {
  return {
    v: 1,
    type: 'event',
    thread,
    seq,
    event: { tenant: 'acme', user: 'u1', thread, run: 'r1', idx: 3, type: 'tool_completed', toolId: 'tool-1', sensitivity: 'internal', payload, hash: payloadHash(payload) },
  };
}

/** Split, check every frame against the limit, send each over the wire (encode → decode). */
function splitOverWire(frame: EventFrame, limit: number): Array<EventFrame | ChunkFrame> {
  const parts = chunkEventFrame(frame, limit);
  const texts = encodeEventFrame(frame, limit);
  expect(texts, 'encodeEventFrame: the encodings of chunkEventFrame').to.deep.equal(parts.map((part) => encode(part)));
  return texts.map((text) => {
    expect(bytesOf(text), `${parts.length > 1 ? 'chunk' : 'event'} frame of ${bytesOf(text)} bytes over the ${limit} limit`).to.be.at.most(limit);
    const decoded = decodeServerFrame(text);
    if (!decoded.ok) throw new Error(`chunk did not decode: ${decoded.error.message}`);
    return decoded.frame as EventFrame | ChunkFrame;
  });
}

function expectWellFormedChunks(parts: Array<EventFrame | ChunkFrame>, frame: EventFrame): ChunkFrame[] {
  const chunks = parts as ChunkFrame[];
  expect(chunks.length).to.be.greaterThan(1);
  for (const [i, chunk] of chunks.entries()) {
    expect(chunk).to.include({ type: 'chunk', thread: frame.thread, seq: frame.seq, index: i, count: chunks.length, hash: chunks[0]!.hash });
  }
  return chunks;
}

/** Feed chunks; the results must be partial…, then exactly one complete at the end. */
function assemble(chunks: ChunkFrame[], assembler = new ChunkAssembler()): EventFrame {
  const results = chunks.map((c) => assembler.add(c));
  const last = results.at(-1);
  for (const r of results.slice(0, -1)) expect(r.status, JSON.stringify(r)).to.equal('partial');
  if (last?.status !== 'complete') throw new Error(`assembly did not complete: ${JSON.stringify(last)}`);
  expect(assembler.pendingBytes).to.equal(0);
  return last.frame;
}

function roundTrip(frame: EventFrame, limit = DEFAULT_MAX_FRAME_BYTES): number {
  const parts = splitOverWire(frame, limit);
  const fits = bytesOf(encode(frame)) <= limit;
  if (fits) {
    expect(parts).to.deep.equal([frame]);
    return 1;
  }
  const chunks = expectWellFormedChunks(parts, frame);
  expect(assemble(chunks)).to.deep.equal(frame);
  return chunks.length;
}

/** Deterministic shuffle with duplicates from fast-check-drawn keys. */
function scramble(chunks: ChunkFrame[], keys: number[], dups: number[]): ChunkFrame[] {
  const order = chunks.map((c, i) => ({ c, k: keys[i % Math.max(1, keys.length)] ?? i, i })).sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.c);
  for (const d of dups) order.splice(d % (order.length + 1), 0, chunks[d % chunks.length]!);
  return order;
}

describe('machines/chunking', () => {
  describe('round trip 0 bytes → 1 MB, every chunk within the limit', () => {
    const ascii = (n: number) => 'abcdefghij'.repeat(Math.ceil(n / 10)).slice(0, n);
    const sizes = [0, 1, 1000, 50 * 1024, 63 * 1024, 64 * 1024, 65 * 1024, 200_000, MB];
    for (const size of sizes) {
      it(`ASCII payload of ${size} bytes`, () => {
        const n = roundTrip(eventFrame(ascii(size)));
        if (size >= 64 * 1024) expect(n).to.be.greaterThan(1);
        if (size <= 1000) expect(n).to.equal(1);
      });
    }

    it('payloads whose encoded frame is exactly the limit, one under, one over', () => {
      const base = bytesOf(encode(eventFrame('')));
      for (const delta of [-1, 0, 1, 2]) {
        const frame = eventFrame(ascii(DEFAULT_MAX_FRAME_BYTES - base + delta));
        expect(bytesOf(encode(frame))).to.equal(DEFAULT_MAX_FRAME_BYTES + delta);
        expect(roundTrip(frame)).to.equal(delta <= 0 ? 1 : 2);
      }
    });

    it('1 MB exactly (UTF-8) of unicode, astral and escape-heavy text', () => {
      const unit = '"\\\n\u0001é€😀\u2028a'; // 2+2+2+6 escaped, 2+3+4+3+1 UTF-8
      const bytes = bytesOf(unit);
      const payload = unit.repeat(Math.floor(MB / bytes)) + 'a'.repeat(MB % bytes);
      expect(bytesOf(payload)).to.equal(MB);
      expect(roundTrip(eventFrame(payload))).to.be.greaterThan(16);
      for (const heavy of ['"'.repeat(MB), '\\'.repeat(MB), '\u0000'.repeat(MB / 4), '😀'.repeat(MB / 4)]) roundTrip(eventFrame(heavy));
    });

    it('a frame short in UTF-16 units but over the limit in UTF-8 bytes is chunked', () => {
      const frame = eventFrame('€'.repeat(1000)); // 3 bytes each
      const units = encode(frame).length;
      const limit = 2 * units + 10;
      expect(bytesOf(encode(frame))).to.be.greaterThan(limit);
      expect(roundTrip(frame, limit)).to.be.greaterThan(1);
    });

    it('property: any event frame, any limit ≥ 512 bytes', () => {
      const payload = fc.oneof(textArb, fc.string({ unit: fc.constantFrom('"', '\\', '\u0007', '😀', '€', 'x'), minLength: 200, maxLength: 3000 }));
      fc.assert(
        fc.property(eventArb, payload, fc.integer({ min: 512, max: 4096 }), (frame, text, limit) => {
          const withPayload: EventFrame = frame.event ? { ...frame, event: { ...frame.event, payload: text, hash: payloadHash(text) } } : frame;
          roundTrip(withPayload, limit);
        }),
        runParams(300),
      );
    });
  });

  describe('out-of-order and duplicated chunks', () => {
    it('property: any order, any duplicates, two streams interleaved → both frames, exactly once each', () => {
      const payload = fc.string({ unit: fc.constantFrom('"', '\\', '\n', 'é', '😀', 'a', 'b'), minLength: 500, maxLength: 4000 });
      fc.assert(
        fc.property(payload, payload, fc.array(fc.nat()), fc.array(fc.nat(), { maxLength: 8 }), (p1, p2, keys, dups) => {
          const a = eventFrame(p1, 1);
          const b = eventFrame(p2, 2);
          const limit = 600;
          const chunksA = splitOverWire(a, limit) as ChunkFrame[];
          const chunksB = splitOverWire(b, limit) as ChunkFrame[];
          const assembler = new ChunkAssembler();
          const completed: EventFrame[] = [];
          for (const chunk of scramble([...chunksA, ...chunksB], keys, dups)) {
            const r = assembler.add(chunk);
            expect(r.status, JSON.stringify(r)).to.not.equal('error');
            if (r.status === 'complete') completed.push(r.frame);
          }
          // Late duplicates after completion are swallowed, and hold nothing.
          expect(assembler.pendingBytes).to.equal(0);
          expect(assembler.pendingCount).to.equal(0);
          expect(completed).to.have.length(2);
          expect(completed.find((f) => f.seq === 1)).to.deep.equal(a);
          expect(completed.find((f) => f.seq === 2)).to.deep.equal(b);
        }),
        runParams(300),
      );
    });
  });

  describe('corruption is an error, never a wrong frame', () => {
    it('property: one chunk altered (data, count or hash) → an error result and no frame that differs from the original', () => {
      const payload = fc.string({ unit: fc.constantFrom('"', '\\', 'é', '😀', 'a', 'b', 'c'), minLength: 400, maxLength: 3000 });
      fc.assert(
        fc.property(payload, fc.nat(), fc.nat(), fc.constantFrom('data', 'count', 'hash', 'dup-data'), fc.string({ minLength: 1, maxLength: 3 }), (text, which, at, field, junk) => {
          const frame = eventFrame(text);
          const chunks = splitOverWire(frame, 500) as ChunkFrame[];
          const i = which % chunks.length;
          const original = chunks[i]!;
          const pos = at % (original.data.length + 1);
          let altered: ChunkFrame;
          if (field === 'count') altered = { ...original, count: original.count + 1 };
          else if (field === 'hash') altered = { ...original, hash: original.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
          else altered = { ...original, data: original.data.slice(0, pos) + junk + original.data.slice(pos + junk.length) };
          if (altered.data === original.data && field.endsWith('data')) return; // the "corruption" changed nothing
          // 'dup-data': the genuine chunk arrives too, after the altered one.
          const sent = field === 'dup-data' ? [...chunks.slice(0, i), altered, ...chunks.slice(i)] : chunks.map((c, k) => (k === i ? altered : c));
          const assembler = new ChunkAssembler();
          const results: ChunkResult[] = sent.map((c) => assembler.add(c));
          const errors = results.filter((r) => r.status === 'error');
          for (const r of results) if (r.status === 'complete') expect(r.frame).to.deep.equal(frame);
          expect(errors.length, 'the corruption must be reported').to.be.greaterThan(0);
        }),
        runParams(500),
      );
    });

    it('a mismatched hash at completion is bad_chunk', () => {
      const chunks = splitOverWire(eventFrame('x'.repeat(3000)), 1000) as ChunkFrame[];
      const broken = chunks.map((c, i) => (i === 1 ? { ...c, data: c.data.replace('x', 'y') } : c));
      const results = broken.map((c) => new ChunkAssembler().add(c)); // each alone: all partial
      expect(results.every((r) => r.status === 'partial')).to.equal(true);
      const assembler = new ChunkAssembler();
      const last = broken.map((c) => assembler.add(c)).at(-1);
      expect(last).to.deep.include({ status: 'error' });
      expect(last?.status === 'error' && last.error.code).to.equal('bad_chunk');
      expect(assembler.pendingBytes).to.equal(0);
    });

    it('chunks whose hash is right but whose text is not this event frame are refused', () => {
      const asChunks = (text: string, thread = 't', seq = 1): ChunkFrame[] => {
        const half = Math.floor(text.length / 2);
        const hash = payloadHash(text);
        return [text.slice(0, half), text.slice(half)].map((data, index) => ({ v: 1, type: 'chunk', thread, seq, index, count: 2, hash, data }));
      };
      const finish = (chunks: ChunkFrame[]) => {
        const assembler = new ChunkAssembler();
        return chunks.map((c) => assembler.add(c)).at(-1);
      };
      const pong = finish(asChunks(encode({ v: 1, type: 'pong', id: 1 })));
      expect(pong?.status === 'error' && pong.error.code).to.equal('bad_chunk');
      const elsewhere = finish(asChunks(encode(eventFrame('hi', 1, 'other')), 't', 1));
      expect(elsewhere?.status === 'error' && elsewhere.error.code).to.equal('bad_chunk');
      const notJson = finish(asChunks('{"v":1,"type":"event"'));
      expect(notJson?.status === 'error' && notJson.error.code).to.equal('malformed_json');
      const badField = finish(asChunks('{"v":1,"type":"event","thread":"t","seq":-1}'));
      expect(badField?.status === 'error' && badField.error.code).to.equal('bad_field');
    });
  });

  describe('memory accounting', () => {
    it('pendingBytes counts partial data; drop(thread, seq), drop(thread) and clear() release it', () => {
      const a = chunkEventFrame(eventFrame('a'.repeat(5000), 1, 't1'), 1000) as ChunkFrame[];
      const b = chunkEventFrame(eventFrame('b'.repeat(5000), 2, 't1'), 1000) as ChunkFrame[];
      const c = chunkEventFrame(eventFrame('c'.repeat(5000), 1, 't2'), 1000) as ChunkFrame[];
      const assembler = new ChunkAssembler();
      const held = (chunks: ChunkFrame[]) => bytesOf(chunks[0]!.data);
      assembler.add(a[0]!);
      assembler.add(a[0]!); // duplicate: counted once
      assembler.add(b[0]!);
      assembler.add(c[0]!);
      expect(assembler.pendingBytes).to.equal(held(a) + held(b) + held(c));
      assembler.drop('t1', 2);
      expect(assembler.pendingBytes).to.equal(held(a) + held(c));
      assembler.drop('t1');
      expect(assembler.pendingBytes).to.equal(held(c));
      assembler.clear();
      expect(assembler.pendingBytes).to.equal(0);
      // After a drop the stream assembles from scratch.
      expect(assemble(a, assembler)).to.deep.equal(eventFrame('a'.repeat(5000), 1, 't1'));
    });

    it('an assembly past maxPendingBytes is refused with too_large and forgotten', () => {
      const chunks = chunkEventFrame(eventFrame('z'.repeat(10_000)), 1000) as ChunkFrame[];
      const assembler = new ChunkAssembler({ maxPendingBytes: 4000 });
      const results = chunks.map((c) => assembler.add(c));
      const firstError = results.find((r) => r.status === 'error');
      expect(firstError?.status === 'error' && firstError.error.code).to.equal('too_large');
      expect(results.some((r) => r.status === 'complete')).to.equal(false);
      expect(assembler.pendingBytes).to.be.at.most(4000);
    });
  });
});
