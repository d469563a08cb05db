/**
 * The hub on the store (a clustered node), machines only: two hubs share one
 * embedded `MemoryStore` (the same contract as Redis and the simulated
 * broker). A client subscribed on one node hears what is published on the
 * other, resumes on the other without a resync, and a store that lost its
 * data makes every stream resync explicitly with `epoch_changed`.
 */
import { expect } from 'chai';
import { createActor } from 'xstate';
import type { ClientFrame, ServerFrame } from '../../machines/frames.ts';
import { hubMachine, type HubRef } from '../../machines/hub.ts';
import { Directory } from '../../machines/identity.ts';
import { MemoryStore } from '../../machines/memory-store.ts';
import type { AppendedReply, FailedReply, Store, StoreLink, StoreListener } from '../../machines/store.ts';

import { FakeLinks, FakeSessionPort, producedEvent } from '../machines/model-coverage.ts';
import { poll } from '../../bench/redis-server.ts';
import { epochCounter } from '../store/scheduled-harness.ts';

const TOKEN = 'tok';

function node(store: Store, name: string, storeGraceMs?: number): HubRef {
  const directory = new Directory();
  directory.add(TOKEN, { tenant: 'acme', user: 'u1', role: 'admin', threads: '*' });
  return createActor(LINKS.hub(), { input: { epoch: 'unused', directory, store, node: name, sessionConfig: { reapAfterMs: 100_000 }, ...(storeGraceMs ? { storeGraceMs } : {}) } }).start();
}

/** A store whose links the test can report down and up (as a Redis that went away would). */
class FlakyStore implements Store {
  private readonly listeners: StoreListener[] = [];
  constructor(private readonly inner: Store) {}
  get capacity(): number {
    return this.inner.capacity;
  }
  connect(name: string, listener: StoreListener): StoreLink {
    this.listeners.push(listener);
    return this.inner.connect(name, listener);
  }
  link(up: boolean): void {
    for (const l of this.listeners) setImmediate(() => l.notice({ kind: 'link', up }));
  }
}

/** The nodes' links (a fake endpoint: one port per link). */
const LINKS = new FakeLinks();
let links = 0;

/** A client of one node: its port and the frames it sent. */
class Client {
  readonly port: FakeSessionPort;
  constructor(private readonly hub: HubRef) {
    const link = LINKS.connect(hub, `l${++links}`);
    this.port = link.port;
    this.send = link.send;
    this.send({ v: 1, type: 'hello', token: TOKEN } as ClientFrame);
  }
  send: (frame: ClientFrame) => void;
  frames(): ServerFrame[] {
    return this.port.frames();
  }
  seqs(thread = 't1'): number[] {
    return this.frames().flatMap((f) => (f.type === 'event' && f.thread === thread ? [f.seq] : []));
  }
  of(type: ServerFrame['type']): ServerFrame[] {
    return this.frames().filter((f) => f.type === type);
  }
}

const ready = (hub: HubRef): Promise<void> => poll(() => hub.getSnapshot().context.epoch !== '', 'the node heard the store epoch');

async function publish(hub: HubRef, idx: number): Promise<AppendedReply | FailedReply> {
  let answer: AppendedReply | FailedReply | undefined;
  hub.send({ type: 'PUBLISH', event: producedEvent('acme', 'u1', 't1', idx, 'tool_completed'), done: (r) => (answer = r) });
  await poll(() => answer !== undefined, `publish ${idx} answered`);
  return answer!;
}

describe('cluster: the hub on the store (two nodes, one MemoryStore)', () => {
  let store: MemoryStore;
  let hubs: HubRef[];
  beforeEach(async () => {
    store = new MemoryStore({ capacity: 100, newEpoch: epochCounter('E'), defer: (fn) => setImmediate(fn) });
    hubs = [node(store, 'a'), node(store, 'b')];
    await Promise.all(hubs.map(ready));
  });
  afterEach(() => hubs.forEach((h) => h.stop()));

  it('refuses connections with 1013 until the node knows the store epoch', () => {
    const fresh = node(store, 'c');
    const client = new Client(fresh);
    expect(client.port.closes).to.deep.equal([{ code: 1013, reason: 'store not ready' }]);
    fresh.stop();
  });

  it('both nodes share the store epoch, and answer publishes with the store seq', async () => {
    expect(hubs[0]!.getSnapshot().context.epoch).to.equal('E1').and.equal(hubs[1]!.getSnapshot().context.epoch);
    const seqs = [];
    for (let i = 0; i < 4; i++) seqs.push(await publish(hubs[i % 2]!, i));
    expect(seqs.map((r) => (r.kind === 'appended' ? r.seq : -1))).to.deep.equal([1, 2, 3, 4]);
    const again = await publish(hubs[1]!, 0);
    expect(again).to.include({ kind: 'appended', seq: 1, duplicate: true });
  });

  it('a subscriber on node b gets what is published on node a, once and in order', async () => {
    const client = new Client(hubs[1]!);
    client.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 } as ClientFrame);
    await poll(() => client.of('subscribed').length === 1, 'subscribed');
    for (let i = 0; i < 5; i++) await publish(hubs[0]!, i);
    await poll(() => client.seqs().length >= 5, 'five events on b');
    expect(client.seqs()).to.deep.equal([1, 2, 3, 4, 5]);
    expect(client.of('resync_required')).to.deep.equal([]);
  });

  it('holds the subscribe answer until the stream is loaded, then serves the history', async () => {
    for (let i = 0; i < 3; i++) await publish(hubs[0]!, i);
    const client = new Client(hubs[1]!);
    client.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 } as ClientFrame);
    // nothing answered synchronously: the mirror reads the store first
    expect(client.of('subscribed')).to.have.length(0);
    await poll(() => client.seqs().length >= 3, 'history on b');
    expect(client.of('subscribed')).to.have.length(1);
    expect(client.seqs()).to.deep.equal([1, 2, 3]);
  });

  it('a client resumes on the other node with no resync (the history is in the store)', async () => {
    const first = new Client(hubs[0]!);
    first.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 } as ClientFrame);
    for (let i = 0; i < 3; i++) await publish(hubs[0]!, i);
    await poll(() => first.seqs().length >= 3, 'three on a');
    for (let i = 3; i < 6; i++) await publish(hubs[0]!, i);
    const moved = new Client(hubs[1]!);
    moved.send({ v: 1, type: 'resume', epoch: 'E1', positions: { t1: 4 } } as unknown as ClientFrame);
    await poll(() => moved.seqs().length >= 3, 'resumed on b');
    expect(moved.seqs()).to.deep.equal([4, 5, 6]);
    expect(moved.of('subscribed')[0]).to.include({ recovered: true, from: 4 });
    expect(moved.of('resync_required')).to.deep.equal([]);
  });

  it('a store link down past the grace period: sessions closed 1013, connections refused until it is back', async () => {
    const flaky = new FlakyStore(store);
    const hub = node(flaky, 'c', 150);
    await ready(hub);
    const client = new Client(hub);
    client.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 } as ClientFrame);
    await poll(() => client.of('subscribed').length === 1, 'subscribed');
    flaky.link(false);
    await new Promise((r) => setTimeout(r, 30));
    expect(client.port.closes, 'within the grace period nothing happens').to.deep.equal([]);
    await poll(() => client.port.closes.length === 1, 'the session shed');
    expect(client.port.closes[0]).to.deep.equal({ code: 1013, reason: 'store unavailable' });
    expect(new Client(hub).port.closes).to.deep.equal([{ code: 1013, reason: 'store unavailable' }]);
    flaky.link(true);
    await poll(() => hub.getSnapshot().matches({ clustered: 'linked' }), 'linked again');
    const back = new Client(hub);
    expect(back.port.closes).to.deep.equal([]);
    await poll(() => back.of('welcome').length === 1, 'welcome');
    hub.stop();
  });

  it('a store that lost its data: every subscribed stream gets an explicit epoch_changed resync', async () => {
    const client = new Client(hubs[1]!);
    client.send({ v: 1, type: 'subscribe', thread: 't1', from: 1 } as ClientFrame);
    await publish(hubs[0]!, 0);
    await poll(() => client.seqs().length >= 1, 'one event');
    store.wipe();
    const after = await publish(hubs[0]!, 1);
    expect(after).to.include({ kind: 'appended', seq: 1, epoch: 'E2' });
    await poll(() => client.of('resync_required').length >= 1, 'resync');
    expect(client.of('resync_required')[0]).to.include({ thread: 't1', epoch: 'E2', reason: 'epoch_changed', from: 1 });
    await poll(() => client.frames().some((f) => f.type === 'event' && f.epoch === 'E2'), 'the new epoch event');
    // and a resume quoting the lost epoch is answered epoch_changed too
    const late = new Client(hubs[0]!);
    late.send({ v: 1, type: 'resume', epoch: 'E1', positions: { t1: 2 } } as unknown as ClientFrame);
    await poll(() => late.of('resync_required').length === 1, 'late resync');
    expect(late.of('resync_required')[0]).to.include({ reason: 'epoch_changed', epoch: 'E2' });
  });
});
