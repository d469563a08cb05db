import { expect } from 'chai';
import fc from 'fast-check';
import { encode, type ChunkFrame, type ServerFrame } from '../../machines/protocol.ts';
import { WireMeter } from '../../sim/wire-meter.ts';
import { batchableArb, runParams, serverFrameArb } from '../machines/frame-arbitraries.ts';

const event = (thread: string, seq: number): ServerFrame => ({ v: 1, type: 'event', thread, seq, epoch: 'e1' });
const chunk = (thread: string, seq: number, index: number): ServerFrame => ({ v: 1, type: 'chunk', thread, seq, index, count: 2, hash: 'h', data: 'x' });

describe('sim/wire-meter', () => {
  it('counts every event sequence per link, in batches too, and each chunked sequence once', () => {
    const meter = new WireMeter();
    meter.sent('a', encode(event('t1', 1)));
    meter.sent('a', encode({ v: 1, type: 'batch', frames: [event('t1', 1), event('t1', 2), event('t"2', 1)] }));
    meter.sent('b', encode(event('t1', 1))); // another link: not a retransmission
    meter.sent('a', encode({ v: 1, type: 'pong', id: 1 }));
    meter.sent('a', encode(chunk('t1', 3, 0)));
    meter.sent('a', encode(chunk('t1', 3, 1))); // only index 0 counts a send
    meter.sent('a', encode({ v: 1, type: 'batch', frames: [chunk('t1', 3, 0)] }));
    expect(meter.maxSendsPerSeq()).to.equal(2);
    // a:t1#1 twice, a:t1#3 twice (chunk index 0 sent twice)
    expect(meter.retransmissions()).to.equal(2);
    expect(meter.chunkedSeqs()).to.equal(1);
  });

  it('reads thread names with escapes (quotes, backslashes) as the encoder writes them', () => {
    const meter = new WireMeter();
    for (const thread of ['a\\"b', 'a\\', 'a\\"b', '"', '\\"seq\\":9']) meter.sent('a', encode({ v: 1, type: 'batch', frames: [event(thread, 7), chunk(thread, 8, 0)] }));
    // 'a\\"b' went out twice (its event and its chunk, each); every other name once, none mistaken for another
    expect(meter.maxSendsPerSeq()).to.equal(2);
    expect(meter.retransmissions()).to.equal(2);
    expect(meter.chunkedSeqs()).to.equal(4);
  });

  it('sees nothing in frames that carry no event', () => {
    const meter = new WireMeter();
    for (const frame of [{ v: 1, type: 'welcome', session: 's', epoch: 'e1' }, { v: 1, type: 'pong', id: 2 }] as ServerFrame[]) meter.sent('a', encode(frame));
    expect(meter.maxSendsPerSeq()).to.equal(0);
    expect(meter.chunkedSeqs()).to.equal(0);
  });

  it('counts what a parse of every message counts, on random server frames and batches', () => {
    // chunk frames in the key order chunking.ts writes (the meter reads index right after seq)
    const inOrder = (f: ServerFrame): ServerFrame =>
      f.type === 'chunk' ? ({ v: f.v, type: f.type, thread: f.thread, seq: f.seq, index: f.index, count: f.count, hash: f.hash, data: f.data } satisfies ChunkFrame)
      : f.type === 'batch' ? { ...f, frames: f.frames.map((g) => inOrder(g) as typeof g) }
      : f;
    const message = fc.tuple(fc.constantFrom('a', 'b'), fc.oneof(serverFrameArb, batchableArb).map(inOrder));
    fc.assert(fc.property(fc.array(message, { maxLength: 30 }), (messages) => {
      const meter = new WireMeter();
      const sends = new Map<string, number>();
      const chunked = new Set<string>();
      for (const [link, frame] of messages) {
        meter.sent(link, encode(frame));
        for (const f of frame.type === 'batch' ? frame.frames : [frame]) {
          if (f.type !== 'event' && !(f.type === 'chunk' && f.index === 0)) continue;
          const key = JSON.stringify([f.thread, f.seq]);
          if (f.type === 'chunk') chunked.add(key);
          sends.set(`${link} ${key}`, (sends.get(`${link} ${key}`) ?? 0) + 1);
        }
      }
      const counts = [...sends.values()];
      expect(meter.retransmissions()).to.equal(counts.reduce((n, c) => n + c - 1, 0));
      expect(meter.maxSendsPerSeq()).to.equal(Math.max(0, ...counts));
      expect(meter.chunkedSeqs()).to.equal(chunked.size);
    }), runParams(300));
  });
});
