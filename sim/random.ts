/**
 * Seeded randomness with named sub-streams. A fork's stream depends only on
 * (root seed, full name path), never on how much its parent or siblings have
 * drawn, so adding a draw in one component does not shift any other.
 */
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** FNV-1a over UTF-16 code units: a stable 32-bit hash of a name path. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the output. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

/** Four well-mixed state words from (seed, path): nearby seeds give unrelated streams. */
function generatorFor(seed: number, path: string): RandomGenerator {
  const base = fmix32((seed | 0) ^ fmix32(fnv1a(path)));
  const state = [1, 2, 3, 4].map((i) => fmix32(base + Math.imul(i, 0x9e3779b9)));
  if (!state.some((w) => w !== 0)) state[0] = 1; // xoroshiro's one forbidden state
  return xoroshiro128plusFromState(state);
}

export class Random {
  private constructor(
    /** The root seed (what reproduces a run). */
    readonly seed: number,
    /** Full name path of this stream ('' for the root). */
    readonly name: string,
    private readonly rng: RandomGenerator,
  ) {}

  static seeded(seed: number): Random {
    return new Random(seed, '', generatorFor(seed, ''));
  }

  /** A child stream named `name` under this one, independent of this stream's state. */
  fork(name: string): Random {
    const path = this.name === '' ? name : `${this.name}/${name}`;
    return new Random(this.seed, path, generatorFor(this.seed, path));
  }

  /** A float in [0, 1). */
  next(): number {
    return uniformFloat64(this.rng);
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
      throw new Error(`Random.int(${min}, ${max}): bounds must be integers with min <= max`);
    }
    return uniformInt(this.rng, min, max);
  }

  /** True with probability p. Always draws, so p = 0 keeps later draws aligned with p > 0. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Random.pick: no items');
    return items[this.int(0, items.length - 1)]!;
  }
}
