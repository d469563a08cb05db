/**
 * The limits of machines/limits.ts where they are decided: the codec (depth,
 * thread names), the replay-log store (quotas, idle eviction, tombstones), the
 * hub (its own connection ids, never shared) and the session (streams per
 * session, identity binding, garbage is not heard). Each example fails when
 * its limit is taken out.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { hubMachine } from '../../machines/hub.ts';
import { Directory } from '../../machines/identity.ts';
import { DEFAULT_LIMITS } from '../../machines/limits.ts';
import { decodeClientFrame, nestingExceeds } from '../../machines/protocol.ts';
import { ReplayLogStore, streamKey } from '../../machines/replay-log.ts';
import { SimClock } from '../../sim/clock.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { FakeLinks, producedEvent } from './model-coverage.ts';

const owner = { tenant: 'acme', user: 'u1' };

describe('machines/limits', () => {
  describe('codec', () => {
    it('a frame nested deeper than the limit is too_deep, before JSON.parse pays for it', () => {
      const deep = `{"v":1,"type":"ping","id":1,"x":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
      const t0 = performance.now();
      const decoded = decodeClientFrame(deep);
      expect(performance.now() - t0, 'one linear scan, not seconds of parsing').to.be.below(200);
      expect(decoded.ok === false && decoded.error.code).to.equal('too_deep');
      const ok = `{"v":1,"type":"ping","id":1,"x":${'['.repeat(31)}${']'.repeat(31)}}`;
      expect(decodeClientFrame(ok).ok, 'depth 32 passes').to.equal(true);
    });

    it('the depth scan skips brackets inside strings, escaped quotes included, and agrees with a counting parse', () => {
      expect(nestingExceeds('{"a":"[[[[[[[[[[\\"[[[["}', 2)).to.equal(false);
      const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depthOf)) : 0);
      fc.assert(
        fc.property(fc.json({ maxDepth: 6 }), fc.integer({ min: 1, max: 8 }), (text, max) => {
          expect(nestingExceeds(text, max)).to.equal(depthOf(JSON.parse(text)) > max);
        }),
      );
      // strings made of what the scan must see through: runs of backslashes before quotes, brackets
      const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', 'a') });
      const { value } = fc.letrec<{ value: unknown }>((tie) => ({
        value: fc.oneof({ depthSize: 'small' }, tricky, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(tricky, tie('value'), { maxKeys: 3 })),
      }));
      fc.assert(
        fc.property(value, fc.integer({ min: 0, max: 6 }), (v, max) => {
          expect(nestingExceeds(JSON.stringify(v), max)).to.equal(depthOf(v) > max);
        }),
        { numRuns: 300 },
      );
    });

    it('thread names longer than the limit are bad_field, wherever a client names a thread', () => {
      const long = 'x'.repeat(DEFAULT_LIMITS.maxThreadNameChars + 1);
      const fine = 'x'.repeat(DEFAULT_LIMITS.maxThreadNameChars);
      for (const [frame, field] of [
        [{ type: 'subscribe', thread: long, from: 1 }, 'thread'],
        [{ type: 'unsubscribe', thread: long }, 'thread'],
        [{ type: 'resume', epoch: 'e1', positions: { [long]: 1 } }, 'positions'],
        [{ type: 'ack', acks: { [long]: 1 } }, 'acks'],
      ] as const) {
        const decoded = decodeClientFrame(JSON.stringify({ v: 1, ...frame }));
        expect(decoded.ok === false && [decoded.error.code, decoded.error.field], frame.type).to.deep.equal(['bad_field', field]);
      }
      expect(decodeClientFrame(JSON.stringify({ v: 1, type: 'subscribe', thread: fine, from: 1 })).ok).to.equal(true);
    });
  });

  describe('replay-log store', () => {
    it('a subscriber creates logs only within its user and tenant quotas; producers are not refused', () => {
      const store = new ReplayLogStore(10, { maxLogsPerUser: 2, maxLogsPerTenant: 3 });
      expect(store.open(streamKey('acme', 'u1', 'a'), owner, 1).ok).to.equal(true);
      expect(store.open(streamKey('acme', 'u1', 'b'), owner, 1).ok).to.equal(true);
      const third = store.open(streamKey('acme', 'u1', 'c'), owner, 1);
      expect(third.ok === false && third.reason).to.match(/per user/);
      expect(store.open(streamKey('acme', 'u1', 'a'), owner, 1).ok, 'an existing log is always open').to.equal(true);
      expect(store.open(streamKey('acme', 'u2', 'a'), { tenant: 'acme', user: 'u2' }, 1).ok).to.equal(true);
      const tenantFull = store.open(streamKey('acme', 'u3', 'a'), { tenant: 'acme', user: 'u3' }, 1);
      expect(tenantFull.ok === false && tenantFull.reason).to.match(/per tenant/);
      store.log(streamKey('acme', 'u9', 'z'), { tenant: 'acme', user: 'u9' }).append(producedEvent('acme', 'u9', 'z', 0));
      expect(store.count).to.equal(4);
    });

    it('a log idle (no subscriber, no append) for two sweeps is evicted; a recreated log numbers on from its tombstone', () => {
      const store = new ReplayLogStore(10);
      const key = streamKey('acme', 'u1', 'a');
      const log = store.log(key, owner);
      for (let i = 0; i < 5; i++) log.append(producedEvent('acme', 'u1', 'a', i));
      let subscribed = true;
      store.sweep(() => subscribed, 2);
      store.sweep(() => subscribed, 2);
      expect(store.count, 'a followed log stays').to.equal(1);
      subscribed = false;
      store.sweep(() => subscribed, 2);
      expect(store.count, 'one idle sweep is not enough').to.equal(1);
      store.sweep(() => subscribed, 2);
      expect([store.count, store.evicted, store.tombstoneCount]).to.deep.equal([0, 1, 1]);
      const back = store.open(key, owner, 3);
      expect(back.ok && [back.log.head, back.log.start, back.forgotten]).to.deep.equal([5, 6, false]);
    });

    it('without a tombstone, a recreated log starts at the client position and says it forgot', () => {
      const store = new ReplayLogStore(10, { tombstones: 0 });
      const key = streamKey('acme', 'u1', 'a');
      store.log(key, owner).append(producedEvent('acme', 'u1', 'a', 0));
      store.sweep(() => false, 1); // the append touched it: this sweep only clears that
      store.sweep(() => false, 1);
      expect(store.count).to.equal(0);
      const back = store.open(key, owner, 7);
      expect(back.ok && [back.log.head, back.forgotten]).to.deep.equal([6, true]);
    });
  });

  describe('hub', () => {
    it('names sessions with its id source, redraws a collision, and ignores the id a client asks for', () => {
      const draws = ['a', 'a', 'b'];
      const links = new FakeLinks();
      const hub = createActor(links.hub(), { clock: new SimClock(new Scheduler()), input: { epoch: 'e1', directory: new Directory(), sessionIds: () => draws.shift() ?? 'z' } }).start();
      const named = ['a', 'mine'].map((hint) => links.connect(hub, `l-${hint}`, { hint }).session()?.id);
      expect(named).to.deep.equal(['a', 'b']);
      expect([...hub.getSnapshot().context.sessions.keys()]).to.deep.equal(['a', 'b']);
      hub.stop();
    });

    it('sweeps idle logs on its own clock: an unfollowed log is gone within 1.5 × TTL', () => {
      const scheduler = new Scheduler();
      const hub = createActor(hubMachine, { clock: new SimClock(scheduler), input: { epoch: 'e1', directory: new Directory(), limits: { logIdleTtlMs: 1000 } } }).start();
      hub.send({ type: 'PUBLISH', event: producedEvent('acme', 'u1', 'a', 0) });
      scheduler.runUntil(999);
      expect(hub.getSnapshot().context.logs.count, 'not before the TTL').to.equal(1);
      scheduler.runUntil(1500);
      expect(hub.getSnapshot().context.logs.count, 'by 1.5 × TTL').to.equal(0);
      hub.stop();
      expect(scheduler.size, 'the sweeper stops with the hub').to.equal(0);
    });
  });
});
