/**
 * α-β fit of measured collectives: time = α + factor·bytes·β, where factor is the ring's
 * bus-bandwidth factor (2(n-1)/n for all-reduce, (n-1)/n for all-gather, reduce-scatter
 * and all-to-all), so that β is seconds per byte of the link each rank uses, the same
 * β as a cluster's link (collectives.ts), and α is the latency of one whole call.
 */
import type { CollectiveKind } from './types.js';
import { busBandwidthFactor } from './collectives.js';

export interface TimedPoint {
  /** factor × bytes: the bytes each rank moves over its link. */
  readonly linkBytes: number;
  readonly seconds: number;
}

export interface AlphaBetaFit {
  /** Seconds per call (the intercept). */
  readonly alpha: number;
  /** Seconds per link byte. */
  readonly beta: number;
  /** max |predicted - measured| / measured over the fitted points. */
  readonly maxRelError: number;
}

/**
 * Least squares with weights 1/seconds², i.e. on relative residuals: the sizes span four
 * decades, and plain least squares would fit the largest and leave α to their noise.
 * α is kept >= 0 (a negative intercept is noise at the small sizes: refit through 0).
 */
export function fitAlphaBeta(points: readonly TimedPoint[]): AlphaBetaFit {
  if (points.length < 2) throw new RangeError(`an alpha-beta fit needs at least 2 points, got ${points.length}`);
  for (const p of points)
    if (!(p.seconds > 0) || !(p.linkBytes > 0) || !Number.isFinite(p.seconds) || !Number.isFinite(p.linkBytes))
      throw new RangeError(`alpha-beta points need positive bytes and seconds, got ${p.linkBytes} bytes in ${p.seconds} s`);
  let sw = 0;
  let swx = 0;
  let swxx = 0;
  let swt = 0;
  let swxt = 0;
  for (const { linkBytes: x, seconds: t } of points) {
    const w = 1 / (t * t);
    sw += w;
    swx += w * x;
    swxx += w * x * x;
    swt += w * t;
    swxt += w * x * t;
  }
  const det = sw * swxx - swx * swx;
  let alpha = det > 0 ? (swxx * swt - swx * swxt) / det : -1;
  let beta = det > 0 ? (sw * swxt - swx * swt) / det : 0;
  if (!(alpha >= 0)) {
    alpha = 0;
    beta = swxt / swxx;
  }
  if (!(beta > 0)) throw new RangeError(`alpha-beta fit: time does not grow with size (beta ${beta}); the measurements are too noisy`);
  const maxRelError = Math.max(...points.map((p) => Math.abs(alpha + beta * p.linkBytes - p.seconds) / p.seconds));
  return { alpha, beta, maxRelError };
}

/** The link bytes of a collective of `bytes` (nccl-tests convention) over `ranks`. */
export function linkBytes(kind: CollectiveKind, bytes: number, ranks: number): number {
  return busBandwidthFactor(kind, ranks) * bytes;
}
