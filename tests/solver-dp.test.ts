/** The exact tree DP: a long chain solved fast and exactly, and when 'auto' must leave it. */
import { describe, expect, it } from 'vitest';
import { bruteForce, evaluate, solve, type Problem } from '../src/solver/index.js';
import { rng } from '../src/solver/random-problem.js';

/** A chain of n nodes with k strategies each, random costs (seeded). */
function chain(n: number, k: number, seed: number): Problem {
  const r = rng(seed);
  return {
    nodes: Array.from({ length: n }, (_, v) => ({ name: `op${v}`, strategies: Array.from({ length: k }, () => ({ cost: r() })) })),
    edges: Array.from({ length: n - 1 }, (_, v) => ({
      // Alternate directions: the DP must read from/to orientation right.
      from: v % 2 === 0 ? v : v + 1,
      to: v % 2 === 0 ? v + 1 : v,
      costs: Array.from({ length: k }, () => Array.from({ length: k }, () => r())),
    })),
    memory: [],
    ties: [],
  };
}

/** Viterbi along the chain, written out here so the test does not trust src/solver. */
function chainOptimum(p: Problem): number {
  let best = p.nodes[0]?.strategies.map((s) => s.cost) ?? [];
  for (let v = 1; v < p.nodes.length; v++) {
    const e = p.edges[v - 1];
    if (e === undefined) throw new Error('chain edge missing');
    best = (p.nodes[v]?.strategies ?? []).map((s, j) =>
      s.cost + Math.min(...best.map((b, i) => b + ((e.from === v - 1 ? e.costs[i]?.[j] : e.costs[j]?.[i]) ?? NaN))),
    );
  }
  return Math.min(...best);
}

describe('tree DP', () => {
  it('solves a 300-node chain with 20 strategies each exactly and fast', async () => {
    const p = chain(300, 20, 42);
    const s = await solve(p);
    expect(s.solver).toBe('tree-dp');
    expect(s.status).toBe('optimal');
    expect(s.gap).toBe(0);
    expect(Math.abs(s.objective - chainOptimum(p))).toBeLessThan(1e-9 * s.objective);
    expect(evaluate(p, s.choice).objective).toBe(s.objective);
    // The DP and reductions take ~50 ms once warm; the margin is for a loaded 2-core machine
    // running other test files (an ILP on this size takes minutes).
    expect(s.seconds).toBeLessThan(2);
  });

  it('keeps the DP when the memory budget is slack at its optimum', async () => {
    const p = chain(40, 5, 7);
    const bytes = (v: number) => [10 + v, 20, 30, 40, 50];
    const slack = { ...p, memory: [{ budget: 50 * 40, terms: p.nodes.map((_, v) => ({ node: v, bytes: bytes(v) })) }] };
    const s = await solve(slack);
    expect(s.solver).toBe('tree-dp');
    expect(s.objective).toBeCloseTo(chainOptimum(p), 9);
  });

  it('falls back to the ILP when the DP optimum breaks the budget, and meets it', async () => {
    const p = chain(10, 3, 9);
    const free = await solve(p);
    // Pin the budget just below what the free optimum uses: strategy 0 costs 1 byte, others 2.
    const terms = p.nodes.map((_, v) => ({ node: v, bytes: [1, 2, 2] }));
    const used = free.choice.reduce((sum, i) => sum + (i === 0 ? 1 : 2), 0);
    expect(used).toBeGreaterThan(10); // the free optimum uses some non-0 strategies
    const tight = { ...p, memory: [{ budget: used - 1, terms }] };
    const s = await solve(tight);
    expect(s.solver).toBe('highs');
    expect(s.status).toBe('optimal');
    expect(evaluate(tight, s.choice).feasible).toBe(true);
    expect(s.objective).toBeGreaterThanOrEqual(free.objective);
    expect(s.objective).toBeCloseTo(bruteForce(tight).objective, 9);
  });

  it('collapses ties: a tie that closes a cycle leaves the DP, one inside a path keeps it', async () => {
    const p = chain(6, 3, 3);
    // 0 ~ 5 joins the chain's ends: a cycle over the tie variable.
    const cyclic = { ...p, ties: [[0, 5]] };
    const c = await solve(cyclic);
    expect(c.solver).not.toBe('tree-dp');
    expect(c.objective).toBeCloseTo(bruteForce(cyclic).objective, 9);
    // 1 ~ 2 are neighbours: their edge folds into the tie variable's cost; still a path.
    const path = { ...p, ties: [[1, 2]] };
    const d = await solve(path);
    expect(d.solver).toBe('tree-dp');
    expect(d.choice[1]).toBe(d.choice[2]);
    expect(d.objective).toBeCloseTo(bruteForce(path).objective, 9);
  });

  it('sums parallel edges instead of calling them a cycle', async () => {
    const p = chain(5, 3, 5);
    const e = p.edges[2];
    if (e === undefined) throw new Error('no edge');
    const doubled = { ...p, edges: [...p.edges, { from: e.to, to: e.from, costs: [[0, 1, 2], [3, 4, 5], [6, 7, 8]] }] };
    const s = await solve(doubled);
    expect(s.solver).toBe('tree-dp');
    expect(s.objective).toBeCloseTo(bruteForce(doubled).objective, 9);
  });
});
