import { expect } from 'chai';
import fc from 'fast-check';
import { StoreMirror } from '../../machines/store-mirror.ts';
import { ReplayLog, streamKey } from '../../machines/replay-log.ts';
import type { StreamName } from '../../machines/store.ts';
import type { LogView } from '../../machines/log-view.ts';
import { MemoryStore } from '../../machines/memory-store.ts';
import { SimBroker } from '../../sim/broker.ts';
import { scheduleBrokerFaults } from '../../sim/broker-faults.ts';
import { Random } from '../../sim/random.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { faultArb, NODES, opArb, params, readBack } from './broker-plan.ts';
import { tampered } from './broken-stores.ts';
import { eventOf } from './store-node.ts';

const stream: StreamName = { tenant: 't', user: 'u', thread: 'th' };
const key = streamKey('t', 'u', 'th');

interface Node {
  mirror: StoreMirror;
  loaded: number;
  grew: number;
  epochChanges: string[];
}

function world(seed: number, capacity = 64): { scheduler: Scheduler; broker: SimBroker; node(name: string): Node; run(done: () => boolean, what: string): void } {
  const scheduler = new Scheduler();
  const broker = new SimBroker({ scheduler, random: Random.seeded(seed).fork('broker'), capacity, latency: { minMs: 1, maxMs: 8 } });
  return {
    scheduler,
    broker,
    node(name) {
      const node: Node = { mirror: undefined as never, loaded: 0, grew: 0, epochChanges: [] };
      node.mirror = new StoreMirror(broker, name, {
        loaded: () => node.loaded++,
        grew: () => node.grew++,
        epochChanged: (epoch, previous) => node.epochChanges.push(`${previous}→${epoch}`),
        link: () => {},
      });
      return node;
    },
    run(done, what) {
      const result = scheduler.runUntilSettled({ maxSteps: 200_000, settled: done });
      if (!result.ok) throw new Error(`${what}: ${result.error.message}`);
      if (!done()) throw new Error(`${what}: idle at t=${scheduler.now} without it`);
    },
  };
}

const held = (node: Node): string[] => {
  const log = node.mirror.log(key)!;
  const out: string[] = [];
  for (let seq = log.start; seq <= log.head; seq++) out.push(`${seq}:${log.get(seq)!.event.payload}`);
  return out;
};

/** Publish with retries on failure (10 ms later), as a producer behind the HTTP API would. */
function publisher(w: ReturnType<typeof world>, node: Node): (idx: number, run?: string) => void {
  const publish = (idx: number, run = 'r'): void =>
    node.mirror.publish(eventOf(stream, run, idx), (reply) => {
      if (reply.kind === 'failed') w.scheduler.after(10, 'retry', () => publish(idx, run));
    });
  return publish;
}

/** Two nodes up, both serving the stream, loaded. */
function twoServing(w: ReturnType<typeof world>): [Node, Node] {
  const [a, b] = [w.node('a'), w.node('b')];
  w.run(() => a.mirror.up && b.mirror.up, 'links up');
  a.mirror.open(stream);
  b.mirror.open(stream);
  w.run(() => a.loaded === 1 && b.loaded === 1, 'loaded');
  return [a, b];
}

describe('machines/replay-log filled from the store (put)', () => {
  it('filled by put in order, it is the same view as a ReplayLog appended to (a drop-in for sessions)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 40 }), (capacity, appends) => {
        const views: [LogView, LogView] = [new ReplayLog(capacity), new ReplayLog(capacity)];
        const [replay, mirrored] = views as [ReplayLog, ReplayLog];
        for (let i = 0; i < appends; i++) {
          const event = eventOf(stream, 'r', i);
          replay.append(event);
          expect(mirrored.put(i + 1, event)).to.equal(true);
        }
        const shape = (v: LogView): unknown => [v.start, v.head, v.size, v.bytes(), [0, 1, v.start, v.head, v.head + 1].map((q) => v.get(q)?.event.idx)];
        expect(shape(mirrored)).to.deep.equal(shape(replay));
        expect(mirrored.put(mirrored.head, eventOf(stream, 'again', 0)), 'a seq already held is kept').to.equal(false);
      }),
      params(50),
    );
  });

  it('past a gap it continues at the seq given; restartAt empties it', () => {
    const log = new ReplayLog(4);
    log.put(1, eventOf(stream, 'r', 0));
    log.put(9, eventOf(stream, 'r', 8));
    expect([log.start, log.head, log.get(1), log.get(9)?.event.idx]).to.deep.equal([9, 9, undefined, 8]);
    log.restartAt(1);
    expect([log.start, log.head, log.size]).to.deep.equal([1, 0, 0]);
  });
});

describe('machines/store-mirror on the simulated broker', () => {
  it('every node that serves a stream mirrors it as the store holds it; its own appends need no read', () => {
    const w = world(1);
    const [a, b] = twoServing(w);
    const publish = publisher(w, a);
    for (let i = 0; i < 30; i++) publish(i);
    w.run(() => a.mirror.log(key)!.head === 30 && b.mirror.log(key)!.head === 30, 'both caught up');
    expect(held(b)).to.deep.equal(held(a));
    expect(held(a)).to.deep.equal(Array.from({ length: 30 }, (_, i) => `${i + 1}:r#${i}`));
    expect(a.grew).to.be.greaterThan(0);
    expect(b.grew).to.be.greaterThan(0);
  });

  it('a node that opens a stream late loads the window the store still holds', () => {
    const w = world(2, 8);
    const a = w.node('a');
    const publish = publisher(w, a);
    w.run(() => a.mirror.up, 'up');
    for (let i = 0; i < 20; i++) publish(i);
    w.run(() => w.scheduler.size === 0, 'published');
    const late = w.node('late');
    w.run(() => late.mirror.up, 'late up');
    const log = late.mirror.open(stream);
    w.run(() => late.loaded === 1, 'late loaded');
    expect([log.start, log.head, log.get(13)?.event.idx]).to.deep.equal([13, 20, 12]);
  });

  it('a node cut off the broker catches up when it heals, with no notice to prompt it', () => {
    const w = world(3);
    const [a, b] = twoServing(w);
    w.broker.partition('b');
    const publish = publisher(w, a);
    for (let i = 0; i < 10; i++) publish(i);
    w.run(() => a.mirror.log(key)!.head === 10, 'a has them');
    expect(b.mirror.log(key)!.head).to.equal(0);
    w.broker.heal('b');
    w.run(() => b.mirror.log(key)!.head === 10, 'b caught up');
    expect(held(b)).to.deep.equal(held(a));
  });

  it('a broker that lost its data: every node hears one epoch change, its mirrors restart at 1', () => {
    const w = world(4);
    const [a, b] = twoServing(w);
    const publish = publisher(w, a);
    for (let i = 0; i < 5; i++) publish(i);
    w.run(() => b.mirror.log(key)?.head === 5, 'b has them');
    const before = a.mirror.epoch;
    w.broker.restart({ keepData: false, downMs: 40 });
    w.run(() => a.epochChanges.length === 1 && b.epochChanges.length === 1, 'both told');
    expect(a.epochChanges[0]).to.match(new RegExp(`^${before!.replace('.', '\\.')}→`));
    expect(b.epochChanges).to.deep.equal(a.epochChanges);
    publish(0, 'after');
    w.run(() => b.mirror.log(key)?.head === 1 && a.mirror.log(key)?.head === 1, 'the new epoch streams');
    expect(held(b)).to.deep.equal(['1:after#0']);
    w.run(() => w.scheduler.size === 0, 'quiet');
    expect([a.epochChanges.length, b.epochChanges.length]).to.deep.equal([1, 1]);
  });

  it('a read that fails while the link stays up is asked again by refresh, and only then', () => {
    const scheduler = new Scheduler();
    const inner = new MemoryStore({ capacity: 16, newEpoch: () => 'e1', defer: (fn) => scheduler.after(1, 'store', fn) });
    let failReads = 1;
    const store = tampered(inner, {
      reply: (r) => (r.kind === 'read' && failReads-- > 0 ? { kind: 'failed', req: r.req, reason: 'timeout', message: 'no answer in time' } : r),
    });
    let loaded = 0;
    const mirror = new StoreMirror(store, 'a', { loaded: () => loaded++, grew() {}, epochChanged() {}, link() {} });
    scheduler.runUntilSettled({ maxSteps: 100 });
    mirror.open(stream);
    scheduler.runUntilSettled({ maxSteps: 100 });
    expect(loaded, 'loaded although its read failed').to.equal(0);
    mirror.refresh();
    scheduler.runUntilSettled({ maxSteps: 100 });
    expect(loaded).to.equal(1);
  });

  it('property: under partitions and restarts that keep the data, every mirror ends equal to the store', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 4, max: 64 }), fc.array(opArb(300), { minLength: 1, maxLength: 50 }), fc.array(faultArb(300), { maxLength: 4 }), (seed, capacity, ops, faults) => {
        const w = world(seed, capacity);
        const nodes = Array.from({ length: NODES }, (_, n) => w.node(`n${n}`));
        nodes.forEach((node, n) => w.scheduler.at(n * 7, 'open', () => node.mirror.open(stream)));
        const publishers = nodes.map((node) => publisher(w, node));
        ops.forEach((o, i) => w.scheduler.at(o.at, 'publish', () => publishers[o.node]!(i)));
        scheduleBrokerFaults(w.scheduler, w.broker, faults);
        w.run(() => w.scheduler.size === 0, 'settled');
        const truth = readBack(w.scheduler, w.broker, stream);
        const expected = truth.map((e) => `${e.seq}:${e.event.payload}`);
        // idempotency lasts as long as the window (the store contract): a retry whose first copy was
        // already capped is stored again, so "once" is exact only when nothing was capped
        const payloads = truth.map((e) => e.event.payload);
        expect(new Set(payloads).size, 'a publish twice within the window').to.equal(payloads.length);
        if (capacity >= ops.length) expect(truth.at(-1)?.seq, 'every publish stored once').to.equal(ops.length);
        else expect(truth.at(-1)!.seq, 'every publish stored').to.be.at.least(ops.length);
        for (const node of nodes) {
          expect(held(node), 'a mirror differs from the store').to.deep.equal(expected);
          expect(node.epochChanges).to.deep.equal([]);
        }
      }),
      params(40),
    );
  });
});
