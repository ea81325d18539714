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

function fits(o: StageOption, inFlight: number): boolean {
  return o.staticBytes + o.activationBytes * inFlight <= o.memoryLimit;
}

/** Memoised options per layer range, with the boundary folded into the time. */
function rangeTable(p: StageProblem): (first: number, last: number) => readonly (StageOption & { readonly total: number })[] {
  const cache = new Map<number, readonly (StageOption & { readonly total: number })[]>();
  return (first, last) => {
    const key = first * (p.layers + 1) + last;
    let v = cache.get(key);
    if (!v) {
      const b = first > 0 ? (p.boundarySeconds?.(first) ?? 0) : 0;
      const all = p.options(first, last).map((o) => ({ ...o, total: o.seconds + b }));
      // An option no faster, no smaller and on as many devices as another never helps (exact).
      const dominated = (o: (typeof all)[number], q: (typeof all)[number]): boolean =>
        q.devices === o.devices && q.memoryLimit >= o.memoryLimit && q.total <= o.total && q.staticBytes <= o.staticBytes && q.activationBytes <= o.activationBytes;
      v = all.filter((o, i) => !all.some((q, j) => j !== i && dominated(o, q) && (!dominated(q, o) || j < i)));
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
  for (let i = 0; i < L; i++) for (let j = i; j < L; j++) for (const o of table(i, j)) candidates.add(o.total);
  const sorted = [...candidates].sort((a, b) => a - b);
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

  let best: StagePlan | undefined;
  const maxStages = Math.min(L, N);
  // When every option fits with the most micro-batches any stage can hold in flight, the
  // stage count does not matter to memory and the DP drops that dimension (L times less work).
  let memoryBinds = false;
  for (let i = 0; i < L && !memoryBinds; i++) for (let j = i; j < L && !memoryBinds; j++) memoryBinds = table(i, j).some((o) => !fits(o, Math.min(maxStages, B)));
  if (!memoryBinds) return planWithoutStageCount(p, table, [Infinity, ...tmaxes]);
  // The least Σ t_i with no cap on the slowest stage: every plan with slowest stage t
  // costs at least that plus (B − 1)·t, so the enumeration can stop sooner (exact).
  let leastSum = 0;
  for (const tmax of [Infinity, ...tmaxes]) {
    if (best && (B - 1) * tmax + leastSum >= best.latency) break;
    let passSum = Infinity;
    // f[s][k][d]: least Σ time covering layers k..L-1 with s stages on exactly d devices.
    const f: Float64Array[][] = [];
    const choice: Int32Array[][] = [];
    for (let s = 0; s <= maxStages; s++) {
      f.push(Array.from({ length: L + 1 }, () => new Float64Array(N + 1).fill(Infinity)));
      choice.push(Array.from({ length: L + 1 }, () => new Int32Array((N + 1) * 2).fill(-1)));
    }
    (f[0] as Float64Array[])[L]![0] = 0;
    for (let s = 1; s <= maxStages; s++) {
      const inFlight = Math.min(s, B);
      for (let k = L - 1; k >= 0; k--) {
        for (let i = k; i < L; i++) {
          const opts = table(k, i);
          for (let oi = 0; oi < opts.length; oi++) {
            const o = opts[oi]!;
            if (o.total > tmax || !fits(o, inFlight)) continue;
            const rest = f[s - 1]![i + 1]!;
            for (let d = o.devices; d <= N; d++) {
              const r = rest[d - o.devices]!;
              if (r === Infinity) continue;
              const v = r + o.total;
              if (v < f[s]![k]![d]!) {
                f[s]![k]![d] = v;
                choice[s]![k]![d * 2] = i;
                choice[s]![k]![d * 2 + 1] = oi;
              }
            }
          }
        }
      }
      const total = f[s]![0]![N]!;
      if (total === Infinity) continue;
      if (tmax === Infinity) passSum = Math.min(passSum, total);
      // Rebuild the stages to know the real max (<= tmax).
      const stages: PlannedStage[] = [];
      let [k, d, ss] = [0, N, s];
      while (ss > 0) {
        const i = choice[ss]![k]![d * 2]!;
        const o = table(k, i)[choice[ss]![k]![d * 2 + 1]!]!;
        stages.push({ first: k, last: i, option: o, seconds: o.total });
        d -= o.devices;
        k = i + 1;
        ss -= 1;
      }
      const maxStageSeconds = Math.max(...stages.map((x) => x.seconds));
      const latency = total + (B - 1) * maxStageSeconds;
      if (!best || latency < best.latency - 1e-15) best = { stages, latency, maxStageSeconds };
    }
    if (tmax === Infinity) {
      if (passSum === Infinity) return undefined;
      leastSum = passSum;
    }
  }
  return best;
}

/**
 * The DP of planStages without the stage-count dimension, for when memory cannot bind:
 * f[k][d] is the least Σ time covering layers k..L-1 on exactly d devices. At each
 * t_max the least-Σ plan is kept; the optimum (slowest stage t*, sum Σ*) is reached at
 * t_max = t*, where the plan found has Σ <= Σ* and slowest stage <= t*.
 */
function planWithoutStageCount(p: StageProblem, table: ReturnType<typeof rangeTable>, tmaxes: readonly number[]): StagePlan | undefined {
  const L = p.layers;
  const N = p.devices;
  const B = p.microbatches;
  let best: StagePlan | undefined;
  let leastSum = 0;
  const f: Float64Array[] = Array.from({ length: L + 1 }, () => new Float64Array(N + 1));
  const choice: Int32Array[] = Array.from({ length: L + 1 }, () => new Int32Array((N + 1) * 2));
  for (const tmax of tmaxes) {
    if (best && (B - 1) * tmax + leastSum >= best.latency) break;
    for (const row of f) row.fill(Infinity);
    (f[L] as Float64Array)[0] = 0;
    for (let k = L - 1; k >= 0; k--) {
      const fk = f[k] as Float64Array;
      const ck = choice[k] as Int32Array;
      for (let i = k; i < L; i++) {
        const opts = table(k, i);
        const rest = f[i + 1] as Float64Array;
        for (let oi = 0; oi < opts.length; oi++) {
          const o = opts[oi] as (typeof opts)[number];
          if (o.total > tmax) continue;
          const dev = o.devices;
          for (let d = dev; d <= N; d++) {
            const r = rest[d - dev] as number;
            if (r === Infinity) continue;
            const v = r + o.total;
            if (v < (fk[d] as number)) {
              fk[d] = v;
              ck[d * 2] = i;
              ck[d * 2 + 1] = oi;
            }
          }
        }
      }
    }
    const total = (f[0] as Float64Array)[N] as number;
    if (total === Infinity) {
      if (tmax === Infinity) return undefined;
      continue;
    }
    if (tmax === Infinity) leastSum = total;
    const stages: PlannedStage[] = [];
    let [k, d] = [0, N];
    while (k < L) {
      const i = (choice[k] as Int32Array)[d * 2] as number;
      const o = table(k, i)[(choice[k] as Int32Array)[d * 2 + 1] as number];
      if (!o) throw new Error(`stage DP: no choice recorded at layer ${k}, ${d} devices`);
      stages.push({ first: k, last: i, option: o, seconds: o.total });
      d -= o.devices;
      k = i + 1;
    }
    const maxStageSeconds = Math.max(...stages.map((x) => x.seconds));
    const latency = total + (B - 1) * maxStageSeconds;
    if (!best || latency < best.latency - 1e-15) best = { stages, latency, maxStageSeconds };
  }
  return best;
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
    const fitting = table(first, last).filter((o) => fits(o, Math.min(S - idx, p.microbatches)));
    const o = fitting.sort((a, b) => a.total - b.total)[0];
    if (!o) return undefined;
    stages.push({ first, last, option: o, seconds: o.total });
  }
  if (stages.reduce((s, x) => s + x.option.devices, 0) !== p.devices) return undefined;
  const maxStageSeconds = Math.max(...stages.map((x) => x.seconds));
  return { stages, latency: stages.reduce((s, x) => s + x.seconds, 0) + (p.microbatches - 1) * maxStageSeconds, maxStageSeconds };
}

/** Every partition and option choice (tests only): the optimum by enumeration. */
export function planStagesByEnumeration(p: StageProblem): StagePlan | undefined {
  const table = rangeTable(p);
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
      for (const o of table(k, i)) {
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
