import { expect } from 'chai';
import fc from 'fast-check';
import { Random } from '../../sim/random.ts';

const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

const draws = (r: Random, n: number): number[] => Array.from({ length: n }, () => r.next());
const name = fc.string({ minLength: 1, maxLength: 8 });

describe('sim/random', () => {
  it('one seed gives one sequence; nearby seeds give different ones', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(draws(Random.seeded(seed), 20)).to.deep.equal(draws(Random.seeded(seed), 20));
        expect(draws(Random.seeded(seed), 20)).to.not.deep.equal(draws(Random.seeded(seed + 1), 20));
      }),
      params(100),
    );
  });

  it('fork(b) draws do not depend on draws from fork(a), the parent, or when it was forked', () => {
    fc.assert(
      fc.property(fc.integer(), name, name, fc.nat(50), fc.nat(50), (seed, a, b, nA, nRoot) => {
        fc.pre(a !== b);
        const quiet = Random.seeded(seed).fork(b);
        const root = Random.seeded(seed);
        draws(root.fork(a), nA);
        draws(root, nRoot);
        const busy = root.fork(b);
        expect(draws(busy, 10)).to.deep.equal(draws(quiet, 10));
        expect(draws(Random.seeded(seed).fork(a), 10)).to.not.deep.equal(draws(Random.seeded(seed).fork(b), 10));
      }),
      params(100),
    );
  });

  it('a fork is named by its full path and keeps the root seed', () => {
    const root = Random.seeded(7);
    const ab = root.fork('a').fork('b');
    expect(ab.name).to.equal('a/b');
    expect(ab.seed).to.equal(7);
    expect(draws(ab, 5)).to.deep.equal(draws(Random.seeded(7).fork('a').fork('b'), 5));
    expect(draws(Random.seeded(7).fork('a').fork('b'), 5)).to.not.deep.equal(draws(Random.seeded(7).fork('b'), 5));
  });

  it('int is inclusive on both ends and stays in range; next is in [0, 1)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 5 }), (seed, min, span) => {
        const r = Random.seeded(seed);
        const seen = new Set<number>();
        for (let i = 0; i < 400; i++) {
          const v = r.int(min, min + span);
          expect(Number.isInteger(v) && v >= min && v <= min + span, `${v}`).to.equal(true);
          seen.add(v);
          const f = r.next();
          expect(f >= 0 && f < 1, `${f}`).to.equal(true);
        }
        expect(seen.size).to.equal(span + 1);
      }),
      params(50),
    );
  });

  it('chance(p) hits about p of the time; pick picks members', () => {
    const r = Random.seeded(123);
    const n = 20_000;
    for (const p of [0, 0.1, 0.5, 1]) {
      let hits = 0;
      for (let i = 0; i < n; i++) if (r.chance(p)) hits++;
      const sigma = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(hits - n * p)).to.be.at.most(5 * sigma + 1e-9);
    }
    const items = ['x', 'y', 'z'] as const;
    const picked = new Set(Array.from({ length: 100 }, () => r.pick(items)));
    expect([...picked].sort()).to.deep.equal(['x', 'y', 'z']);
  });
});
