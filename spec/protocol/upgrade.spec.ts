/**
 * Where the token goes at the HTTP upgrade, and what a refused upgrade means
 * to a client (PROTOCOL.md section 3), over real sockets on 127.0.0.1:0.
 */
import { expect } from 'chai';
import { isReconnectCode } from '../../machines/frames.ts';
import type { CloseInfo } from '../../transport/link.ts';
import { nodeSocketFactory } from '../../transport/node-socket.ts';
import { closeForHttpStatus, connectWs } from '../../transport/ws-client.ts';
import { startWsServer, type WsServer } from '../../transport/ws-server.ts';
import { RealWorld, tokenOf, waitFor } from '../transport/harness.ts';
import { closeRawClients, rawClient } from '../transport/raw-client.ts';

describe('protocol: the upgrade of PROTOCOL.md', function () {
  this.timeout(20_000);
  let world: RealWorld | undefined;
  let bare: WsServer | undefined;

  afterEach(async () => {
    await closeRawClients();
    await world?.close();
    await bare?.close();
    world = undefined;
    bare = undefined;
  });

  it('WS-AUTH-2: with a token in both the header and the query, the header decides', async () => {
    world = await RealWorld.start({ users: [{ tenant: 't1', user: 'alice' }] });
    const good = tokenOf('t1', 'alice');
    const withQuery = (token: string) => `${world!.server.url}?token=${encodeURIComponent(token)}`;
    const badHeader = rawClient(withQuery(good), { token: 'tok:forged' });
    await badHeader.waitClosed();
    expect(badHeader.status).to.equal(401);
    const goodHeader = rawClient(withQuery('tok:forged'), { token: good });
    await goodHeader.waitOpen();
    expect(world.server.stats().rejected.unauthorized).to.equal(1);
  });

  it('WS-AUTH-4: a refused upgrade reaches the client as a close code: 401 → 4401 and 403 → 4403 final, 503 → 1013 and others → 1006 reconnect', async () => {
    const mapped = [401, 403, 503, 500, 404].map((status) => closeForHttpStatus(status).code);
    expect(mapped).to.deep.equal([4401, 4403, 1013, 1006, 1006]);
    expect(mapped.map(isReconnectCode)).to.deep.equal([false, false, true, true, true]);
    // over a real socket: a server with no handler yet answers 503, which the client hears as 1013
    bare = await startWsServer({});
    const closes: CloseInfo[] = [];
    connectWs({
      url: bare.url,
      request: { connId: 'c#1', endpoint: 'c', token: 'any' },
      handler: { onOpen: () => {}, onFrame: () => {}, onClose: (info) => closes.push(info) },
      createSocket: nodeSocketFactory,
    });
    await waitFor(() => closes.length > 0, 'the refused connect closes');
    expect(closes).to.deep.equal([{ code: 1013, reason: 'server not ready (HTTP 503 at upgrade)' }]);
  });
});
