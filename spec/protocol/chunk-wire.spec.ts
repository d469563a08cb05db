/**
 * Chunks as they leave a real server session (PROTOCOL.md section 11): the
 * construction is checked on the wire messages themselves, with nothing but
 * JSON.parse and payloadHash, as a receiver in another language sees them.
 */
import { expect } from 'chai';
import type { AgentEvent, ChunkFrame } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { SessionWorld, TENANT, USER } from './session-world.ts';

const utf8 = (text: string): number => new TextEncoder().encode(text).length;

describe('protocol: chunks on the wire', function () {
  it('WS-CHUNK-2: the chunks of a large event frame are consecutive slices of its encoding, in index order, each within maxFrameBytes, each with its hash', () => {
    const maxFrameBytes = 4096;
    const w = new SessionWorld({ config: { maxFrameBytes } });
    w.open(['t1']);
    const mark = w.mark;
    // escapes, two- and three-byte characters and surrogate pairs: slices are sized by their escaped UTF-8 cost
    const payload = 'quote " backslash \\ tab \t é ✓ 😀 '.repeat(700);
    const event: AgentEvent = { tenant: TENANT, user: USER, thread: 't1', run: 'r1', idx: 0, type: 'tool_completed', toolId: 'k', sensitivity: 'public', payload, hash: payloadHash(payload) };
    w.publishEvent(event);
    const messages = w.port.messages.slice(mark);
    const chunks = messages.map((m) => JSON.parse(m) as ChunkFrame);
    expect(chunks.length).to.be.greaterThan(5);
    chunks.forEach((c, i) => {
      expect(c).to.include({ v: 1, type: 'chunk', thread: 't1', seq: 1, index: i, count: chunks.length });
      expect(utf8(messages[i]!), `chunk ${i} size`).to.be.at.most(maxFrameBytes);
      // no slice starts with the low half of a surrogate pair
      expect(c.data.charCodeAt(0) >= 0xdc00 && c.data.charCodeAt(0) <= 0xdfff, `chunk ${i} starts mid-pair`).to.equal(false);
    });
    const joined = chunks.map((c) => c.data).join('');
    expect(new Set(chunks.map((c) => c.hash))).to.deep.equal(new Set([payloadHash(joined)]));
    expect(JSON.parse(joined)).to.deep.equal({ v: 1, type: 'event', thread: 't1', seq: 1, epoch: 'e1', event });
    // a frame that fits is not chunked
    const small = w.mark;
    w.publish('t1', 1);
    expect(w.port.messages.slice(small).map((m) => (JSON.parse(m) as { type: string }).type)).to.deep.equal(['event']);
  });
});
