import { expect } from 'chai';
import fc from 'fast-check';
import { SimBroker, type BrokerFact } from '../../sim/broker.ts';
import { scheduleBrokerFaults, type BrokerFault } from '../../sim/broker-faults.ts';
import { Random } from '../../sim/random.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { faultArb, opArb, params, readBack, type Op } from './broker-plan.ts';
import { describeContract } from './store-contract.ts';
import { scheduledHarness } from './scheduled-harness.ts';
import { eventOf, TestNode, type HarnessFactory } from './store-node.ts';


const brokerHarness = (seed: number): HarnessFactory => async (capacity) => {
  const scheduler = new Scheduler();
  const broker = new SimBroker({ scheduler, random: Random.seeded(seed).fork('broker'), capacity, latency: { minMs: 1, maxMs: 8 } });
  return scheduledHarness(scheduler, broker, {
    loseData: () => broker.restart({ keepData: false, downMs: 50 }),
    lossBreaksLinks: true,
    dropLinks: () => broker.restart({ keepData: true, downMs: 30 }),
  });
};

describeContract('simulated broker', brokerHarness(1), { links: true });

describe('sim/broker: faults of its own', () => {
  const stream = { tenant: 't', user: 'u', thread: 'th' };

  it('a node cut off the broker fails its commands and misses notices; after healing it reads what others appended meanwhile', async () => {
    const scheduler = new Scheduler();
    const broker = new SimBroker({ scheduler, random: Random.seeded(7).fork('broker'), capacity: 64, latency: { minMs: 2, maxMs: 6 } });
    const harness = scheduledHarness(scheduler, broker, { loseData: () => {}, lossBreaksLinks: false });
    const [a, cut] = [new TestNode('a', harness), new TestNode('cut', harness)];
    await a.ready();
    await cut.ready();
    const first = await a.append(eventOf(stream, 'r', 0));
    await harness.until(() => cut.appendNotices(stream).length === 1, 'cut notified before the cut');
    const inFlight = cut.send({ kind: 'append', event: eventOf(stream, 'r', 1) });
    broker.partition('cut');
    expect(await cut.answer(inFlight)).to.include({ kind: 'failed', reason: 'unavailable' });
    expect(cut.up).to.equal(false);
    expect(await cut.ask({ kind: 'epoch' })).to.include({ kind: 'failed', reason: 'unavailable' });
    const during = [await a.append(eventOf(stream, 'r', 2)), await a.append(eventOf(stream, 'r', 3))];
    await harness.until(() => a.appendNotices(stream).length === 3, 'a notified');
    expect(cut.appendNotices(stream), 'notices reached a partitioned node').to.deep.equal([first.seq]);
    broker.heal('cut');
    await cut.ready();
    const read = await cut.read(stream, 1, 10);
    expect(read.entries.map((e) => e.event.idx)).to.deep.equal([0, 2, 3]);
    expect(during.map((r) => r.seq)).to.deep.equal([2, 3]);
  });

  it('reports its faults and every link change to the world (for the trace), in order', async () => {
    const scheduler = new Scheduler();
    const facts: string[] = [];
    const observe = (f: BrokerFact): number => facts.push(`${scheduler.now.toFixed(1)} ${JSON.stringify(f)}`);
    const broker = new SimBroker({ scheduler, random: Random.seeded(5).fork('broker'), capacity: 8, latency: { minMs: 1, maxMs: 3 }, observe });
    const harness = scheduledHarness(scheduler, broker, { loseData: () => {}, lossBreaksLinks: false });
    const a = new TestNode('a', harness);
    await a.ready();
    scheduleBrokerFaults(scheduler, broker, [
      { kind: 'partition', node: 'a', at: 10, forMs: 5 },
      { kind: 'restart', at: 30, forMs: 10, keepData: false },
    ]);
    await harness.until(() => scheduler.size === 0, 'faults played');
    expect(facts.map((f) => f.replace(/^[\d.]+ /, ''))).to.deep.equal([
      '{"kind":"link","node":"a","up":true}',
      '{"kind":"partition","node":"a"}',
      '{"kind":"link","node":"a","up":false}',
      '{"kind":"heal","node":"a"}',
      '{"kind":"link","node":"a","up":true}',
      '{"kind":"restart","keepData":false}',
      '{"kind":"link","node":"a","up":false}',
      '{"kind":"restarted"}',
      '{"kind":"link","node":"a","up":true}',
    ]);
  });

  it('restarting with its data keeps the epoch; without it, a new one', async () => {
    const scheduler = new Scheduler();
    const broker = new SimBroker({ scheduler, random: Random.seeded(3).fork('broker'), capacity: 64, latency: { minMs: 1, maxMs: 3 } });
    const harness = scheduledHarness(scheduler, broker, { loseData: () => {}, lossBreaksLinks: false });
    const a = new TestNode('a', harness);
    const epoch = await a.epoch();
    broker.restart({ keepData: true, downMs: 100 });
    expect(broker.isRunning).to.equal(false);
    await harness.until(() => a.downs === 1 && a.up, 'back');
    expect(scheduler.now).to.be.at.least(100);
    expect(await a.epoch()).to.equal(epoch);
    broker.restart({ keepData: false, downMs: 100 });
    await harness.until(() => a.downs === 2 && a.up, 'back again');
    expect(await a.epoch()).to.not.equal(epoch);
  });

  it('a restart during a restart: the broker is back at the later one\'s end', async () => {
    const scheduler = new Scheduler();
    const broker = new SimBroker({ scheduler, random: Random.seeded(4).fork('broker'), capacity: 8, latency: { minMs: 1, maxMs: 1 } });
    broker.restart({ keepData: true, downMs: 50 });
    scheduler.at(20, 'again', () => broker.restart({ keepData: true, downMs: 100 }));
    scheduler.runUntil(60);
    expect(broker.isRunning, 'back at the first restart\'s end').to.equal(false);
    scheduler.runUntil(120);
    expect(broker.isRunning).to.equal(true);
  });

  it('property: under latency, partitions and restarts, nodes that retry failed appends store each event once, in one gap-free sequence; same seed, same timeline', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(opArb(400), { minLength: 1, maxLength: 40 }), fc.array(faultArb(400), { maxLength: 4 }), (seed, ops, faults) => {
        const first = retryingWorld(seed, ops, faults);
        const all = ops.map((_, i) => i);
        expect(first.seqs, 'seqs of the stream').to.deep.equal(all.map((i) => i + 1));
        expect([...first.idxs].sort((x, y) => x - y), 'events stored (each once)').to.deep.equal(all);
        for (const seqs of first.notified) expect(seqs, 'notices out of order or repeated').to.deep.equal([...new Set(seqs)].sort((x, y) => x - y));
        expect(retryingWorld(seed, ops, faults).timeline, 'same seed, same timeline').to.deep.equal(first.timeline);
      }),
      params(25),
    );
  });
});

/**
 * Three nodes append ops[i] = (run 'r', idx i) at its time, retrying every
 * failure 10 ms later, under the faults. Returns the stream as read back at the end
 * (seqs, and the idx stored at each), every node's notices, and the timeline
 * of everything the nodes heard.
 */
function retryingWorld(seed: number, ops: Op[], faults: BrokerFault[]): { seqs: number[]; idxs: number[]; notified: number[][]; timeline: string[] } {
  const scheduler = new Scheduler();
  const broker = new SimBroker({ scheduler, random: Random.seeded(seed).fork('broker'), capacity: 1000, latency: { minMs: 1, maxMs: 12 } });
  const stream = { tenant: 't', user: 'u', thread: 'th' };
  const timeline: string[] = [];
  const notified: number[][] = [[], [], []];
  let req = 0;
  const links = [0, 1, 2].map((n) => {
    const appending = new Map<number, number>(); // req → op index
    const link = broker.connect(`n${n}`, {
      reply: (r) => {
        timeline.push(`${scheduler.now} n${n} ${r.kind} ${r.kind === 'appended' ? r.seq : ''}`);
        const i = appending.get(r.req)!;
        appending.delete(r.req);
        if (r.kind === 'failed') scheduler.after(10, 'retry', () => append(i));
      },
      notice: (x) => {
        timeline.push(`${scheduler.now} n${n} notice ${x.kind} ${x.kind === 'appended' ? x.seq : ''}`);
        if (x.kind === 'appended') notified[n]!.push(x.seq);
      },
    });
    const append = (i: number): void => {
      appending.set(++req, i);
      link.send({ kind: 'append', req, event: eventOf(stream, 'r', i) });
    };
    return append;
  });
  ops.forEach((op, i) => scheduler.at(op.at, 'op', () => links[op.node]!(i)));
  scheduleBrokerFaults(scheduler, broker, faults);
  const settled = scheduler.runUntilSettled({ maxSteps: 100_000 });
  if (!settled.ok) throw new Error(settled.error.message);
  const entries = readBack(scheduler, broker, stream);
  return { seqs: entries.map((e) => e.seq), idxs: entries.map((e) => e.event.idx), notified, timeline };
}
