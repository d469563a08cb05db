/**
 * The hub's routing index against a model (a Map of Sets): whatever the
 * order of adds and removes, each key reads as the same set of subscribers
 * (membership, size, iteration in insertion order, forEach), keys without
 * subscribers are gone, and the index holds no more keys than the model.
 * A key's only subscriber is kept as a one-member set (see the file): these
 * runs pass through 0, 1, 2 and more members, back and forth.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { SubscriberIndex } from '../../machines/subscriber-index.ts';

type Op = { add: boolean; key: string; connId: string };

const ops = fc.array(fc.record({ add: fc.boolean(), key: fc.constantFrom('k1', 'k2'), connId: fc.constantFrom('c1', 'c2', 'c3') }), { maxLength: 40 });

function replay(list: readonly Op[]): { index: SubscriberIndex; model: Map<string, Set<string>> } {
  const index = new SubscriberIndex();
  const model = new Map<string, Set<string>>();
  for (const { add, key, connId } of list) {
    if (add) {
      index.add(key, connId);
      model.set(key, (model.get(key) ?? new Set()).add(connId));
    } else {
      index.remove(key, connId);
      model.get(key)?.delete(connId);
      if (model.get(key)?.size === 0) model.delete(key);
    }
  }
  return { index, model };
}

describe('machines/subscriber-index', () => {
  it('reads as a Map of Sets after any adds and removes', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const { index, model } = replay(list);
        expect(index.size).to.equal(model.size);
        for (const key of ['k1', 'k2']) {
          const want = [...(model.get(key) ?? [])];
          const got = index.subscribers(key);
          expect([...got], key).to.deep.equal(want);
          expect(got.size).to.equal(want.length);
          for (const connId of ['c1', 'c2', 'c3']) expect(got.has(connId), `${key} has ${connId}`).to.equal(want.includes(connId));
          const seen: string[] = [];
          got.forEach((value, same) => seen.push(`${value}=${same}`));
          expect(seen).to.deep.equal(want.map((c) => `${c}=${c}`));
          expect([...got.entries()]).to.deep.equal(want.map((c) => [c, c]));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a second subscriber joins the only one, and the key goes when both left', () => {
    const { index } = replay([
      { add: true, key: 'k', connId: 'a' },
      { add: true, key: 'k', connId: 'a' },
      { add: true, key: 'k', connId: 'b' },
    ]);
    expect([...index.subscribers('k')]).to.deep.equal(['a', 'b']);
    index.remove('k', 'x');
    index.remove('k', 'a');
    expect([...index.subscribers('k')]).to.deep.equal(['b']);
    index.remove('k', 'b');
    expect(index.size).to.equal(0);
    expect(index.subscribers('k').size).to.equal(0);
  });
});
