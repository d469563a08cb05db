import { expect } from 'chai';
import { createClient } from 'redis';
import { streamKey } from '../../machines/replay-log.ts';
import { StoreMirror } from '../../machines/store-mirror.ts';
import type { StreamName } from '../../machines/store.ts';
import { RedisStore } from '../../transport/redis-store.ts';
import { poll, RedisServer } from '../../bench/redis-server.ts';
import { eventOf } from './store-node.ts';


const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

describe('store mirror on Redis (three nodes, one redis-server)', () => {
  let server: RedisServer;
  const mirrors: StoreMirror[] = [];
  const epochChanges: string[][] = [[], [], []];
  const stream: StreamName = { tenant: 'acme', user: 'ada', thread: 'th1' };
  const key = streamKey('acme', 'ada', 'th1');

  before(async () => {
    server = await RedisServer.start();
    const store = new RedisStore({ url: server.url, capacity: 10_000, reconnect: { minMs: 10, maxMs: 100 } });
    for (let n = 0; n < 3; n++) {
      mirrors.push(new StoreMirror(store, `node${n}`, { loaded() {}, grew() {}, link() {}, epochChanged: (epoch, previous) => epochChanges[n]!.push(`${previous}→${epoch}`) }));
    }
    await poll(() => mirrors.every((m) => m.up), 'links up');
    for (const m of mirrors) m.open(stream);
    await poll(() => mirrors.every((m) => m.isLoaded(key)), 'loaded');
  });

  after(async () => {
    for (const m of mirrors) m.close();
    await server.stop();
  });

  it('appends from every node at once reach every mirror once, in one order (measured)', async () => {
    const perNode = 500;
    const total = 3 * perNode;
    const sentAt = new Map<number, number>();
    const replied: number[] = [];
    const started = performance.now();
    for (let i = 0; i < perNode; i++) {
      for (let n = 0; n < 3; n++) {
        const idx = i * 3 + n;
        sentAt.set(idx, performance.now());
        mirrors[n]!.publish(eventOf(stream, 'r', idx), (reply) => {
          expect(reply.kind, JSON.stringify(reply)).to.equal('appended');
          replied.push(performance.now() - sentAt.get(idx)!);
        });
      }
    }
    await poll(() => replied.length === total, 'every append answered');
    const appendMs = performance.now() - started;
    await poll(() => mirrors.every((m) => m.log(key)!.head === total), 'every mirror caught up');
    const mirroredMs = performance.now() - started;
    const logs = mirrors.map((m) => m.log(key)!);
    const order = (n: number): number[] => Array.from({ length: total }, (_, i) => logs[n]!.get(i + 1)!.event.idx);
    expect(order(1)).to.deep.equal(order(0));
    expect(order(2)).to.deep.equal(order(0));
    expect([...order(0)].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: total }, (_, i) => i));
    const sorted = replied.sort((x, y) => x - y);
    console.log(
      `      [redis store] ${total} appends from 3 nodes: ${Math.round((total / appendMs) * 1000)} appends/s; append p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms; all 3 mirrors caught up after ${mirroredMs.toFixed(0)} ms`,
    );
  });

  it('a flushed Redis: every node hears one epoch change and its mirror restarts at 1', async () => {
    const flusher = createClient({ url: server.url });
    await flusher.connect();
    await flusher.flushAll();
    flusher.destroy();
    mirrors[0]!.publish(eventOf(stream, 'after', 0), () => {});
    await poll(() => epochChanges.every((c) => c.length === 1), 'every node told');
    await poll(() => mirrors.every((m) => m.log(key)!.head === 1), 'mirrors restart at 1');
    expect(mirrors.map((m) => m.log(key)!.get(1)!.event.run)).to.deep.equal(['after', 'after', 'after']);
  });
});
