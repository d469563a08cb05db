/**
 * `wsim/server` and `wsim/client` as an app uses them, in Node: the token by
 * header, by query and by subprotocol (a standard WebSocket passed in), an
 * auth hook with role changes on top, and `persist`: a second client with the
 * first one's storage resumes where it stood, no gap and no duplicate.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import type { AgentEvent } from '../../machines/frames.ts';
import { createWsimClient, type StorageLike, type WebSocketConstructor, type WsimClient, type WsimClientOptions } from '../../src/client.ts';
import { createWsimServer, type WsimServer } from '../../src/server.ts';
import { event } from './fixtures.ts';

async function until(what: string, check: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class MemoryStorage implements StorageLike {
  readonly items = new Map<string, string>();
  getItem = (key: string) => this.items.get(key) ?? null;
  setItem = (key: string, value: string) => void this.items.set(key, value);
  removeItem = (key: string) => void this.items.delete(key);
}

describe('serve: wsim/server and wsim/client in Node', function () {
  this.timeout(30_000);
  let server: WsimServer;
  const clients: WsimClient[] = [];

  const open = async (options: Partial<WsimClientOptions> & { got: [number, AgentEvent][] }) => {
    const { got, ...rest } = options;
    const client = createWsimClient({ url: server.url, token: 'ada-token', threads: ['th1'], onEvent: (e, { seq }) => got.push([seq, e]), ...rest }).start();
    clients.push(client);
    await until(`a client ${JSON.stringify(rest.tokenIn ?? 'header')} to open`, () => client.state === 'open' || client.state === 'failed');
    return client;
  };

  afterEach(async () => {
    for (const client of clients.splice(0)) client.stop();
    await server.close();
  });

  it('takes the token by header, by query and by subprotocol; a wrong token fails the client with a reason', async () => {
    server = await createWsimServer({ tokens: { 'ada-token': { tenant: 'acme', user: 'ada', role: 'admin', threads: '*' } } });
    const got: [number, AgentEvent][] = [];
    await open({ got });
    await open({ got, tokenIn: 'query' });
    await open({ got, WebSocket: WebSocket as unknown as WebSocketConstructor });
    expect(clients.map((c) => c.state)).to.deep.equal(['open', 'open', 'open']);
    server.publish(event('r1', 0));
    await until('three deliveries', () => got.length === 3);
    const refused = await open({ got, token: 'nope', config: { maxAttempts: 2 } });
    await until('the refused client to fail', () => refused.state === 'failed');
    expect(refused.failure).to.match(/4401|gave up/);
  });

  it('an auth hook decides who a token is; setRole applies on top of it', async () => {
    server = await createWsimServer({ authenticate: (token) => (token.startsWith('jwt:') ? { tenant: 'acme', user: token.slice(4), role: 'viewer', threads: '*' } : null) });
    const got: [number, AgentEvent][] = [];
    await open({ got, token: 'jwt:ada' });
    expect(clients[0]!.state).to.equal('open');
    server.publish([event('r1', 0, { sensitivity: 'restricted', payload: 'hidden' }), event('r1', 1, { payload: 'shown' })]);
    await until('the public event', () => got.length === 1);
    server.setRole('acme', 'ada', 'admin');
    server.publish(event('r1', 2, { sensitivity: 'restricted', payload: 'now shown' }));
    await until('the restricted event', () => got.length === 2);
    expect(got.map(([seq, e]) => [seq, e.payload])).to.deep.equal([
      [2, 'shown'],
      [3, 'now shown'],
    ]);
    const stranger = await open({ got, token: 'cookie:bob', config: { maxAttempts: 1 } });
    await until('the stranger to fail', () => stranger.state === 'failed');
  });

  it('persist: a new client with the same storage resumes where the old one stood, no gap, no duplicate', async () => {
    server = await createWsimServer({ tokens: { 'ada-token': { tenant: 'acme', user: 'ada', role: 'admin', threads: '*' } } });
    const storage = new MemoryStorage();
    const got: [number, AgentEvent][] = [];
    const first = await open({ got, persist: { key: 'tab' }, storage });
    server.publish([0, 1].map((idx) => event('r1', idx)));
    await until('two events', () => got.length === 2);
    first.stop();
    server.publish([2, 3].map((idx) => event('r1', idx)));
    const saved = JSON.parse(storage.getItem('wsim:cursors:tab')!) as Record<string, { next: number; epoch: string }>;
    expect(saved.th1!.next).to.equal(3);
    await open({ got, persist: { key: 'tab' }, storage });
    await until('four events', () => got.length === 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.map(([seq]) => seq)).to.deep.equal([1, 2, 3, 4]);
    // without persist the same app would get the stream again from the start
    const again: [number, AgentEvent][] = [];
    await open({ got: again });
    await until('a fresh client replay', () => again.length === 4);
  });
});
