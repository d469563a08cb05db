/**
 * The real cluster (issue 16): Debian's redis-server on a free port without
 * persistence, three `wsim serve --redis` nodes behind a TCP load balancer
 * that sends each connection to a random live node. A producer publishes over
 * HTTP to random nodes, retrying a refused or 503 publish with the same
 * (run, idx). One node is killed with SIGKILL mid-stream: every event reaches
 * every client exactly once and in order, with no resync (the history is in
 * Redis). Then Redis restarts with its data flushed: every client gets an
 * explicit epoch_changed resync, then the new events once and in order.
 * Prints the failover time (kill → every client it served is open again).
 */
import { expect } from 'chai';
import type { AgentEvent } from '../../machines/frames.ts';
import { createWsimClient, type WsimClient } from '../../src/client.ts';
import { Random } from '../../sim/random.ts';
import { poll, RedisServer } from '../../bench/redis-server.ts';
import { event } from '../serve/fixtures.ts';
import { killNode, LoadBalancer, SECRET, startNode, TOKEN, tokensFile, type Node } from './cluster-processes.ts';

const CLIENTS = 6;
const RUNS_BEFORE = 12;
const RUNS_AFTER = 4;
const RETRY_LIMIT = 400;

interface Watched {
  client: WsimClient;
  got: string[];
  resyncs: Array<{ reason: string; at: number }>;
  /** The connection dropped since the kill (then the failover waits for it). */
  dropped: boolean;
}

describe('cluster: three wsim serve --redis nodes, a SIGKILL and a flushed Redis', function () {
  this.timeout(90_000);
  const random = Random.seeded(16);
  let redis: RedisServer;
  let nodes: Node[] = [];
  let lb: LoadBalancer;
  const tokens = tokensFile();
  const watched: Watched[] = [];

  before(async () => {
    redis = await RedisServer.start();
    nodes = await Promise.all(['n1', 'n2', 'n3'].map((name) => startNode(redis.url, name, tokens.path)));
    lb = new LoadBalancer(() => nodes, () => random.next());
    await lb.listen();
  });

  after(async () => {
    for (const w of watched) w.client.stop();
    await lb?.close();
    await Promise.all(nodes.map(killNode));
    await redis?.stop();
    tokens.remove();
  });

  /** POST one event to a random live node until it is stored (the same body each time: idempotent). */
  async function publish(body: Record<string, unknown>): Promise<void> {
    for (let attempt = 0; attempt < RETRY_LIMIT; attempt++) {
      const live = nodes.filter((n) => n.alive);
      const node = live[Math.floor(random.next() * live.length)]!;
      const status = await fetch(`${node.url}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
        .then((r) => r.status)
        .catch(() => 0);
      if (status === 200) return;
      expect([0, 503], `publish answered ${status}`).to.include(status);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect.fail(`publish ${JSON.stringify(body)} not stored after ${RETRY_LIMIT} attempts`);
  }

  it('each node shows its store link on /healthz and /metrics', async () => {
    for (const node of nodes) {
      const health = (await (await fetch(`${node.url}/healthz`)).json()) as { status: string; store: { up: boolean; epoch: string } };
      expect(health).to.deep.include({ status: 'ok' });
      expect(health.store.up).to.equal(true);
      expect(health.store.epoch, 'one epoch for the cluster').to.equal(((await (await fetch(`${nodes[0]!.url}/healthz`)).json()) as typeof health).store.epoch);
      expect(await (await fetch(`${node.url}/metrics`)).text()).to.match(/^wsim_store_up 1$/m);
    }
  });

  it('exactly once and in order through a node kill; an explicit epoch_changed resync after a flush', async () => {
    for (let i = 0; i < CLIENTS; i++) {
      const w: Watched = { client: undefined as never, got: [], resyncs: [], dropped: false };
      w.client = createWsimClient({
        url: `ws://127.0.0.1:${lb.port}/ws`,
        token: TOKEN,
        threads: ['th1'],
        config: { backoffBaseMs: 20, backoffCapMs: 200 },
        onEvent: (e: AgentEvent) => void w.got.push(`${e.run}:${e.idx}`),
        onResync: (info) => void w.resyncs.push({ reason: info.reason, at: w.got.length }),
        onState: (state) => {
          if (state !== 'open') w.dropped = true;
        },
      }).start();
      watched.push(w);
    }
    await poll(() => watched.every((w) => w.client.state === 'open'), 'every client open');
    await new Promise((r) => setTimeout(r, 200)); // subscribed

    const published: string[] = [];
    const publishRun = async (run: string): Promise<void> => {
      for (let idx = 0; idx < 4; idx++) {
        await publish(event(run, idx));
        published.push(`${run}:${idx}`);
      }
    };
    for (let r = 0; r < RUNS_BEFORE / 2; r++) await publishRun(`a${r}`);

    // SIGKILL the node serving the most clients, mid-stream
    const victim = [...nodes].sort((a, b) => (lb.open.get(b.name) ?? 0) - (lb.open.get(a.name) ?? 0))[0]!;
    const served = lb.open.get(victim.name) ?? 0;
    for (const w of watched) w.dropped = false;
    const killedAt = Date.now();
    const failover = poll(() => watched.every((w) => w.client.state === 'open') && watched.filter((w) => w.dropped).length >= served, 'every client of the killed node open again').then(() => Date.now() - killedAt);
    const publishing = (async () => {
      for (let r = RUNS_BEFORE / 2; r < RUNS_BEFORE; r++) await publishRun(`a${r}`);
    })();
    await killNode(victim);
    const failoverMs = await failover.catch((e: Error) => {
      throw new Error(`${e.message}: states ${watched.map((w) => `${w.client.state}${w.dropped ? '*' : ''}`).join(',')} served ${served} open ${JSON.stringify([...lb.open])}`);
    });
    await publishing;
    await poll(() => watched.every((w) => w.got.length >= published.length), 'every event before the flush');
    console.log(`      failover: node ${victim.name} (${served} clients) killed → all resumed in ${failoverMs} ms`);
    expect(served).to.be.greaterThan(0);
    for (const w of watched) {
      expect(w.got, 'exactly once, in order, through the kill').to.deep.equal(published);
      expect(w.resyncs, 'no resync: the history is in Redis').to.deep.equal([]);
    }

    // Redis loses everything: the next epoch is explicit on every stream
    await redis.restart();
    const before = published.length;
    for (let r = 0; r < RUNS_AFTER; r++) await publishRun(`b${r}`);
    await poll(() => watched.every((w) => w.got.length >= published.length), 'every event after the flush');
    for (const w of watched) {
      expect(w.resyncs.map((r) => r.reason)).to.deep.equal(['epoch_changed']);
      expect(w.resyncs[0]!.at).to.equal(before);
      expect(w.got, 'after the resync: the new epoch once, in order').to.deep.equal(published);
    }
    // the other nodes lived through all of it (Redis lost included: they reconnect, they do not exit)
    expect(nodes.filter((n) => n.alive).map((n) => n.name)).to.deep.equal(nodes.filter((n) => n !== victim).map((n) => n.name));
  });
});
