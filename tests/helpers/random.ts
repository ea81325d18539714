/** The seeded generator of src/examples (mulberry32) with what tests draw: reproducible from their seed. */
import { SeededRandom } from '../../src/examples/seeded-random.js';

export class Rng extends SeededRandom {
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  pick<T>(items: readonly T[]): T {
    const v = items[this.int(0, items.length)];
    if (v === undefined) throw new Error('pick from an empty list');
    return v;
  }
}
