/**
 * Authentication at the HTTP upgrade and at the hello, and the server's
 * graceful shutdown, over real sockets.
 */
import { expect } from 'chai';
import http from 'node:http';
import { keyOf, RealWorld, sleep, streamEvents, tokenOf, waitFor } from './harness.ts';
import { closeRawClients, rawClient } from './raw-client.ts';

describe('transport: authentication and lifecycle over real sockets', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;

  afterEach(async () => {
    await closeRawClients();
    await world?.close();
    world = undefined;
  });

  it('a bad or missing token gets HTTP 401 at the upgrade: no WebSocket, no session', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const w = world;
    const bad = rawClient(w.server.url, { token: 'tok:nobody' });
    const missing = rawClient(w.server.url, {});
    const badQuery = rawClient(w.server.url, { token: 'tok:nobody', tokenIn: 'query' });
    for (const c of [bad, missing, badQuery]) {
      await c.waitClosed();
      expect(c.status).to.equal(401);
      expect(c.opened).to.equal(false);
    }
    const stats = w.server.stats();
    expect(stats.rejected.unauthorized).to.equal(3);
    expect(stats.connections).to.equal(0);
    expect(w.hub.getSnapshot().context.sessions.size).to.equal(0);
    // a good token in the query is as good as the header (browsers cannot set headers)
    const good = rawClient(w.server.url, { token: tokenOf('t1', 'alice'), tokenIn: 'query' });
    await good.waitOpen();
    expect(w.server.stats().connections).to.equal(1);
  });

  it('a client machine refused at the upgrade fails at once with 4401 (no retry storm)', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const w = world;
    const client = w.client({ tenant: 't1', user: 'alice', token: 'tok:forged', threads: ['th0'] });
    await waitFor(() => client.actor.getSnapshot().status === 'done', 'the client gave up', 3000);
    expect(client.actor.getSnapshot().value).to.equal('failed');
    expect(client.actor.getSnapshot().context.failure).to.match(/^closed by server: 4401/);
    expect(w.server.stats().rejected.unauthorized).to.equal(1);
  });

  it('a token revoked between the upgrade and the hello is closed 4401 by the session', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const w = world;
    const token = tokenOf('t1', 'alice');
    const raw = rawClient(w.server.url, { token });
    await raw.waitOpen();
    w.hub.send({ type: 'REVOKE', token });
    raw.ws.send(JSON.stringify({ v: 1, type: 'hello', token }));
    expect(await raw.waitClosed()).to.deep.equal({ code: 4401, reason: 'invalid or expired token' });
    expect(raw.types()).to.not.include('welcome');
  });

  it('a token revoked mid-session: the resume is refused (4401) and the client stops, having lost nothing before', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const w = world;
    const client = w.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
    await w.waitOpen(client);
    const events = streamEvents('t1', 'alice', 'th0', 100);
    w.publish(events);
    await waitFor(() => client.app.received.length >= 100, 'the first events');
    w.hub.send({ type: 'REVOKE', token: tokenOf('t1', 'alice') });
    w.serverLinkOf(client.id)!.socket.terminate();
    await waitFor(() => client.actor.getSnapshot().status === 'done', 'the client gave up', 5000);
    expect(client.actor.getSnapshot().value).to.equal('failed');
    expect(client.actor.getSnapshot().context.failure).to.match(/4401/);
    expect(client.app.received.map((r) => keyOf(r.event))).to.deep.equal(events.map(keyOf));
  });

  it('graceful shutdown: every socket is closed 1001 (a reconnect code), the http server closes, nothing hangs', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const w = world;
    const client = w.client({ tenant: 't1', user: 'alice', threads: ['th0'] });
    const raw = rawClient(w.server.url, { token: tokenOf('t1', 'alice') });
    await Promise.all([w.waitOpen(client), raw.waitOpen()]);
    const started = performance.now();
    await w.server.close();
    expect(performance.now() - started).to.be.below(2000);
    expect((await raw.waitClosed()).code).to.equal(1001);
    await waitFor(() => client.app.closes.some((c) => c.code === 1001), 'the client heard 1001');
    // 1001 is transient: the client tries to reconnect (to a server that is gone), it does not fail
    await sleep(50);
    expect(client.actor.getSnapshot().status).to.equal('active');
    expect(w.server.stats().closedByServer[1001]).to.equal(2);
    // the port is closed
    const refused = await new Promise<boolean>((resolve) => {
      const req = http.get(`http://127.0.0.1:${w.server.port}/`, () => resolve(false));
      req.on('error', () => resolve(true));
    });
    expect(refused).to.equal(true);
    client.actor.send({ type: 'STOP' });
  });

  it('a plain HTTP request gets 426, a wrong path 404', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }], transport: { path: '/ws' } });
    const w = world;
    const status = await new Promise<number>((resolve, reject) => {
      http.get(`http://127.0.0.1:${w.server.port}/ws`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).to.equal(426);
    const wrong = rawClient(`ws://127.0.0.1:${w.server.port}/other`, { token: tokenOf('t1', 'alice') });
    await wrong.waitClosed();
    expect(wrong.status).to.equal(404);
    const right = rawClient(w.server.url, { token: tokenOf('t1', 'alice') });
    await right.waitOpen();
  });
});
