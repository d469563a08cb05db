import { expect } from 'chai';
import { createClient } from 'redis';
import { checkRedis, RedisStore } from '../../transport/redis-store.ts';
import { poll, RedisServer } from '../../bench/redis-server.ts';
import { describeContract } from './store-contract.ts';
import { eventOf, TestNode, type HarnessFactory, type StoreHarness } from './store-node.ts';


/** A fresh redis-server per harness; the store's reconnect backoff kept short so specs stay fast. */
const redisHarness: HarnessFactory = async (capacity) => (await redisWorld(capacity)).harness;

async function redisWorld(capacity: number): Promise<{ harness: StoreHarness; server: RedisServer }> {
  const server = await RedisServer.start();
  const store = new RedisStore({ url: server.url, capacity, reconnect: { minMs: 10, maxMs: 100 }, commandTimeoutMs: 2000 });
  const admin = createClient({ url: server.url, socket: { reconnectStrategy: 20 } });
  admin.on('error', () => {});
  await admin.connect();
  const harness: StoreHarness = {
    store,
    until: poll,
    loseData: () => server.restart(),
    lossBreaksLinks: true,
    dropLinks: async () => {
      await admin.clientKill({ filter: 'TYPE', type: 'normal' } as never);
      await admin.clientKill({ filter: 'TYPE', type: 'pubsub' } as never);
    },
    close: async () => {
      admin.destroy();
      await server.stop();
    },
  };
  return { harness, server };
}

describeContract('redis streams', redisHarness, { links: true });

const operatorClient = (url: string) => createClient({ url });

/** Run one admin command on the server, as an operator would. */
async function operator<T>(url: string, command: (client: ReturnType<typeof operatorClient>) => Promise<T>): Promise<T> {
  const client = operatorClient(url);
  await client.connect();
  try {
    return await command(client);
  } finally {
    client.destroy();
  }
}

describe('store: redis specifics', () => {
  let harness: StoreHarness | undefined;
  let nodes: TestNode[] = [];
  afterEach(async () => {
    for (const node of nodes) node.close();
    nodes = [];
    await harness?.close();
    harness = undefined;
  });

  /** A fresh server with two nodes whose links are up. */
  async function twoNodes(): Promise<{ server: RedisServer; a: TestNode; b: TestNode }> {
    const world = await redisWorld(16);
    harness = world.harness;
    nodes = [new TestNode('a', harness), new TestNode('b', harness)];
    for (const node of nodes) await node.ready();
    return { server: world.server, a: nodes[0]!, b: nodes[1]! };
  }

  it('an unreachable Redis is one line, never a throw', async () => {
    const result = await checkRedis('redis://127.0.0.1:1', 1000);
    expect(result.ok).to.equal(false);
    if (!result.ok) expect(result.message).to.match(/^redis at redis:\/\/127\.0\.0\.1:1 is unreachable: \S.*$/);
  });

  it('a Redis that may evict keys is refused in one line; noeviction is accepted', async () => {
    const world = await redisWorld(16);
    harness = world.harness;
    expect(await checkRedis(world.server.url)).to.deep.equal({ ok: true });
    await operator(world.server.url, (c) => c.configSet('maxmemory-policy', 'allkeys-lru'));
    const refused = await checkRedis(world.server.url);
    expect(refused).to.deep.equal({ ok: false, message: `redis at ${world.server.url} has maxmemory-policy allkeys-lru: it may evict history; set it to noeviction` });
  });

  it('a stream that lost its meta but kept its log is a new epoch, never a silent restart at 1', async () => {
    const { server, a, b } = await twoNodes();
    const stream = { tenant: 't', user: 'u', thread: 'th' };
    for (let i = 0; i < 3; i++) await a.append(eventOf(stream, 'r', i));
    const before = await a.epoch();
    expect(await operator(server.url, (c) => c.del('wsim:s:t:u:th:meta'))).to.equal(1);
    const read = await b.read(stream, 1, 10);
    expect(read.epoch).to.not.equal(before);
    expect([read.head, read.entries.length]).to.deep.equal([0, 0]);
    await harness!.until(() => a.notices.some((n) => n.kind === 'epoch' && n.epoch === read.epoch), 'a told of the new epoch');
  });

  it('a flush without a restart is a new epoch too, announced at the next command', async () => {
    const { server, a, b } = await twoNodes();
    const stream = { tenant: 't', user: 'u', thread: 'th' };
    const first = await a.append(eventOf(stream, 'r', 0));
    await operator(server.url, (c) => c.flushAll());
    const again = await b.append(eventOf(stream, 'r', 0));
    expect([again.seq, again.duplicate]).to.deep.equal([1, false]);
    expect(again.epoch).to.not.equal(first.epoch);
    await harness!.until(() => a.notices.some((n) => n.kind === 'epoch' && n.epoch === again.epoch), 'a told of the new epoch');
  });

  it('commands while Redis is down fail at once as unavailable, and the link comes back with the server', async () => {
    const server = await RedisServer.start();
    const store = new RedisStore({ url: server.url, capacity: 16, reconnect: { minMs: 10, maxMs: 50 } });
    harness = { store, until: poll, loseData: () => server.restart(), lossBreaksLinks: true, close: () => server.stop() };
    const a = new TestNode('a', harness);
    nodes = [a];
    await a.ready();
    await server.kill();
    await poll(() => !a.up, 'link down');
    const started = Date.now();
    const reply = await a.ask({ kind: 'epoch' });
    expect(reply).to.include({ kind: 'failed', reason: 'unavailable' });
    expect(Date.now() - started, 'a refused command waited').to.be.below(1000);
    await server.launch();
    await a.ready();
    expect((await a.ask({ kind: 'epoch' })).kind).to.equal('epoch');
  });
});
