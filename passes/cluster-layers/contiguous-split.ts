/**
 * Alpa's operator clustering as a DP over contiguous splits: the max group cost may
 * exceed the best achievable max by at most `tolerance` (pipeline throughput is set by
 * the slowest stage); within that bound the split minimising
 *   sum over groups ((cost - mean) / mean)^2  +  sum over boundaries penalty(cut)
 * wins. The squared deviation spreads the remaining work evenly when one group is
 * forced to be large (a huge vocabulary head), which a bare max bound would not; the
 * cut penalty (bytes crossing, scaled by the caller) makes equally balanced splits
 * fall where only the residual stream crosses. Groups are windows of the prefix sums
 * under the max bound, so the DP is O(groups * sum of window sizes), not O(groups * N^2).
 */
import { AutoparError } from '../../src/errors.js';

export interface SplitOptions {
  readonly groups: number;
  /** Allowed excess of the max group cost over the best achievable, as a fraction. */
  readonly tolerance: number;
}

/** The smallest achievable max group cost over contiguous splits into at most `groups`. */
export function minMaxGroupCost(costs: readonly number[], groups: number): number {
  let lo = 0;
  let total = 0;
  for (const c of costs) {
    lo = Math.max(lo, c);
    total += c;
  }
  const fits = (cap: number): boolean => {
    let used = 1;
    let acc = 0;
    for (const c of costs) {
      if (acc + c > cap) {
        used++;
        acc = c;
      } else acc += c;
    }
    return used <= groups;
  };
  let hi = total;
  if (fits(lo)) return lo;
  // Bisection on a real value; 64 halvings reach floating-point resolution.
  for (let it = 0; it < 64 && hi - lo > 1e-12 * Math.max(1, hi); it++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Splits nodes 0..N-1 (costs[i]) into `groups` non-empty contiguous groups;
 * `cut[j]` is the penalty of a boundary just before node j, in units of squared
 * relative deviation. Returns the group of each node.
 */
export function contiguousSplit(costs: readonly number[], cut: readonly number[], opts: SplitOptions): number[] {
  const n = costs.length;
  const L = opts.groups;
  if (!Number.isInteger(L) || L < 1) throw new AutoparError('E_USAGE', `layer clustering: layers must be a positive integer, got ${L}`);
  if (L > n) throw new AutoparError('E_USAGE', `layer clustering: ${L} layers requested but the forward pass has only ${n} nodes`);
  const prefix = [0];
  for (const c of costs) prefix.push((prefix[prefix.length - 1] ?? 0) + c);
  const P = (i: number): number => prefix[i] ?? 0;
  const total = P(n);
  const mean = total / L;
  const cap = minMaxGroupCost(costs, L) * (1 + opts.tolerance) + 1e-9 * Math.max(1, total);
  const dev = (c: number): number => (mean > 0 ? ((c - mean) / mean) ** 2 : 0);
  // f[k][r]: best split of nodes [0, r) into k+1 groups; from[k][r] the start of the last.
  const f: Float64Array[] = [];
  const from: Int32Array[] = [];
  for (let k = 0; k < L; k++) {
    f.push(new Float64Array(n + 1).fill(Infinity));
    from.push(new Int32Array(n + 1).fill(-1));
  }
  const row = <T>(a: readonly T[], k: number): T => {
    const x = a[k];
    if (x === undefined) throw new AutoparError('E_INTERNAL', `layer clustering: DP row ${k} missing`);
    return x;
  };
  const f0 = row(f, 0);
  for (let r = 1; r <= n - (L - 1); r++) {
    const c = P(r);
    if (c > cap) break;
    f0[r] = dev(c);
    row(from, 0)[r] = 0;
  }
  for (let k = 1; k < L; k++) {
    const prev = row(f, k - 1);
    const cur = row(f, k);
    const cf = row(from, k);
    let lo = k;
    for (let r = k + 1; r <= n - (L - 1 - k); r++) {
      while (lo < r && P(r) - P(lo) > cap) lo++;
      for (let i = lo; i < r; i++) {
        const before = prev[i] ?? Infinity;
        if (before === Infinity) continue;
        const v = before + (cut[i] ?? 0) + dev(P(r) - P(i));
        // Strictly better only: ties keep the earliest start, so results are stable.
        if (v < (cur[r] ?? Infinity)) {
          cur[r] = v;
          cf[r] = i;
        }
      }
    }
  }
  if ((row(f, L - 1)[n] ?? Infinity) === Infinity) throw new AutoparError('E_INTERNAL', `layer clustering: no split into ${L} groups under cap ${cap}`);
  const group = new Array<number>(n).fill(0);
  let r = n;
  for (let k = L - 1; k >= 0; k--) {
    const i = row(from, k)[r] ?? -1;
    if (i < 0) throw new AutoparError('E_INTERNAL', 'layer clustering: broken DP back-pointer');
    for (let j = i; j < r; j++) group[j] = k;
    r = i;
  }
  return group;
}
