/** A seeded generator for example weights and for tests: the same numbers on every machine. */
/** mulberry32: small, seeded and the same on every machine. */
export class SeededRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Approximately N(0, std^2): a sum of three uniforms (variance 1/4), cheap and bounded. */
  normal(std: number): number {
    return (this.next() + this.next() + this.next() - 1.5) * 2 * std;
  }
}
