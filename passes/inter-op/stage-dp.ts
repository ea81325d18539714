/**
 * Alpa's stage-construction dynamic program (Zheng et al., OSDI'22, §5.2): slice L
 * layers into contiguous stages, give each stage a submesh (a device count from the
 * allowed shapes) so that all N devices are used, minimising
 *     Σ_i t_i + (B − 1) · max_i t_i
 * (the pipeline's latency for B micro-batches), where t_i is stage i's time per
 * micro-batch. The max is handled as Alpa does: enumerate t_max over the distinct
 * stage times, keep stages with t_i <= t_max, and stop once (B − 1) · t_max alone
 * exceeds the best total. Unlike Alpa, the time to receive activations (and send
 * gradients back) across a stage boundary is part of the stage's time, and memory is
 * checked with the micro-batches a 1F1B schedule keeps in flight on that stage: the
 * stage with s stages after it (itself included) holds min(s, B) of them.
 *
 * Exact shortcuts keep it to a second or two at GPT scale (26 layers, 35 meshes,
 * thousands of t_max candidates): the first t_max with any plan is found by bisection
 * (the passes below it found nothing), caps are searched downwards skipping those a pass
 * already covered (searchCaps), the stage-count dimension is only as deep as memory can
 * tell counts apart, min(s, B), options that do not fit with one micro-batch in flight
 * are dropped, and device counts are counted in units of their greatest common divisor.
 * Within a pass, a level c only covers layers that can still hold c stages, and the loop
 * over device counts only spans the counts at which the rest of the plan exists.
 */

export interface StageOption {
  /** Index of the submesh shape (for the caller's bookkeeping). */
  readonly submesh: number;
  readonly devices: number;
  /** Seconds per micro-batch, forward and backward, on this submesh. */
  readonly seconds: number;
  /** Parameters, gradients, optimizer states: held once. */
  readonly staticBytes: number;
  /** Activations saved for the backward pass, per micro-batch in flight. */
  readonly activationBytes: number;
  readonly memoryLimit: number;
  /** Once per step, after the last backward: the update and its gradient synchronisation (the DP's objective leaves it out; step-bound.ts counts it). */
  readonly stepSeconds?: number;
  /** On whole hosts: the stages beside it are on other hosts, so its boundaries cross the network (step-bound.ts). */
  readonly wholeHosts?: boolean;
}

export interface StageProblem {
  readonly layers: number;
  readonly devices: number;
  readonly microbatches: number;
  /** Options for a stage made of layers first..last (0-based, inclusive). */
  options(first: number, last: number): readonly StageOption[];
  /** Seconds per micro-batch to cross the boundary before layer `first` (0 for first = 0). */
  boundarySeconds?(first: number): number;
  /**
   * Skip t_max candidates within this relative step of the last one tried (Alpa's ε).
   * 0 (default) is exact; ε costs at most (B − 1)·ε·t_max of latency.
   */
  readonly tmaxStep?: number;
}

export interface PlannedStage {
  readonly first: number;
  readonly last: number;
  readonly option: StageOption;
  /** Stage time including its incoming boundary. */
  readonly seconds: number;
}

export interface StagePlan {
  readonly stages: readonly PlannedStage[];
  /** Σ t_i + (B − 1) · max t_i. */
  readonly latency: number;
  readonly maxStageSeconds: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function fits(o: StageOption, inFlight: number): boolean {
  return o.staticBytes + o.activationBytes * inFlight <= o.memoryLimit;
}

/** Whether every stage of `plan` fits in `limit` bytes with the micro-batches 1F1B keeps in flight on it. */
export function planFits(plan: StagePlan, microbatches: number, limit: number): boolean {
  const S = plan.stages.length;
  return plan.stages.every((st, i) => st.option.staticBytes + st.option.activationBytes * Math.min(S - i, microbatches) <= limit);
}

/**
 * A range's useful options, fastest first: the caller's objects, with their times (the
 * boundary folded in), device counts and in-flight limits in typed arrays for the DP's
 * inner loops.
 */
interface RangeOptions {
  readonly options: readonly StageOption[];
  readonly total: Float64Array;
  readonly devices: Int32Array;
  /** The most micro-batches in flight each fits with (>= 1: the rest are dropped). */
  readonly maxInFlight: Float64Array;
}

/** The most micro-batches in flight `o` fits with, by fits() itself (the quotient may round either way). */
function inFlightLimit(o: StageOption): number {
  if (o.memoryLimit === Infinity || o.activationBytes <= 0) return Infinity;
  let c = Math.max(1, Math.floor((o.memoryLimit - o.staticBytes) / o.activationBytes));
  while (c > 1 && !fits(o, c)) c--;
  while (fits(o, c + 1)) c++;
  return c;
}

/**
 * Indices of the options no other makes useless (exact): one on as many devices, no
 * slower and no larger (without a memory limit: no slower) dominates; of identical
 * ones the first stays. `t`: each option's time.
 */
function undominated(all: readonly StageOption[], t: Float64Array): number[] {
  const n = all.length;
  const at = (i: number): StageOption => all[i] as StageOption;
  const time = (i: number): number => t[i] as number;
  const dominates = (q: number, o: number): boolean => {
    const [a, b] = [at(q), at(o)];
    return a.devices === b.devices && a.memoryLimit >= b.memoryLimit && time(q) <= time(o) && ((a.memoryLimit === Infinity && b.memoryLimit === Infinity) || (a.staticBytes <= b.staticBytes && a.activationBytes <= b.activationBytes));
  };
  const limit = all[0]?.memoryLimit ?? Infinity;
  const index = Array.from({ length: n }, (_, i) => i);
  if (all.some((o) => o.memoryLimit !== limit)) return index.filter((o) => !index.some((q) => q !== o && dominates(q, o) && (!dominates(o, q) || q < o)));
  if (limit === Infinity) {
    // Only time counts: per device count, the first of the fastest.
    const first = new Map<number, number>();
    for (const i of index) {
      const q = first.get(at(i).devices);
      if (q === undefined || time(i) < time(q)) first.set(at(i).devices, i);
    }
    return [...first.values()];
  }
  // In order of devices, time, size, index, whatever dominates an option comes before it:
  // comparing each with the kept ones of its device count decides (a pairwise filter took
  // seconds at GPT-175B scale, hundreds of options per range).
  index.sort((i, j) => at(i).devices - at(j).devices || time(i) - time(j) || at(i).staticBytes - at(j).staticBytes || at(i).activationBytes - at(j).activationBytes || i - j);
  const kept: number[] = [];
  let group = 0;
  for (const o of index) {
    const g = kept[group];
    if (g !== undefined && at(g).devices !== at(o).devices) group = kept.length;
    let out = false;
    for (let j = group; j < kept.length && !out; j++) out = dominates(kept[j] as number, o);
    if (!out) kept.push(o);
  }
  return kept;
}

/** Memoised options per layer range, with the boundary folded into the time. */
function rangeTable(p: StageProblem): (first: number, last: number) => RangeOptions {
  const cache = new Map<number, RangeOptions>();
  return (first, last) => {
    const key = first * (p.layers + 1) + last;
    let v = cache.get(key);
    if (!v) {
      const b = first > 0 ? (p.boundarySeconds?.(first) ?? 0) : 0;
      // An option that does not fit with one micro-batch in flight fits at no level (exact).
      const all = p.options(first, last).filter((o) => fits(o, 1));
      const t = Float64Array.from(all, (o) => o.seconds + b);
      // Fastest first (ties in the caller's order): a pass under a cap stops at the first option above it.
      const kept = undominated(all, t).sort((i, j) => (t[i] as number) - (t[j] as number) || i - j);
      const options = kept.map((i) => all[i] as StageOption);
      v = {
        options,
        total: Float64Array.from(kept, (i) => t[i] as number),
        devices: Int32Array.from(options, (o) => o.devices),
        maxInFlight: Float64Array.from(options, inFlightLimit),
      };
      cache.set(key, v);
    }
    return v;
  };
}

export function planStages(p: StageProblem): StagePlan | undefined {
  const L = p.layers;
  const N = p.devices;
  const B = p.microbatches;
  const table = rangeTable(p);
  // Candidate t_max values: every stage time any range could have, ascending.
  const candidates = new Set<number>();
  for (let i = 0; i < L; i++) for (let j = i; j < L; j++) for (const t of table(i, j).total) candidates.add(t);
  const sorted = [...candidates].sort((a, b) => a - b);
  // Device counts in units of their greatest common divisor (with N): every count the DP
  // can reach is a multiple of it (at GPT-175B scale, where no layer fits on fewer than
  // a host, the device dimension shrinks eightfold).
  let unit = N;
  for (let i = 0; i < L; i++) for (let j = i; j < L; j++) for (const n of table(i, j).devices) unit = gcd(unit, n);
  // Device counts in units are integers (unit divides them); rounded so that V8 keeps them
  // small integers: a quotient left as a heap number deoptimised the DP's array reads.
  const U = Math.round(N / unit);
  const step = p.tmaxStep ?? 0;
  // With a step, keep the largest candidate of each run within (1 + step) of the run's first.
  const tmaxes: number[] = [];
  let anchor = sorted[0] ?? 0;
  sorted.forEach((t, i) => {
    const next = sorted[i + 1];
    if (step <= 0 || next === undefined || next > anchor * (1 + step)) {
      tmaxes.push(t);
      if (next !== undefined) anchor = next;
    }
  });

  const maxStages = Math.min(L, N);
  // When every option fits with the most micro-batches any stage can hold in flight, the
  // stage count does not matter to memory and the DP drops that dimension (L times less work).
  let memoryBinds = false;
  for (let i = 0; i < L && !memoryBinds; i++) for (let j = i; j < L && !memoryBinds; j++) memoryBinds = table(i, j).maxInFlight.some((c) => c < Math.min(maxStages, B));
  if (!memoryBinds) return planWithoutStageCount(p, table, tmaxes, unit);
  // Memory sees a stage's count of stages to go (itself included) only as min(s, B), the
  // micro-batches it holds in flight: so the DP tracks that level c = min(s, B), not s.
  // Level c < B is exactly c stages to go; level B is B or more, reached from a stage at
  // level B - 1 or B after it. Exact, and B levels instead of min(L, N) when B is small.
  // f[c][k][d]: least Σ time covering layers k..L-1 at level c on exactly d devices.
  const levels = Math.min(maxStages, B);
  const f: Float64Array[][] = [];
  const choice: Int32Array[][] = [];
  for (let c = 0; c <= levels; c++) {
    f.push(Array.from({ length: L + 1 }, () => new Float64Array(U + 1)));
    choice.push(Array.from({ length: L + 1 }, () => new Int32Array((U + 1) * 3).fill(-1)));
  }
  // Per row f[c][k], the least and greatest d it holds a finite value at: the inner loop
  // over device counts runs only where the rest of the plan exists.
  const lo: Int32Array[] = Array.from({ length: levels + 1 }, () => new Int32Array(L + 1));
  const hi: Int32Array[] = Array.from({ length: levels + 1 }, () => new Int32Array(L + 1));
  /** One DP pass with every stage at most tmax: the best plan over levels, and the least Σ. */
  const pass = (tmax: number): { best: StagePlan | undefined; leastSum: number; cover: number } => {
    for (const rows of f) for (const row of rows) row.fill(Infinity);
    for (let c = 0; c <= levels; c++) {
      lo[c]!.fill(U + 1);
      hi[c]!.fill(-1);
    }
    f[0]![L]![0] = 0;
    lo[0]![L] = 0;
    hi[0]![L] = 0;
    let best: StagePlan | undefined;
    let leastSum = Infinity;
    let cover = 0;
    for (let c = 1; c <= levels; c++) {
      // The stages after this one: level c - 1, or (at level B) level B too.
      const nexts = c === B ? [c - 1, c] : [c - 1];
      // c stages (at least) from layer k on, each of one layer at least: k <= L - c, and
      // the stage ending at i leaves c - 1 for i + 1..L - 1.
      for (let k = L - c; k >= 0; k--) {
        const fk = f[c]![k]!;
        const ck = choice[c]![k]!;
        for (let i = k; i <= L - c; i++) {
          const { total, devices, maxInFlight } = table(k, i);
          for (let oi = 0; oi < total.length; oi++) {
            const t = total[oi]!;
            if (t > tmax) break;
            if (maxInFlight[oi]! < c) continue;
            const od = Math.round(devices[oi]! / unit);
            for (const next of nexts) {
              const rest = f[next]![i + 1]!;
              const from = lo[next]![i + 1]! + od;
              const to = Math.min(U, hi[next]![i + 1]! + od);
              for (let d = from; d <= to; d++) {
                const r = rest[d - od]!;
                if (r === Infinity) continue;
                const v = r + t;
                if (v < fk[d]!) {
                  fk[d] = v;
                  ck[d * 3] = i;
                  ck[d * 3 + 1] = oi;
                  ck[d * 3 + 2] = next;
                }
              }
            }
          }
        }
        let [a, b] = [U + 1, -1];
        for (let d = 0; d <= U; d++) {
          if (fk[d] === Infinity) continue;
          if (a > U) a = d;
          b = d;
        }
        lo[c]![k] = a;
        hi[c]![k] = b;
      }
      const total = f[c]![0]![U]!;
      if (total === Infinity) continue;
      leastSum = Math.min(leastSum, total);
      // Rebuild the stages to know the real max (<= tmax).
      const stages: PlannedStage[] = [];
      let [k, d, cc] = [0, U, c];
      while (cc > 0) {
        const ck = choice[cc]![k]!;
        const i = ck[d * 3]!;
        const r = table(k, i);
        const o = r.options[ck[d * 3 + 1]!]!;
        stages.push({ first: k, last: i, option: o, seconds: r.total[ck[d * 3 + 1]!]! });
        cc = ck[d * 3 + 2]!;
        d -= Math.round(o.devices / unit);
        k = i + 1;
      }
      const maxStageSeconds = Math.max(...stages.map((x) => x.seconds));
      cover = Math.max(cover, maxStageSeconds);
      const latency = total + (B - 1) * maxStageSeconds;
      if (!best || latency < best.latency - 1e-15) best = { stages, latency, maxStageSeconds };
    }
    return { best, leastSum, cover };
  };
  return searchCaps(tmaxes, B, (tmax) => {
    const r = pass(tmax);
    return r.best ? { plan: r.best, leastSum: r.leastSum, cover: r.cover } : undefined;
  });
}

/** What one DP pass under a cap on stage time gives the search. */
interface CapResult {
  /** Its best plan (least latency over whatever the pass tracks). */
  readonly plan: StagePlan;
  /** The least Σ t_i of any plan under this cap (a bound for every smaller cap). */
  readonly leastSum: number;
  /**
   * The slowest stage of the plans the pass's minima came from: every cap in
   * [cover, tmax] has the same minima, so a pass there finds nothing better.
   */
  readonly cover: number;
}

/**
 * The search over the cap t_max on the slowest stage. The optimum (slowest stage t*,
 * sum Σ*) is found by the pass at cap t*, which gives a plan with Σ <= Σ* and slowest
 * stage <= t*. Caps are tried from the largest worth trying downwards: the pass at cap
 * t whose minima come from plans with slowest stage m has the same minima at every cap
 * in [m, t], so the next cap tried is the largest below m; and as caps fall the least Σ
 * only grows, so the search stops once that Σ plus (B − 1) times the smallest feasible
 * cap reaches the best latency. The smallest feasible cap is found by bisection
 * (feasibility grows with the cap). Exact when `tmaxes` holds every stage time.
 */
function searchCaps(tmaxes: readonly number[], B: number, pass: (tmax: number) => CapResult | undefined): StagePlan | undefined {
  const free = pass(Infinity);
  if (!free) return undefined;
  let best = free.plan;
  // Every plan with slowest stage t costs at least free.leastSum + (B − 1)·t.
  const worth = (tmax: number): boolean => (B - 1) * tmax + free.leastSum < best.latency;
  let hi = tmaxes.length - 1;
  while (hi >= 0 && !worth(tmaxes[hi] as number)) hi--;
  // The bisection's passes find plans too: the best of them (often the one at the least
  // feasible cap, where many micro-batches make the slowest stage weigh most) lowers the
  // caps still worth a pass before the search below starts. GPT-175B on 1,024 at M=256:
  // the memory-free DP's search took 34 passes after the bisection, now 1.
  const lo = firstFeasible(tmaxes, hi + 1, (tmax) => {
    const r = pass(tmax);
    if (r && r.plan.latency < best.latency - 1e-15) best = r.plan;
    return r !== undefined;
  });
  while (hi >= lo && !worth(tmaxes[hi] as number)) hi--;
  // No plan has its slowest stage at or below the cap before lo.
  const floor = lo > 0 ? (tmaxes[lo - 1] as number) : 0;
  let t = hi;
  while (t >= lo) {
    const tmax = tmaxes[t] as number;
    if (!worth(tmax)) {
      t--;
      continue;
    }
    const r = pass(tmax);
    if (!r) break;
    if (r.plan.latency < best.latency - 1e-15) best = r.plan;
    if (r.leastSum + (B - 1) * floor >= best.latency) break;
    // Next: the largest candidate below the cover (tmaxes ascends).
    let [a, b] = [lo, t];
    while (a < b) {
      const mid = (a + b) >> 1;
      if ((tmaxes[mid] as number) < r.cover) a = mid + 1;
      else b = mid;
    }
    t = Math.min(t, a) - 1;
  }
  return best;
}

/**
 * Index of the first t_max (ascending, among the first `end`) at which any plan exists,
 * by bisection: a larger cap allows every option a smaller one does, so feasibility only
 * grows with t_max (at GPT scale the infeasible caps were most of the DP's passes).
 * Returns `end` when none is feasible.
 */
function firstFeasible(tmaxes: readonly number[], end: number, feasible: (tmax: number) => boolean): number {
  let lo = 0;
  let hi = end;
  // Invariant: every candidate below lo is infeasible; tmaxes[hi] is feasible (or hi = end).
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (feasible(tmaxes[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The DP of planStages without the stage-count dimension, for when memory cannot bind:
 * f[k][d] is the least Σ time covering layers k..L-1 on exactly d devices. At each
 * t_max the least-Σ plan is kept; the optimum (slowest stage t*, sum Σ*) is reached at
 * t_max = t*, where the plan found has Σ <= Σ* and slowest stage <= t*.
 */
function planWithoutStageCount(p: StageProblem, table: ReturnType<typeof rangeTable>, tmaxes: readonly number[], unit: number): StagePlan | undefined {
  const L = p.layers;
  const U = Math.round(p.devices / unit);
  const B = p.microbatches;
  const f: Float64Array[] = Array.from({ length: L + 1 }, () => new Float64Array(U + 1));
  const choice: Int32Array[] = Array.from({ length: L + 1 }, () => new Int32Array((U + 1) * 2));
  // Per row, the least and greatest d holding a finite value (see planStages).
  const lo = new Int32Array(L + 1);
  const hi = new Int32Array(L + 1);
  /** One DP pass with every stage at most tmax: its least-Σ plan. */
  const pass = (tmax: number): { plan: StagePlan; total: number } | undefined => {
    for (const row of f) row.fill(Infinity);
    lo.fill(U + 1);
    hi.fill(-1);
    f[L]![0] = 0;
    lo[L] = 0;
    hi[L] = 0;
    for (let k = L - 1; k >= 0; k--) {
      const fk = f[k]!;
      const ck = choice[k]!;
      for (let i = k; i < L; i++) {
        const { total, devices } = table(k, i);
        const rest = f[i + 1]!;
        for (let oi = 0; oi < total.length; oi++) {
          const t = total[oi]!;
          if (t > tmax) break;
          const dev = Math.round(devices[oi]! / unit);
          const to = Math.min(U, hi[i + 1]! + dev);
          for (let d = lo[i + 1]! + dev; d <= to; d++) {
            const r = rest[d - dev]!;
            if (r === Infinity) continue;
            const v = r + t;
            if (v < fk[d]!) {
              fk[d] = v;
              ck[d * 2] = i;
              ck[d * 2 + 1] = oi;
            }
          }
        }
      }
      for (let d = 0; d <= U; d++) {
        if (fk[d] === Infinity) continue;
        if (lo[k]! > U) lo[k] = d;
        hi[k] = d;
      }
    }
    const total = (f[0] as Float64Array)[U] as number;
    if (total === Infinity) return undefined;
    const stages: PlannedStage[] = [];
    let [k, d] = [0, U];
    while (k < L) {
      const i = (choice[k] as Int32Array)[d * 2] as number;
      const r = table(k, i);
      const oi = (choice[k] as Int32Array)[d * 2 + 1] as number;
      const o = r.options[oi];
      if (!o) throw new Error(`stage DP: no choice recorded at layer ${k}, ${d} devices`);
      stages.push({ first: k, last: i, option: o, seconds: r.total[oi] as number });
      d -= Math.round(o.devices / unit);
      k = i + 1;
    }
    const maxStageSeconds = Math.max(...stages.map((x) => x.seconds));
    return { plan: { stages, latency: total + (B - 1) * maxStageSeconds, maxStageSeconds }, total };
  };
  return searchCaps(tmaxes, B, (tmax) => {
    const r = pass(tmax);
    return r ? { plan: r.plan, leastSum: r.total, cover: r.plan.maxStageSeconds } : undefined;
  });
}

/**
 * The best plan with the stages' layer ranges given (a manual pipeline grid): each
 * stage takes its fastest option that fits, all stages the same device count.
 */
export function fixedStages(p: StageProblem, ranges: readonly (readonly [number, number])[]): StagePlan | undefined {
  const table = rangeTable(p);
  const S = ranges.length;
  const stages: PlannedStage[] = [];
  for (const [idx, [first, last]] of ranges.entries()) {
    // Fastest first: the first that fits.
    const r = table(first, last);
    const oi = r.options.findIndex((o) => fits(o, Math.min(S - idx, p.microbatches)));
    const o = r.options[oi];
    if (!o) return undefined;
    stages.push({ first, last, option: o, seconds: r.total[oi] as number });
  }
  if (stages.reduce((s, x) => s + x.option.devices, 0) !== p.devices) return undefined;
  const maxStageSeconds = Math.max(...stages.map((x) => x.seconds));
  return { stages, latency: stages.reduce((s, x) => s + x.seconds, 0) + (p.microbatches - 1) * maxStageSeconds, maxStageSeconds };
}

/**
 * Every partition and option choice (tests only): the optimum by enumeration, over the
 * problem's options as given (not rangeTable's, whose pruning it thereby checks).
 */
export function planStagesByEnumeration(p: StageProblem): StagePlan | undefined {
  const optionsOf = (first: number, last: number): (StageOption & { readonly total: number })[] => {
    const b = first > 0 ? (p.boundarySeconds?.(first) ?? 0) : 0;
    return p.options(first, last).map((o) => ({ ...o, total: o.seconds + b }));
  };
  let best: StagePlan | undefined;
  const walk = (k: number, used: number, acc: PlannedStage[]): void => {
    if (k === p.layers) {
      if (used !== p.devices) return;
      const S = acc.length;
      if (!acc.every((st, idx) => fits(st.option, Math.min(S - idx, p.microbatches)))) return;
      const max = Math.max(...acc.map((x) => x.seconds));
      const latency = acc.reduce((s, x) => s + x.seconds, 0) + (p.microbatches - 1) * max;
      if (!best || latency < best.latency - 1e-15) best = { stages: [...acc], latency, maxStageSeconds: max };
      return;
    }
    for (let i = k; i < p.layers; i++) {
      for (const o of optionsOf(k, i)) {
        if (used + o.devices > p.devices) continue;
        acc.push({ first: k, last: i, option: o, seconds: o.total });
        walk(i + 1, used + o.devices, acc);
        acc.pop();
      }
    }
  };
  walk(0, 0, []);
  return best;
}
