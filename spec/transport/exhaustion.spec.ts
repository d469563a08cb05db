/**
 * resource_exhaustion_recovery over real sockets: a client that stops reading
 * fills its TCP window and then the server's send buffer; the session hears
 * backpressure from `bufferedAmount`, its outbox backs up, and past the cap
 * the server sheds the connection with 1013. The client resumes later with no
 * gap and no duplicate; a neighbour is not slowed meanwhile.
 */
import { expect } from 'chai';
import type { Socket } from 'node:net';
import { keyOf, percentile, RealWorld, sleep, streamEvents, waitFor } from './harness.ts';
import { closeRawClients, rawClient } from './raw-client.ts';

const socketOf = (link: { socket: unknown }): Socket => (link.socket as { _socket: Socket })._socket;

describe('transport: slow consumers and exhaustion over real sockets', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;

  afterEach(async () => {
    await closeRawClients();
    await world?.close();
    world = undefined;
  });

  it('resource_exhaustion_recovery: a client that stops reading is shed with 1013, resumes, and a neighbour is not slowed', async () => {
    world = await RealWorld.start({
      users: [{ tenant: 't1', user: 'fast' }, { tenant: 't1', user: 'slow' }],
      hub: { sessionConfig: { shedAbove: 1000 } },
    });
    const w = world;
    const fast = w.client({ tenant: 't1', user: 'fast', threads: ['th0'] });
    // its own heartbeat would notice the silence and reconnect by itself: here the server must act
    const slow = w.client({ tenant: 't1', user: 'slow', threads: ['th0'], config: { pingIntervalMs: 30_000 } });
    await Promise.all([w.waitOpen(fast), w.waitOpen(slow)]);
    const slowLink = [...w.transport.clientLinks().entries()].find(([id]) => id.startsWith(`${slow.id}#`))![1];
    socketOf(slowLink).pause(); // the app's tab froze: nothing is read any more

    const slowEvents = streamEvents('t1', 'slow', 'th0', 2500, 16 * 1024);
    const fastEvents = streamEvents('t1', 'fast', 'th0', 500);
    for (let i = 0; i < 50; i++) {
      w.publish(slowEvents.slice(i * 50, (i + 1) * 50));
      w.publish(fastEvents.slice(i * 10, (i + 1) * 10));
      await sleep(5);
    }
    await waitFor(() => (w.server.stats().closedByServer[1013] ?? 0) >= 1, 'the slow client shed with 1013');
    const stats = w.server.stats();
    expect(stats.backpressure, 'bufferedAmount over the cap was reported').to.be.at.least(1);
    await waitFor(() => fast.app.received.length >= fastEvents.length, 'the fast client got everything');
    const latencies = fast.app.received.map((r) => r.at - w.publishedAt.get(keyOf(r.event))!);
    expect(fast.app.received.map((r) => keyOf(r.event))).to.deep.equal(fastEvents.map(keyOf));
    expect(percentile(latencies, 99), 'fast p99 latency (ms) while the slow one backs up').to.be.below(250);

    socketOf(slowLink).resume(); // the tab wakes up: it reads the backlog, hears the close, resumes
    await waitFor(() => slow.app.received.length >= slowEvents.length, 'the slow client caught up after resuming', 15_000);
    await sleep(50);
    expect(slow.app.received.map((r) => keyOf(r.event))).to.deep.equal(slowEvents.map(keyOf));
    expect(slow.app.received.map((r) => r.seq)).to.deep.equal(slowEvents.map((_, i) => i + 1));
    expect(slow.app.closes.some((c) => c.code === 1013 || c.code === 1006), `slow closes ${JSON.stringify(slow.app.closes)}`).to.equal(true);
    expect(slow.actor.getSnapshot().context.stats.reconnects).to.be.at.least(1);
    expect(slow.app.resyncs).to.deep.equal([]);
  });

  it('the ws-level heartbeat terminates a peer that stopped answering pings', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }], transport: { pingIntervalMs: 100 } });
    const w = world;
    const raw = rawClient(w.server.url, { token: 'tok:t1:alice' });
    await raw.waitOpen();
    expect(w.server.stats().open).to.equal(1);
    (raw.ws as unknown as { _socket: Socket })._socket.pause();
    await waitFor(() => w.server.stats().reaped >= 1 && w.server.stats().open === 0, 'the dead peer reaped', 3000);
    (raw.ws as unknown as { _socket: Socket })._socket.resume();
    expect((await raw.waitClosed()).code).to.equal(1006);
  });
});
