/**
 * malformed_message_handling over a real socket: fuzzed frames from a raw ws
 * client, each answered (an error frame, or the close code RFC 6455 gives when
 * the stream itself cannot be trusted), each counted, the server alive, and a
 * well-behaved client beside it unaffected.
 */
import { expect } from 'chai';
import { Random } from '../../sim/random.ts';
import { keyOf, RealWorld, sleep, streamEvents, tokenOf, waitFor } from './harness.ts';
import { closeRawClients, rawClient } from './raw-client.ts';

const VALID = [
  '{"v":1,"type":"ack","acks":{"th0":3}}',
  '{"v":1,"type":"ping","id":7}',
  '{"v":1,"type":"subscribe","thread":"th0","from":1}',
  '{"v":1,"type":"resume","epoch":"e1","positions":{"th0":2}}',
];

type Fuzz = { kind: string; data: string | Buffer; binary: boolean };

/** Frames that are never a valid client frame: each one must come back as an error frame. */
const GENERATORS: ((r: Random) => Fuzz)[] = [
  (r) => ({ kind: 'garbage', binary: false, data: Array.from({ length: r.int(1, 80) }, () => String.fromCharCode(r.int(1, 0xd7ff))).join('') }),
  (r) => {
    const f = r.pick(VALID);
    return { kind: 'truncated', binary: false, data: f.slice(0, r.int(0, f.length - 1)) };
  },
  (r) => ({ kind: 'wrong_version', binary: false, data: r.pick(VALID).replace('"v":1', r.pick(['"v":2', '"v":0', '"v":"1"', '"v":null'])) }),
  (r) => ({ kind: 'no_version', binary: false, data: r.pick(VALID).replace('"v":1,', '') }),
  (r) => ({ kind: 'unknown_type', binary: false, data: r.pick(VALID).replace(/"type":"[a-z_]+"/, `"type":"${r.pick(['shout', 'Event', '', 'welcome', 'batch', 'event'])}"`) }),
  (r) => ({
    kind: 'bad_field',
    binary: false,
    data: r.pick(['{"v":1,"type":"ping","id":-1}', '{"v":1,"type":"ping","id":"7"}', '{"v":1,"type":"ping","id":1.5}', '{"v":1,"type":"subscribe","thread":"th0","from":0}', '{"v":1,"type":"ack","acks":{"th0":"x"}}', '{"v":1,"type":"resume","epoch":"e1","positions":[]}', '{"v":1,"type":"hello"}']),
  }),
  (r) => ({ kind: 'not_object', binary: false, data: r.pick(['[]', 'null', '42', '"ping"', 'true', '{}']) }),
  (r) => ({ kind: 'deep', binary: false, data: '['.repeat(r.int(10, 20_000)) }),
  (r) => ({ kind: 'binary', binary: true, data: Buffer.from(Array.from({ length: r.int(1, 64) }, () => r.int(0, 255))) }),
  (r) => ({ kind: 'binary_json', binary: true, data: Buffer.from(r.pick(VALID)) }),
];

function fuzz(r: Random): Fuzz {
  return r.pick(GENERATORS)(r);
}

describe('transport: malformed frames over a real socket', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;

  afterEach(async () => {
    await closeRawClients();
    await world?.close();
    world = undefined;
  });

  it('malformed_message_handling: 1,200 fuzzed frames, each answered and counted, a neighbour unaffected', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }, { tenant: 'rogue', user: 'fuzzer' }] });
    const w = world;
    const good = w.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
    await w.waitOpen(good);

    const rogue = rawClient(w.server.url, { token: tokenOf('rogue', 'fuzzer') });
    await rogue.waitOpen();
    const random = Random.seeded(7).fork('fuzz');
    const sent: Fuzz[] = [];
    const sendSome = (n: number) => {
      for (let i = 0; i < n; i++) {
        const f = fuzz(random);
        sent.push(f);
        rogue.ws.send(f.data, { binary: f.binary });
      }
    };

    const events = streamEvents('t1', 'alice', 'th0', 600);
    // before the hello (handshake state), then after it (open state), while the neighbour's stream flows
    sendSome(200);
    rogue.ws.send(JSON.stringify({ v: 1, type: 'hello', token: tokenOf('rogue', 'fuzzer') }));
    for (let i = 0; i < 10; i++) {
      w.publish(events.slice(i * 60, (i + 1) * 60));
      sendSome(100);
      await sleep(5);
    }
    const errorsExpected = sent.length;
    await waitFor(() => rogue.types().filter((t) => t === 'error').length >= errorsExpected, `${errorsExpected} error frames`, 10_000);
    await waitFor(() => good.app.received.length >= events.length, 'the neighbour got its stream');

    const types = rogue.types();
    expect(types.filter((t) => t === 'error')).to.have.length(errorsExpected);
    expect(types.filter((t) => t === 'welcome')).to.have.length(1);
    const binary = sent.filter((f) => f.binary).length;
    const text = sent.length - binary;
    expect(binary).to.be.greaterThan(50);
    const stats = w.server.stats();
    expect(stats.badMessages.binary).to.equal(binary);
    // the server names its links: the rogue's is the one admitted with its token
    const rogueLink = w.server.links().find((l) => l.request.token === tokenOf('rogue', 'fuzzer'))!.id;
    expect(w.rejectedByServer.filter((r) => r.link === rogueLink), 'decoder rejections counted by the session').to.have.length(text);
    // the fuzzer's connection is still up and still a working protocol connection
    rogue.ws.send('{"v":1,"type":"ping","id":99}');
    await waitFor(() => rogue.messages.some((m) => m === '{"v":1,"type":"pong","id":99}'), 'pong after the fuzz');
    expect(rogue.close).to.equal(null);
    // the neighbour: everything, once, in order
    expect(good.app.received.map((r) => keyOf(r.event))).to.deep.equal(events.map(keyOf));
    expect(good.actor.getSnapshot().matches('open')).to.equal(true);
    expect(stats.internalErrors).to.equal(0);
  });

  it('malformed_message_handling: invalid UTF-8 text closes 1007, oversized closes 1009, both counted; the server goes on', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }, { tenant: 'rogue', user: 'fuzzer' }] });
    const w = world;
    const good = w.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
    await w.waitOpen(good);
    const token = tokenOf('rogue', 'fuzzer');
    const badUtf8 = [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), Buffer.from([0xc3, 0x28]), Buffer.from('{"v":1,"type":"ping","id":1,"x":"\xed\xa0\x80"}', 'latin1')];
    const closes: number[] = [];
    for (const bytes of badUtf8) {
      const c = rawClient(w.server.url, { token });
      await c.waitOpen();
      c.ws.send(bytes, { binary: false }); // a text frame whose bytes are not UTF-8
      closes.push((await c.waitClosed()).code);
    }
    const big = rawClient(w.server.url, { token });
    await big.waitOpen();
    big.ws.send(`{"v":1,"type":"ping","id":1,"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
    closes.push((await big.waitClosed()).code);
    expect(closes).to.deep.equal([1007, 1007, 1007, 1009]);
    const stats = w.server.stats();
    expect(stats.badMessages.invalidUtf8).to.equal(3);
    expect(stats.badMessages.tooBig).to.equal(1);
    // the neighbour still gets its stream
    const events = streamEvents('t1', 'alice', 'th0', 50);
    w.publish(events);
    await waitFor(() => good.app.received.length >= 50, 'the neighbour got its stream');
    expect(good.app.received.map((r) => keyOf(r.event))).to.deep.equal(events.map(keyOf));
  });

  it('a flood over the rate limit is closed 1008, counted, and the neighbour is unaffected', async () => {
    world = await RealWorld.start({
      users: [{ tenant: 't1', user: 'alice' }, { tenant: 'rogue', user: 'fuzzer' }],
      transport: { rateLimit: { burst: 200, perSecond: 100 } },
    });
    const w = world;
    const good = w.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
    await w.waitOpen(good);
    const flood = rawClient(w.server.url, { token: tokenOf('rogue', 'fuzzer') });
    await flood.waitOpen();
    flood.ws.send(JSON.stringify({ v: 1, type: 'hello', token: tokenOf('rogue', 'fuzzer') }));
    for (let i = 0; i < 1000; i++) flood.ws.send(`{"v":1,"type":"ping","id":${i}}`);
    const close = await flood.waitClosed();
    expect(close).to.deep.equal({ code: 1008, reason: 'rate limit' });
    expect(w.server.stats().rateLimited).to.equal(1);
    expect(w.server.stats().closedByServer[1008]).to.equal(1);
    // answered up to the limit, nothing after the close
    expect(flood.types().filter((t) => t === 'pong').length).to.be.within(150, 260);
    const events = streamEvents('t1', 'alice', 'th0', 50);
    w.publish(events);
    await waitFor(() => good.app.received.length >= 50, 'the neighbour got its stream');
  });
});
