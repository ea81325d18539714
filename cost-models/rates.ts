/**
 * Throughput as a function of op size, from measured samples: work (FLOPs or bytes) /
 * seconds, interpolated linearly in log(work) × log(rate) between samples and held
 * constant beyond the smallest and largest. Small ops reach less of the peak than
 * large ones, so one rate for all sizes would not do.
 */
export interface RatePoint {
  readonly work: number;
  readonly rate: number;
}

export class RateCurve {
  private readonly points: readonly RatePoint[];

  constructor(samples: readonly { readonly work: number; readonly seconds: number }[]) {
    const pts = samples.filter((s) => s.work > 0 && s.seconds > 0).map((s) => ({ work: s.work, rate: s.work / s.seconds }));
    if (pts.length === 0) throw new RangeError('a rate curve needs at least one sample with work > 0');
    this.points = [...pts].sort((a, b) => a.work - b.work);
  }

  /** Work per second at this size. */
  rate(work: number): number {
    const pts = this.points;
    const first = pts[0];
    const last = pts[pts.length - 1];
    if (!first || !last) throw new RangeError('empty rate curve');
    if (work <= first.work) return first.rate;
    if (work >= last.work) return last.rate;
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1];
      const b = pts[i];
      if (a && b && work <= b.work) {
        if (b.work === a.work) return b.rate;
        const f = Math.log(work / a.work) / Math.log(b.work / a.work);
        return Math.exp(Math.log(a.rate) + f * Math.log(b.rate / a.rate));
      }
    }
    return last.rate;
  }

  /** Seconds for `work` (0 for no work). */
  seconds(work: number): number {
    return work <= 0 ? 0 : work / this.rate(work);
  }

  /** The best rate measured. */
  peak(): number {
    return Math.max(...this.points.map((p) => p.rate));
  }
}
