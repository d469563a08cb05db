import { expect } from 'chai';
import { encode, type ServerFrame } from '../../machines/protocol.ts';
import { WireMeter } from '../../sim/wire-meter.ts';

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
});
