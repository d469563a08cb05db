/**
 * The store's contract as checks, run against every implementation (memory,
 * simulated broker, Redis): this is how the simulator's broker is kept honest
 * with the Redis that ships. Each check makes its own store, throws on the
 * first violation, and closes what it made; `store-teeth.spec.ts` proves each
 * one fails against a store broken in the way it guards.
 */
import { expect } from 'chai';
import { beyondWindow, type AppendedReply, type StreamName } from '../../machines/store.ts';
import { eventOf, TestNode, type HarnessFactory, type StoreHarness } from './store-node.ts';

export interface ContractCheck {
  title: string;
  run: (make: HarnessFactory) => Promise<void>;
}

const check = (title: string, run: ContractCheck['run']): ContractCheck => ({ title, run });

/** Room for every check but the cap's. */
const ROOMY = 64;
const SMALL = 8;

const streamA: StreamName = { tenant: 'acme', user: 'ada', thread: 'th1' };
/** Same user and thread ids in another tenant: another stream. */
const streamB: StreamName = { tenant: 'globex', user: 'ada', thread: 'th1' };

async function withStore(make: HarnessFactory, capacity: number, body: (h: StoreHarness, nodes: TestNode[]) => Promise<void>, nodeCount = 3): Promise<void> {
  const harness = await make(capacity);
  const nodes = Array.from({ length: nodeCount }, (_, i) => new TestNode(`node${i}`, harness));
  try {
    for (const node of nodes) await node.ready();
    await body(harness, nodes);
    for (const node of nodes) {
      expect(node.extraReplies, `${node.name} got a second reply to a request`).to.equal(0);
      expect(node.reentrant, `${node.name} was called back from inside its own send`).to.equal(0);
    }
  } finally {
    for (const node of nodes) node.close();
    await harness.close();
  }
}

const seqs = (replies: AppendedReply[]): number[] => replies.map((r) => r.seq);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export const contract: Record<string, ContractCheck> = {
  numbering: check('a stream numbers its entries 1, 2, 3... and streams are keyed tenant first', (make) =>
    withStore(make, ROOMY, async (_h, [a]) => {
      const inA: AppendedReply[] = [];
      for (let i = 0; i < 3; i++) inA.push(await a!.append(eventOf(streamA, 'r1', i)));
      const inB = [await a!.append(eventOf(streamB, 'r1', 0)), await a!.append(eventOf(streamB, 'r1', 1))];
      expect(seqs(inA)).to.deep.equal([1, 2, 3]);
      expect(seqs(inB)).to.deep.equal([1, 2]);
      expect(inA.every((r) => !r.duplicate && r.epoch === inA[0]!.epoch)).to.equal(true);
      const read = await a!.read(streamA, 1, 10);
      expect([read.start, read.head]).to.deep.equal([1, 3]);
      expect(read.entries.map((e) => [e.seq, e.event.idx, e.event.tenant])).to.deep.equal([[1, 0, 'acme'], [2, 1, 'acme'], [3, 2, 'acme']]);
      const empty = await a!.read({ tenant: 'acme', user: 'bob', thread: 'th1' }, 1, 10);
      expect([empty.start, empty.head, empty.entries.length]).to.deep.equal([1, 0, 0]);
    })),

  atomicSequence: check('concurrent appends from several nodes get one sequence: no gap, no repeat, each node in its order', (make) =>
    withStore(make, ROOMY, async (h, nodes) => {
      const perNode = 15;
      const sent = nodes.map((node) => range(0, perNode - 1).map((i) => node.send({ kind: 'append', event: eventOf(streamA, node.name, i) })));
      const replies = await Promise.all(nodes.map((node, n) => Promise.all(sent[n]!.map((req) => node.answer(req)))));
      const appended = replies.flat().map((r) => r as AppendedReply);
      expect(appended.map((r) => r.kind)).to.deep.equal(appended.map(() => 'appended'));
      expect(seqs(appended).sort((x, y) => x - y)).to.deep.equal(range(1, nodes.length * perNode));
      for (const own of replies) expect(seqs(own as AppendedReply[]), 'a node saw its own appends reordered').to.deep.equal(seqs(own as AppendedReply[]).sort((x, y) => x - y));
      const read = await nodes[0]!.read(streamA, 1, 1000);
      const bySeq = new Map(appended.map((r, i) => [r.seq, nodes[Math.floor(i / perNode)]!.name + '#' + (i % perNode)]));
      expect(read.entries.map((e) => `${e.event.run}#${e.event.idx}`)).to.deep.equal(read.entries.map((e) => bySeq.get(e.seq)));
      const total = nodes.length * perNode;
      await h.until(() => nodes.every((n) => n.appendNotices(streamA).length === total), 'every node notified of every append');
      for (const node of nodes) expect(node.appendNotices(streamA), `${node.name}'s notices`).to.deep.equal(range(1, total));
    })),

  idempotence: check('an append is idempotent on (run, idx) across nodes: same seq, nothing appended', (make) =>
    withStore(make, ROOMY, async (_h, [a, b, c]) => {
      const first = await a!.append(eventOf(streamA, 'r1', 0));
      const again = await b!.append(eventOf(streamA, 'r1', 0, 'a retry with other content'));
      expect([again.seq, again.duplicate, first.duplicate]).to.deep.equal([first.seq, true, false]);
      const racing = [a!, b!, c!].map((n) => n.send({ kind: 'append', event: eventOf(streamA, 'r1', 1) }));
      const raced = (await Promise.all(racing.map((req, i) => [a!, b!, c!][i]!.answer(req)))) as AppendedReply[];
      expect(new Set(seqs(raced)).size, 'racing retries got different seqs').to.equal(1);
      expect(raced.filter((r) => !r.duplicate).length, 'exactly one racing retry appends').to.equal(1);
      const read = await c!.read(streamA, 1, 10);
      expect(read.head).to.equal(2);
      expect(read.entries.map((e) => e.event.payload)).to.deep.equal(['r1#0', 'r1#1']);
    })),

  cap: check('a log keeps its last `capacity` entries; a read before its start is beyond the window', (make) =>
    withStore(make, SMALL, async (_h, [a]) => {
      for (let i = 0; i < 20; i++) await a!.append(eventOf(streamA, 'r1', i));
      const all = await a!.read(streamA, 1, 100);
      expect([all.start, all.head, beyondWindow(all, 1)]).to.deep.equal([13, 20, true]);
      expect(all.entries.map((e) => e.seq)).to.deep.equal(range(13, 20));
      const some = await a!.read(streamA, 15, 3);
      expect([some.entries.map((e) => e.seq), beyondWindow(some, 15)]).to.deep.equal([[15, 16, 17], false]);
      expect((await a!.read(streamA, 21, 5)).entries).to.deep.equal([]);
      expect((await a!.read(streamA, 13, 0)).entries).to.deep.equal([]);
      const held = await a!.append(eventOf(streamA, 'r1', 19));
      expect([held.seq, held.duplicate]).to.deep.equal([20, true]);
      // idempotency is remembered exactly as long as the window, which bounds the store
      const forgotten = await a!.append(eventOf(streamA, 'r1', 0));
      expect([forgotten.seq, forgotten.duplicate]).to.deep.equal([21, false]);
    })),

  notification: check('a notification reaches every node after the append: a read on it sees the entry', (make) =>
    withStore(make, ROOMY, async (h, nodes) => {
      const seen = new Map<string, number>();
      const reply = await nodes[1]!.append(eventOf(streamA, 'r9', 0));
      await h.until(() => nodes.every((n) => n.appendNotices(streamA).includes(reply.seq)), 'every node notified');
      for (const node of nodes) {
        const notice = node.notices.find((n) => n.kind === 'appended');
        expect(notice, `${node.name}'s notice`).to.deep.include({ stream: streamA, epoch: reply.epoch, seq: reply.seq });
        const read = await node.read(streamA, reply.seq, 1);
        seen.set(node.name, read.entries[0]?.seq ?? 0);
      }
      expect([...seen.values()]).to.deep.equal(nodes.map(() => reply.seq));
      expect(nodes.every((n) => n.appendNotices(streamB).length === 0), 'a notice for another stream').to.equal(true);
    })),

  replies: check('every command gets exactly one reply, never from inside send, in the order sent; a bad position is a typed error', (make) =>
    withStore(make, ROOMY, async (_h, [a]) => {
      const sent = range(0, 29).map((i) =>
        i % 3 === 0 ? a!.send({ kind: 'append', event: eventOf(streamA, 'r1', i) }) : i % 3 === 1 ? a!.send({ kind: 'read', stream: streamA, from: 1, max: 5 }) : a!.send({ kind: 'epoch' }),
      );
      const bad = a!.send({ kind: 'read', stream: streamA, from: 0, max: 5 });
      const answer = await a!.answer(bad);
      expect(answer).to.include({ kind: 'failed', reason: 'error' });
      expect(a!.order).to.deep.equal([...sent, bad]);
    })),

  dataLoss: check('losing its data puts the store in a new epoch, announced to every node; streams start again', (make) =>
    withStore(make, ROOMY, async (h, [a, b]) => {
      for (let i = 0; i < 5; i++) await a!.append(eventOf(streamA, 'r1', i));
      const before = await a!.epoch();
      await h.loseData();
      if (h.lossBreaksLinks) await h.until(() => a!.downs > 0 && b!.downs > 0 && a!.up && b!.up, 'links back after the loss');
      const after = await a!.epoch();
      expect(after, 'epoch after the loss').to.not.equal(before);
      await h.until(() => b!.notices.some((n) => n.kind === 'epoch' && n.epoch === after), 'the other node told of the new epoch');
      const read = await b!.read(streamA, 1, 10);
      expect([read.epoch, read.start, read.head, read.entries.length]).to.deep.equal([after, 1, 0, 0]);
      const again = await b!.append(eventOf(streamA, 'r1', 0));
      expect([again.epoch, again.seq, again.duplicate]).to.deep.equal([after, 1, false]);
    }, 2)),
};

/** Only where the store's links can break without losing data. */
export const linkContract: Record<string, ContractCheck> = {
  brokenLink: check('a broken link fails what was under way, comes back up, and loses nothing stored', (make) =>
    withStore(make, ROOMY, async (h, [a, b]) => {
      for (let i = 0; i < 3; i++) await a!.append(eventOf(streamA, 'r1', i));
      const epoch = await a!.epoch();
      const during = range(3, 9).map((i) => a!.send({ kind: 'append', event: eventOf(streamA, 'r1', i) }));
      await h.dropLinks!();
      const outcomes = await Promise.all(during.map((req) => a!.answer(req)));
      await h.until(() => a!.downs > 0 && b!.downs > 0 && a!.up && b!.up, 'links back');
      // a failed append's fate is unknown: the node retries it, and idempotency keeps it single
      for (let i = 3; i < 10; i++) if (outcomes[i - 3]!.kind === 'failed') await a!.append(eventOf(streamA, 'r1', i));
      const read = await b!.read(streamA, 1, 100);
      expect([read.epoch, await b!.epoch()]).to.deep.equal([epoch, epoch]);
      expect(read.entries.map((e) => e.event.idx)).to.deep.equal(range(0, 9));
      const later = await a!.append(eventOf(streamA, 'r2', 0));
      await h.until(() => b!.appendNotices(streamA).includes(later.seq), 'notices flow again after the link came back');
    }, 2)),
};

/** Register every check as a mocha test against one implementation. */
export function describeContract(name: string, make: HarnessFactory, options: { links: boolean }): void {
  describe(`store contract: ${name}`, () => {
    for (const { title, run } of Object.values(contract)) it(title, () => run(make));
    if (options.links) for (const { title, run } of Object.values(linkContract)) it(title, () => run(make));
  });
}
