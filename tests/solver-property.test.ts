/**
 * Random small problems (seeded): cycles, parallel edges, self-loops, ties, memory that is
 * slack, binding or impossible. HiGHS, glpk.js and the tree DP must find the brute-force
 * optimum; the reductions and the ILP alone must too; bounds must stay below it.
 */
import { describe, expect, it } from 'vitest';
import { bruteForce, evaluate, forestDp, reduce, relaxationBound, solve, type Problem, type Solution } from '../src/solver/index.js';
import { isForest } from '../src/solver/graph.js';
import { greedy } from '../src/solver/greedy.js';
import { buildIlp } from '../src/solver/ilp.js';
import { solveWithGlpk } from '../src/solver/glpk.js';
import { solveWithHighs } from '../src/solver/highs.js';
import { layeredProblem, smallRandomProblem } from '../src/solver/random-problem.js';

const SEEDS = Array.from({ length: 160 }, (_, i) => 1000 + i);
const cases = SEEDS.map((seed) => ({ seed, p: smallRandomProblem(seed), best: undefined as Solution | undefined }));
for (const c of cases) c.best = bruteForce(c.p);
const oracle = (c: (typeof cases)[number]): Solution => {
  if (c.best === undefined) throw new Error('no brute force');
  return c.best;
};

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

function expectMatches(got: Solution, want: Solution, p: Problem, what: string): void {
  expect(got.status, what).toBe(want.status);
  expect(got.choice.length, what).toBe(p.nodes.length);
  expect(evaluate(p, got.choice).objective, what).toBe(got.objective);
  if (want.status === 'optimal') {
    expect(close(got.objective, want.objective), `${what}: ${got.objective} vs brute force ${want.objective}`).toBe(true);
    expect(evaluate(p, got.choice).feasible, what).toBe(true);
    expect(got.bound, what).toBeLessThanOrEqual(got.objective);
    expect(got.gap, what).toBeGreaterThanOrEqual(0);
    expect(got.gap, what).toBeLessThan(1e-6);
  } else {
    expect(got.gap, what).toBe(Infinity);
  }
}

describe('the generator covers the cases the properties are about', () => {
  it('has infeasible, binding, tied, cyclic and parallel-edge problems', () => {
    const infeasible = cases.filter((c) => oracle(c).status === 'infeasible').length;
    const tied = cases.filter((c) => c.p.ties.some((t) => t.length > 1)).length;
    const cyclic = cases.filter((c) => !isForest(c.p)).length;
    // Binding: the optimum without budgets breaks one.
    const binding = cases.filter((c) => {
      if (oracle(c).status !== 'optimal' || c.p.memory.length === 0) return false;
      const free = bruteForce({ ...c.p, memory: [] });
      return !evaluate(c.p, free.choice).feasible;
    }).length;
    expect(infeasible).toBeGreaterThan(5);
    expect(binding).toBeGreaterThan(5);
    expect(tied).toBeGreaterThan(20);
    expect(cyclic).toBeGreaterThan(20);
    expect(cases.length - infeasible).toBeGreaterThan(100);
  });
});

describe.each(['highs', 'glpk', 'auto'] as const)('solve with %s equals brute force', (solver) => {
  it('on every seed', async () => {
    let treeDp = 0;
    for (const c of cases) {
      const got = await solve(c.p, { solver });
      if (got.solver === 'tree-dp') treeDp++;
      if (solver !== 'auto') expect(['highs', 'glpk', 'presolve']).toContain(got.solver);
      expectMatches(got, oracle(c), c.p, `seed ${c.seed} (${solver}, via ${got.solver})`);
    }
    // 'auto' must really take the DP path on forests, or this proves nothing about it.
    if (solver === 'auto') expect(treeDp).toBeGreaterThan(20);
  });
});

describe('each stage alone equals brute force', () => {
  it('the reduction keeps the optimum (brute force on the reduced problem + offset)', () => {
    for (const c of cases) {
      const want = oracle(c);
      const r = reduce(c.p);
      if (r.infeasible !== undefined) {
        expect(want.status, `seed ${c.seed}: reduction says infeasible`).toBe('infeasible');
        continue;
      }
      const sub = bruteForce(r.problem);
      expect(sub.status, `seed ${c.seed}`).toBe(want.status);
      if (want.status !== 'optimal') continue;
      expect(close(sub.objective + r.offset, want.objective), `seed ${c.seed}: ${sub.objective} + ${r.offset} vs ${want.objective}`).toBe(true);
      // And the expanded choice really costs that on the original problem.
      const expanded = evaluate(c.p, r.expand(sub.choice));
      expect(expanded.feasible, `seed ${c.seed}`).toBe(true);
      expect(close(expanded.objective, want.objective), `seed ${c.seed}`).toBe(true);
    }
  });

  it('the reduction stops only at its fixpoint: reducing its result again removes nothing', () => {
    // reduce re-checks only what changed since a step last looked at it (a variable whose
    // neighbours lost strategies, an edge whose ends did, a constraint whose terms or budget
    // did); one missed re-check leaves a dominated strategy or a constant edge behind.
    const size = (p: Problem): string => `${p.nodes.map((n) => n.strategies.length).join(',')} | ${p.edges.length} edges | ${p.memory.length} budgets`;
    let rounds = 0;
    const problems = [...cases.map((c) => ({ what: `seed ${c.seed}`, p: c.p })), ...Array.from({ length: 40 }, (_, i) => ({ what: `layered ${i}`, p: layeredProblem(500 + i, { nodes: 60, minStrategies: 2, maxStrategies: 6, extraEdgeRatio: 0.3, memoryTightness: i % 2 === 0 ? 0.5 : undefined }) }))];
    for (const { what, p } of problems) {
      const r = reduce(p);
      if (r.infeasible !== undefined) continue;
      const again = reduce(r.problem);
      expect(size(again.problem), what).toBe(size(r.problem));
      expect(again.offset, what).toBe(0);
      if (size(r.problem) !== size(p)) rounds++;
    }
    expect(rounds).toBeGreaterThan(100);
  });

  it('an edge made constant by a strategy dominated late is still dropped', () => {
    // Round 1 fixes e, whose edge raises a's third strategy; round 2 drops it as dominated
    // (by the first); only then is the a-b edge constant over what is left (1 everywhere).
    const s = (...costs: number[]): { cost: number }[] => costs.map((cost) => ({ cost }));
    const p: Problem = {
      nodes: [{ name: 'a', strategies: s(5, 5, 0) }, { name: 'b', strategies: s(0, 0) }, { name: 'c', strategies: s(0, 0) }, { name: 'e', strategies: s(0) }, { name: 'f', strategies: s(0, 0) }],
      edges: [
        { from: 0, to: 1, costs: [[1, 1], [1, 1], [2, 2]] },
        { from: 0, to: 2, costs: [[0, 3], [3, 0], [3, 3]] },
        { from: 0, to: 3, costs: [[0], [0], [10]] },
        { from: 1, to: 4, costs: [[0, 1], [1, 0]] },
      ],
      memory: [],
      ties: [],
    };
    const r = reduce(p);
    expect(r.kept).toEqual([[0, 1], [0, 1], [0, 1], [0, 1]]);
    expect(r.problem.edges.map((e) => [r.members[e.from]?.[0], r.members[e.to]?.[0]])).toEqual([[0, 2], [1, 4]]);
    expect(r.offset).toBe(1);
  });

  it('the ILP without any reduction, on both backends (untied problems)', async () => {
    let infeasible = 0;
    for (const c of cases.filter((x) => x.p.ties.every((t) => t.length < 2))) {
      const want = oracle(c);
      const milp = buildIlp(c.p);
      for (const [name, run] of [['highs', solveWithHighs], ['glpk', solveWithGlpk]] as const) {
        const out = await run(milp, undefined);
        const what = `seed ${c.seed} (${name})`;
        if (want.status === 'infeasible') {
          expect(out.status, what).toBe('infeasible');
          continue;
        }
        expect(out.status, what).toBe('optimal');
        if (out.status !== 'optimal') continue;
        const ev = evaluate(c.p, milp.decode(out.values));
        expect(ev.feasible, what).toBe(true);
        expect(close(ev.objective, want.objective), `${what}: ${ev.objective} vs ${want.objective}`).toBe(true);
      }
      if (want.status === 'infeasible') infeasible++;
    }
    expect(infeasible).toBeGreaterThan(3);
  });

  it('the tree DP on untied forests without memory', () => {
    let n = 0;
    for (const c of cases) {
      if (c.p.ties.some((t) => t.length > 1) || !isForest(c.p)) continue;
      const p = { ...c.p, memory: [] };
      const dp = forestDp(p);
      expect(close(evaluate(p, dp.choice).objective, bruteForce(p).objective), `seed ${c.seed}`).toBe(true);
      expect(close(dp.objective, evaluate(p, dp.choice).objective), `seed ${c.seed}`).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(20);
  });

  it('the relaxation bound never exceeds the optimum', () => {
    for (const c of cases) {
      const want = oracle(c);
      const r = reduce(c.p);
      if (want.status !== 'optimal' || r.infeasible !== undefined) continue;
      expect(relaxationBound(r.problem) + r.offset, `seed ${c.seed}`).toBeLessThanOrEqual(want.objective + 1e-9 * Math.abs(want.objective));
    }
  });

  it('the greedy meets the budgets when there are none, and never beats the optimum when it meets them', () => {
    for (const c of cases) {
      const want = oracle(c);
      const r = reduce(c.p);
      if (want.status !== 'optimal' || r.infeasible !== undefined) continue;
      const ev = evaluate(c.p, r.expand(greedy(r.problem)));
      if (ev.feasible) expect(ev.objective, `seed ${c.seed}`).toBeGreaterThanOrEqual(want.objective - 1e-9 * Math.abs(want.objective));
      if (c.p.memory.length === 0) expect(ev.feasible, `seed ${c.seed}`).toBe(true);
    }
  });

  it('the greedy repairs a start that breaks a binding budget', () => {
    let starts = 0;
    for (const c of cases) {
      if (oracle(c).status !== 'optimal' || c.p.ties.some((t) => t.length > 1) || c.p.memory.length === 0) continue;
      const over = bruteForce({ ...c.p, memory: [] }).choice;
      if (evaluate(c.p, over).feasible) continue;
      starts++;
      // A local search can fail on a tangle of budgets; on these small ones it does not.
      expect(evaluate(c.p, greedy(c.p, over)).feasible, `seed ${c.seed}`).toBe(true);
    }
    expect(starts).toBeGreaterThan(15);
  });
});
