/**
 * On random small graphs, the intra-op pass's answer (reductions, elimination, the
 * priced memory search and the MILP) equals brute-force enumeration of every
 * assignment of the same problem; with a binding memory limit it stays feasible and
 * within the gap it reports of the enumerated optimum.
 */
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { solveUnderMemory } from '../passes/intra-op/lagrange.js';
import { buildIntraOpProblem } from '../passes/intra-op/build.js';
import { DEVICE_PRESETS } from '../src/cluster/presets.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { hostTensor, numel } from '../src/ir/host-tensor.js';
import type { Graph } from '../src/ir/types.js';
import { deviceMesh } from '../src/sharding/mesh.js';
import { createResharder } from '../src/sharding/reshard.js';
import { bruteForce } from '../src/solver/brute-force.js';
import { evaluate } from '../src/solver/evaluate.js';
import { solveWithGlpk } from '../src/solver/glpk.js';
import { solveWithHighs } from '../src/solver/highs.js';
import { buildIlp } from '../src/solver/ilp.js';
import type { Problem } from '../src/solver/problem.js';
import { Rng } from './helpers/random.js';

function randomGraph(rng: Rng): Graph {
  const b = GraphBuilder.empty(17);
  const dims = [2, 4, 8, 16];
  let width = rng.pick(dims);
  const batch = rng.pick(dims);
  let x = b.input('x', { dtype: 'float32', shape: [batch, width] });
  const ops = rng.int(2, 4);
  for (let i = 0; i < ops; i++) {
    const kind = rng.pick(['linear', 'relu', 'add-bias', 'softmax']);
    if (kind === 'linear') {
      const out = rng.pick(dims);
      const w = b.initializer(`w${i}`, hostTensor('float32', [width, out], new Array<number>(width * out).fill(0.1)), { dtype: 'float32', shape: [width, out] });
      x = b.op('MatMul', [x, w]);
      width = out;
    } else if (kind === 'add-bias') {
      const bias = b.initializer(`b${i}`, hostTensor('float32', [width], new Array<number>(width).fill(0)), { dtype: 'float32', shape: [width] });
      x = b.op('Add', [x, bias]);
    } else {
      x = b.op(kind === 'relu' ? 'Relu' : 'Softmax', [x], kind === 'softmax' ? { axis: -1 } : {});
    }
  }
  return b.build([x]);
}

function problemOf(g: Graph, budget?: number): Problem {
  const mesh = deviceMesh([{ name: 'x', size: 2, alpha: 5e-6, beta: 1 / 300e9 }]);
  const cost = analyticalCostModel();
  const device = DEVICE_PRESETS['A100-80GB'];
  if (!device) throw new Error('no A100 preset');
  // Every op output counts as resident so that a budget can bind.
  const resident = new Set(g.nodes.flatMap((n) => n.outputs));
  const ip = buildIntraOpProblem({ graph: g, roles: { updates: new Map(), resident }, mesh, cost, device, resharder: createResharder(mesh, cost), memoryBudget: budget, tieRepeats: false });
  return ip.problem;
}

const assignments = (p: Problem): number => p.nodes.reduce((s, n) => s * n.strategies.length, 1);

describe('intra-op optimum against brute force', () => {
  it('equals enumeration on 40 random graphs (no binding memory)', async () => {
    const rng = new Rng(2024);
    let checked = 0;
    for (let k = 0; k < 40; k++) {
      const p = problemOf(randomGraph(rng));
      if (assignments(p) > 200_000) continue;
      const want = bruteForce(p);
      const got = await solveUnderMemory(p, { solver: 'auto' });
      expect(evaluate(p, got.choice).objective).toBeCloseTo(got.objective, 12);
      expect(Math.abs(got.objective - want.objective) / Math.max(want.objective, 1e-12), `graph ${k}`).toBeLessThan(1e-9);
      checked++;
    }
    expect(checked).toBeGreaterThan(25);
  }, 120_000);

  it('the ILP alone (HiGHS and glpk.js, no reductions, no DP) equals enumeration on the same graphs, memory row included', async () => {
    // The pass's 'auto' path solves these chains by DP and elimination; this is the ILP itself.
    const rng = new Rng(2025);
    let checked = 0;
    let binding = 0;
    for (let k = 0; k < 30; k++) {
      const g = randomGraph(rng);
      const free = problemOf(g);
      if (assignments(free) > 200_000) continue;
      // Half of them under a budget between the leanest and the fastest plan's memory.
      const fastest = bruteForce(free);
      const lean = Math.min(...free.memory.map((m) => m.terms.reduce((sum, t) => sum + Math.min(...t.bytes), 0)));
      const p = k % 2 === 0 ? free : problemOf(g, Math.floor((lean + (evaluate(free, fastest.choice).memory[0] ?? 0)) / 2));
      const want = k % 2 === 0 ? fastest : bruteForce(p);
      if (!evaluate(p, fastest.choice).feasible && want.status === 'optimal') binding++;
      const milp = buildIlp({ ...p, ties: [] });
      for (const [name, run] of [
        ['highs', solveWithHighs],
        ['glpk', solveWithGlpk],
      ] as const) {
        const out = await run(milp, undefined);
        const what = `graph ${k} (${name})`;
        if (want.status === 'infeasible') {
          expect(out.status, what).toBe('infeasible');
          continue;
        }
        expect(out.status, what).toBe('optimal');
        if (out.status !== 'optimal') continue;
        const ev = evaluate(p, milp.decode(out.values));
        expect(ev.feasible, what).toBe(true);
        // Up to the solvers' tolerance: a millionth of the largest cost coefficient (the ILP
        // scales that to 1). On graphs whose whole cost is the 1e-14 s/byte memory tie-break,
        // glpk.js stops 64 bytes (6e-13 s) from the optimum, inside its default tolerance.
        expect(Math.abs(ev.objective - want.objective), what).toBeLessThanOrEqual(1e-9 * want.objective + 1e-6 * milp.scale);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    expect(binding).toBeGreaterThan(3);
  }, 120_000);

  it('stays feasible and within its reported gap when the memory limit binds', async () => {
    const rng = new Rng(77);
    let binding = 0;
    for (let k = 0; k < 40; k++) {
      const g = randomGraph(rng);
      const free = problemOf(g);
      if (assignments(free) > 200_000) continue;
      // A budget between the least and the most memory any plan needs.
      const memOf = (choice: readonly number[]): number => evaluate(free, choice).memory[0] ?? 0;
      const loose = await solveUnderMemory(free);
      const total = g.nodes.flatMap((n) => n.outputs).reduce((s, o) => s + numel((g.types.get(o)?.shape ?? []).map(Number)) * 4, 0) + [...g.initializers.values()].reduce((s, i) => s + numel(i.type.shape.map(Number)) * 4, 0);
      const budget = Math.floor((memOf(loose.choice) + total / 2) / 2);
      const p = problemOf(g, budget);
      const want = bruteForce(p);
      const got = await solveUnderMemory(p);
      if (want.status === 'infeasible') {
        expect(got.fits).toBe(false);
        continue;
      }
      if (memOf(loose.choice) > budget) binding++;
      const ev = evaluate(p, got.choice);
      expect(ev.feasible, `graph ${k}: ${ev.violations.join('; ')}`).toBe(true);
      expect(got.objective).toBeGreaterThanOrEqual(want.objective * (1 - 1e-9));
      expect(got.objective - want.objective).toBeLessThanOrEqual(got.gap * got.objective + 1e-12);
    }
    expect(binding).toBeGreaterThan(3);
  }, 120_000);
});
