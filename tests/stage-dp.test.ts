/** The stage DP against enumeration of every partition and submesh assignment, and its shape on simple profiles. */
import { dpSpans } from '../passes/inter-op/pipeline.js';
import { describe, expect, it } from 'vitest';
import { planStages, planStagesByEnumeration, type StageOption, type StagePlan, type StageProblem } from '../passes/inter-op/stage-dp.js';
import { Rng } from './helpers/random.js';

/** Stage time of a range on d devices: its work split d ways with an efficiency loss, plus a per-stage overhead. */
function problem(costs: readonly number[], devices: number, sizes: readonly number[], microbatches: number, opts: { memory?: number; act?: number; param?: number; boundary?: number; replicatedParams?: boolean } = {}): StageProblem {
  return {
    layers: costs.length,
    devices,
    microbatches,
    options: (first, last): StageOption[] => {
      const work = costs.slice(first, last + 1).reduce((s, c) => s + c, 0);
      return sizes
        .filter((d) => d <= devices)
        .map((d, i) => ({
          submesh: i,
          devices: d,
          seconds: work / (d * (1 - 0.05 * Math.log2(d))) + 1e-3,
          // Data-parallel stages replicate their parameters; otherwise they shard them.
          staticBytes: ((opts.param ?? 0) * (last - first + 1)) / (opts.replicatedParams ? 1 : d),
          activationBytes: (opts.act ?? 0) * (last - first + 1) / d,
          memoryLimit: opts.memory ?? Infinity,
        }));
    },
    boundarySeconds: opts.boundary === undefined ? undefined : () => opts.boundary ?? 0,
  };
}

/**
 * The DP against enumeration on one instance: both find nothing, or the same latency.
 * Returns the enumeration's plan (undefined when there is none).
 */
function expectEnumerationOptimum(p: StageProblem, k: number): StagePlan | undefined {
  const dp = planStages(p);
  const brute = planStagesByEnumeration(p);
  if (!brute) {
    expect(dp, `instance ${k}`).toBeUndefined();
    return undefined;
  }
  expect(dp, `instance ${k}`).toBeDefined();
  expect(dp?.latency ?? NaN, `instance ${k}`).toBeCloseTo(brute.latency, 9);
  expect(dp?.stages.reduce((s, x) => s + x.option.devices, 0), `instance ${k}`).toBe(p.devices);
  return brute;
}

describe('stage DP', () => {
  it('equals enumeration on 150 random small instances', () => {
    const rng = new Rng(5);
    let compared = 0;
    for (let k = 0; k < 150; k++) {
      const L = rng.int(1, 6);
      const N = rng.pick([1, 2, 4, 6]);
      const costs = Array.from({ length: L }, () => rng.uniform(0.1, 3));
      const sizes = rng.pick([[1, 2, 4], [1, 2, 3, 6], [2, 4], [1]]);
      const withMemory = rng.next() < 0.5;
      const p = problem(costs, N, sizes, rng.int(1, 9), withMemory ? { memory: rng.uniform(2, 12), act: rng.uniform(0.5, 3), param: rng.uniform(0, 2), boundary: rng.uniform(0, 0.2) } : {});
      if (expectEnumerationOptimum(p, k)) compared++;
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('equals enumeration when memory binds with fewer micro-batches than stages (the DP merges stage counts >= B)', () => {
    const rng = new Rng(11);
    let compared = 0;
    let multiStage = 0;
    for (let k = 0; k < 120; k++) {
      const L = rng.int(3, 8);
      const N = rng.pick([4, 6, 8]);
      const costs = Array.from({ length: L }, () => rng.uniform(0.1, 3));
      const B = rng.int(1, 4);
      const p = problem(costs, N, rng.pick([[1, 2, 4], [1, 2], [1]]), B, { memory: rng.uniform(3, 10), act: rng.uniform(0.5, 2), param: rng.uniform(0.5, 2), replicatedParams: rng.next() < 0.5, boundary: rng.uniform(0, 0.2) });
      const brute = expectEnumerationOptimum({ ...p, tmaxStep: 0 }, k);
      if (!brute) continue;
      compared++;
      if (brute.stages.length > B) multiStage++;
    }
    expect(compared).toBeGreaterThan(60);
    // Plans with more stages than micro-batches, where the merged level is exercised.
    expect(multiStage).toBeGreaterThan(10);
  });

  it('equals enumeration with several meshes per device count and many close stage times (the cap search skips covered caps)', () => {
    // Several options per device count with nearly equal times: many distinct caps, most
    // of them covered by a pass at a larger cap. Exact search (tmaxStep 0) must still
    // find the enumeration's optimum, with memory binding or not.
    const rng = new Rng(23);
    let compared = 0;
    for (let k = 0; k < 80; k++) {
      const L = rng.int(2, 7);
      const N = rng.pick([4, 6, 8]);
      const B = rng.int(1, 12);
      // [4, 8] and [2, 4, 8]: device counts with a common divisor above 1 (the DP counts in its units).
      const sizes = rng.pick([[1, 2, 4], [1, 2, 3, 6], [2, 4, 8], [1, 4], [4, 8]]).filter((d) => d <= N);
      const variants = rng.int(1, 4);
      const work = Array.from({ length: L }, () => rng.uniform(0.5, 2));
      const memory = rng.next() < 0.5 ? rng.uniform(2, 8) : Infinity;
      const p: StageProblem = {
        layers: L,
        devices: N,
        microbatches: B,
        tmaxStep: 0,
        options: (first, last) =>
          sizes.flatMap((d, i) =>
            Array.from({ length: variants }, (_, v) => {
              const w = work.slice(first, last + 1).reduce((s, c) => s + c, 0);
              // Variant v: a little slower, a little leaner (a lean layout).
              return { submesh: i * variants + v, devices: d, seconds: (w / d) * (1 + 0.03 * v) + 0.01 * ((first * 7 + last * 3 + v) % 5), staticBytes: (0.6 * (last - first + 1)) / (1 + 0.2 * v), activationBytes: (0.4 * (last - first + 1)) / d, memoryLimit: memory };
            }),
          ),
        boundarySeconds: () => 0.02,
      };
      if (expectEnumerationOptimum(p, k)) compared++;
    }
    expect(compared).toBeGreaterThan(50);
  });

  it('equals enumeration when only a slower, leaner option fits (the options the DP prunes are dominated ones only)', () => {
    // Per device count: a fast layout, the same one again (a tie), and one 15-40% slower
    // holding half the static bytes or half the activations. Memory set near what the fast
    // one needs: optima that need a lean option, checked against enumeration over the
    // options as given.
    const rng = new Rng(31);
    let compared = 0;
    let leanUsed = 0;
    for (let k = 0; k < 150; k++) {
      const L = rng.int(2, 6);
      const N = rng.pick([2, 4, 6]);
      const B = rng.int(1, 6);
      const sizes = rng.pick([[1, 2], [1, 2, 4], [2], [1, 3, 6]]).filter((d) => d <= N);
      const work = Array.from({ length: L }, () => rng.uniform(0.5, 2));
      const slower = rng.uniform(1.15, 1.4);
      const leanDim = rng.pick(['static', 'activation'] as const);
      const p: StageProblem = {
        layers: L,
        devices: N,
        microbatches: B,
        tmaxStep: 0,
        options: (first, last) =>
          sizes.flatMap((d, i) => {
            const n = last - first + 1;
            const w = work.slice(first, last + 1).reduce((a, c) => a + c, 0) / d;
            const fast = { devices: d, seconds: w, staticBytes: n / d, activationBytes: (0.5 * n) / d, memoryLimit: 1.2 };
            const lean = { ...fast, seconds: w * slower, ...(leanDim === 'static' ? { staticBytes: fast.staticBytes / 2 } : { activationBytes: fast.activationBytes / 2 }) };
            return [
              { ...fast, submesh: 3 * i },
              { ...fast, submesh: 3 * i + 1 },
              { ...lean, submesh: 3 * i + 2 },
            ];
          }),
        boundarySeconds: () => 0.01,
      };
      const brute = expectEnumerationOptimum(p, k);
      if (!brute) continue;
      compared++;
      if (brute.stages.some((st) => st.option.submesh % 3 === 2)) leanUsed++;
    }
    expect(compared).toBeGreaterThan(40);
    expect(leanUsed).toBeGreaterThan(15);
  });

  it('balances a uniform model: equal layer counts per stage', () => {
    const plan = planStages(problem(new Array<number>(8).fill(1), 4, [1], 16));
    expect(plan?.stages.map((s) => s.last - s.first + 1)).toEqual([2, 2, 2, 2]);
  });

  it('gives an uneven model uneven layer counts but even stage times', () => {
    // A heavy last layer (a large vocabulary head): it gets a stage of its own.
    const costs = [1, 1, 1, 1, 1, 1, 3];
    const plan = planStages(problem(costs, 3, [1], 32));
    const counts = plan?.stages.map((s) => s.last - s.first + 1) ?? [];
    expect(counts).toEqual([3, 3, 1]);
    const times = plan?.stages.map((s) => s.seconds) ?? [];
    expect(Math.max(...times) / Math.min(...times)).toBeLessThan(1.01);
  });

  it('rejects stages whose in-flight activations do not fit, and pipelines a model that only fits that way', () => {
    // Replicated parameters (2 per layer) and activations (0.5 per layer per micro-batch, split
    // over a stage's devices); memory 5 per device. One stage on all 4 devices holds 8 > 5.
    const p = problem([1, 1, 1, 1], 4, [1, 2, 4], 8, { memory: 5, act: 0.5, param: 2, replicatedParams: true });
    const plan = planStages(p);
    expect(plan).toBeDefined();
    const stages = plan?.stages ?? [];
    expect(stages.length).toBeGreaterThan(1);
    for (const [i, st] of stages.entries()) {
      // 1F1B: the stage with (S - i) stages from it to the end holds that many micro-batches.
      const inFlight = Math.min(stages.length - i, 8);
      expect(st.option.staticBytes + st.option.activationBytes * inFlight).toBeLessThanOrEqual(5);
    }
    // Without the limit the same instance prefers fewer stages: memory changed the plan.
    const free = planStages(problem([1, 1, 1, 1], 4, [1, 2, 4], 8, { act: 0.5, param: 2, replicatedParams: true }));
    expect(free?.stages.length).toBeLessThan(stages.length);
  });
});

describe('the stage DP units (dpSpans)', () => {
  it('are the layers themselves up to the limit, else the first and last alone and the interior in runs', () => {
    expect(dpSpans(5, 40)).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]);
    expect(dpSpans(40, 40)).toHaveLength(40);
    for (const [L, max] of [[41, 40], [50, 40], [98, 40], [98, 10], [7, 4], [1000, 40]] as const) {
      const spans = dpSpans(L, max);
      expect(spans.length, `L=${L} max=${max}`).toBeLessThanOrEqual(max);
      expect(spans[0]).toEqual([0, 0]);
      expect(spans[spans.length - 1]).toEqual([L - 1, L - 1]);
      // Contiguous, covering every layer once, runs of one length but the last interior one.
      spans.forEach((s, i) => i > 0 && expect(s[0]).toBe((spans[i - 1]?.[1] ?? -2) + 1));
      const interior = spans.slice(1, -1).map(([a, b]) => b - a + 1);
      expect(new Set(interior.slice(0, -1)).size).toBeLessThanOrEqual(1);
      expect(interior.at(-1)).toBeLessThanOrEqual(interior[0] ?? 0);
    }
    // GPT-175B's 96 blocks between embedding and head: 32 runs of 3.
    expect(dpSpans(98, 40).slice(1, -1).every(([a, b]) => b - a === 2)).toBe(true);
  });
});
