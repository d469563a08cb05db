/**
 * The real machines over real sockets: mission-critical delivery, reconnect
 * with resume, and routing isolation, on 127.0.0.1 with real time.
 */
import { expect } from 'chai';
import type { AgentEvent } from '../../machines/frames.ts';
import { keyOf, RealWorld, runEvents, sleep, streamEvents, waitFor, type TestClient } from './harness.ts';

/** What a client's app received on one thread, as event keys, and the seqs it came with. */
function onThread(client: TestClient, thread: string): { keys: string[]; seqs: number[] } {
  const got = client.app.received.filter((r) => r.thread === thread);
  return { keys: got.map((r) => keyOf(r.event)), seqs: got.map((r) => r.seq) };
}

function expectExactlyOnceInOrder(client: TestClient, thread: string, expected: readonly AgentEvent[]): void {
  const { keys, seqs } = onThread(client, thread);
  expect(keys, `${client.id} ${thread}`).to.deep.equal(expected.map(keyOf));
  expect(seqs).to.deep.equal(expected.map((_, i) => i + 1));
}

describe('transport: delivery over real WebSockets', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;

  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('mission_critical_events_delivery_guaranteed: users × runs, every event exactly once, in order', async () => {
    const users = [0, 1, 2].map((i) => ({ tenant: 't1', user: `u${i}` }));
    world = await RealWorld.start({ users });
    const w = world;
    const clients = users.map((u) => w.client({ ...u, threads: ['th0', 'th1'] }));
    await Promise.all(clients.map((c) => w.waitOpen(c)));

    const runs: AgentEvent[][] = [];
    for (const u of users) for (const thread of ['th0', 'th1']) for (let r = 0; r < 4; r++) runs.push(runEvents(u.tenant, u.user, thread, `run${r}`));
    // interleave the runs: one event of each run per round; the expected order per stream is the publish order
    const expected = new Map<string, AgentEvent[]>();
    for (let idx = 0; idx < 5; idx++) {
      const round = runs.map((run) => run[idx]!);
      for (const e of round) expected.set(`${e.user}/${e.thread}`, [...(expected.get(`${e.user}/${e.thread}`) ?? []), e]);
      w.publish(round);
      await sleep(2);
    }
    const total = runs.length * 5;
    await waitFor(() => clients.reduce((n, c) => n + c.app.received.length, 0) >= total, `${total} deliveries`);
    await sleep(50); // a duplicate would show up now
    clients.forEach((c, i) => {
      for (const thread of ['th0', 'th1']) expectExactlyOnceInOrder(c, thread, expected.get(`${users[i]!.user}/${thread}`)!);
      expect(c.app.received).to.have.length(40);
      expect(c.actor.getSnapshot().context.stats.duplicates).to.equal(0);
    });
  });

  it('connection_auto_reconnect_mechanism: sockets cut mid-stream, resume with no gap and no duplicate', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const w = world;
    const client = w.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
    await w.waitOpen(client);

    const events = streamEvents('t1', 'alice', 'th0', 1500);
    const cuts = [400, 900, 1200];
    let cut = 0;
    for (let i = 0; i < events.length; i += 25) {
      w.publish(events.slice(i, i + 25));
      if (cut < cuts.length && i >= cuts[cut]!) {
        const server = w.serverLinkOf(client.id);
        expect(server, 'server side of the client').to.exist;
        server!.socket.terminate();
        cut++;
      }
      await sleep(4);
    }
    await waitFor(() => client.app.received.length >= events.length, 'every event after the reconnects', 10_000);
    await sleep(50);
    expectExactlyOnceInOrder(client, 'th0', events);
    const ctx = client.actor.getSnapshot().context;
    expect(ctx.stats.reconnects).to.be.at.least(cuts.length);
    expect(client.app.resyncs, 'resume served from the replay log').to.deep.equal([]);
    expect(client.app.closes.filter((c) => c.code === 1006)).to.have.length.at.least(cuts.length);
    expect(client.actor.getSnapshot().matches('open')).to.equal(true);
  });

  it('user_specific_event_routing / multi_tenant_event_isolation: each user only its own, same ids across tenants', async () => {
    const users = [
      { tenant: 't1', user: 'alice' },
      { tenant: 't1', user: 'bob' },
      { tenant: 't2', user: 'alice' }, // same user id, other tenant
    ];
    world = await RealWorld.start({ users });
    const w = world;
    const clients = [
      w.client({ tenant: 't1', user: 'alice', threads: ['th0'] }),
      w.client({ tenant: 't1', user: 'alice', tab: 1, threads: ['th0'] }), // a second tab sees the same stream
      w.client({ tenant: 't1', user: 'bob', threads: ['th0'] }),
      w.client({ tenant: 't2', user: 'alice', threads: ['th0'] }),
    ];
    await Promise.all(clients.map((c) => w.waitOpen(c)));

    // same thread and run ids for everybody: only (tenant, user) tells them apart
    const streams = users.map((u) => streamEvents(u.tenant, u.user, 'th0', 200));
    for (let i = 0; i < 200; i += 10) {
      for (const s of streams) w.publish(s.slice(i, i + 10));
      await sleep(1);
    }
    await waitFor(() => clients.every((c) => c.app.received.length >= 200), 'every stream delivered');
    await sleep(100); // a leak would arrive now
    const owner = [0, 0, 1, 2];
    clients.forEach((c, i) => {
      const mine = users[owner[i]!]!;
      expect(c.app.received.every((r) => r.event.tenant === mine.tenant && r.event.user === mine.user), `${c.id} saw another user's event`).to.equal(true);
      expectExactlyOnceInOrder(c, 'th0', streams[owner[i]!]!);
    });
  });
});
