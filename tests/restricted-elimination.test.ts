/**
 * Restricted solves on flat arrays (src/solver/restricted-elimination.ts), the inner
 * solve of axis descent: held to brute force on small problems of every shape the
 * generator makes (cycles, parallel edges, self-loops, equal costs), and to the general
 * path (restrict, reduce, eliminate, solve) on layer-shaped problems too large to
 * enumerate.
 */
import { describe, expect, it } from 'vitest';
import { bruteForce } from '../src/solver/brute-force.js';
import { evaluate } from '../src/solver/evaluate.js';
import type { Problem } from '../src/solver/problem.js';
import { layeredProblem, rng, smallRandomProblem } from '../src/solver/random-problem.js';
import { restrictProblem } from '../src/solver/restrict.js';
import { flattenProblem, MAX_FLAT_NODES, solveRestricted } from '../src/solver/restricted-elimination.js';
import { solve } from '../src/solver/solve.js';

const free = (p: Problem): Problem => ({ ...p, memory: [], ties: [] });

/** A random non-empty subset of each node's strategies, in a shuffled order. */
function restriction(p: Problem, seed: number): number[][] {
  const r = rng(seed);
  return p.nodes.map((n) => {
    const ks = n.strategies.map((_, k) => k).filter(() => r() < 0.6);
    const list = ks.length > 0 ? ks : [Math.floor(r() * n.strategies.length)];
    return list.sort(() => r() - 0.5);
  });
}

function restrictedOptimum(p: Problem, allowed: readonly (readonly number[])[]): number {
  return bruteForce(restrictProblem(p, allowed).problem).objective;
}

describe('restricted elimination', () => {
  it('finds the optimum of the restricted problem, within the restriction (400 small random problems)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const p = free(smallRandomProblem(seed, { maxNodes: 8, maxStrategies: 5 }));
      const flat = flattenProblem(p);
      if (!flat) throw new Error('a memory-free, tie-free problem must flatten');
      for (const [t, allowed] of [p.nodes.map((n) => n.strategies.map((_, k) => k)), restriction(p, seed * 7 + 1)].entries()) {
        const choice = solveRestricted(flat, allowed);
        if (!choice) throw new Error(`seed ${seed}: no answer under the default caps`);
        choice.forEach((c, v) => expect(allowed[v], `seed ${seed}.${t}, node ${v}`).toContain(c));
        const want = restrictedOptimum(p, allowed);
        expect(evaluate(p, choice).objective, `seed ${seed}.${t}`).toBeCloseTo(want, 9);
      }
    }
  });

  it('agrees with the general path on layer-shaped problems of 120 nodes', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const p = free(layeredProblem(seed, { nodes: 120, minStrategies: 2, maxStrategies: 6, extraEdgeRatio: 0.3 }));
      const flat = flattenProblem(p);
      if (!flat) throw new Error('must flatten');
      const allowed = restriction(p, seed);
      const choice = solveRestricted(flat, allowed);
      if (!choice) throw new Error(`seed ${seed}: no answer under the default caps`);
      const sub = restrictProblem(p, allowed);
      const general = await solve(sub.problem);
      expect(general.status).toBe('optimal');
      const want = evaluate(p, sub.expand(general.choice)).objective;
      expect(Math.abs(evaluate(p, choice).objective - want) / Math.abs(want), `seed ${seed}`).toBeLessThan(1e-12);
    }
  });

  it('folds pairs that are a row term plus a column term, and prefers the first of equal choices', () => {
    // 0 - 1 - 2 - 0: a triangle, but the 0-2 pair is a + b (separable) and leaves a chain.
    const sep = [1, 4, 2].map((a) => [0, 3, 5].map((b) => a + b));
    const p: Problem = {
      nodes: [{ strategies: [{ cost: 2 }, { cost: 1 }, { cost: 3 }] }, { strategies: [{ cost: 0 }, { cost: 0 }] }, { strategies: [{ cost: 1 }, { cost: 1 }, { cost: 0 }] }],
      edges: [
        { from: 0, to: 1, costs: [[0, 5], [5, 0], [1, 1]] },
        { from: 1, to: 2, costs: [[0, 2, 4], [2, 0, 4]] },
        { from: 2, to: 0, costs: [0, 1, 2].map((j) => [0, 1, 2].map((i) => sep[i]![j]!)) },
      ],
      memory: [],
      ties: [],
    };
    const flat = flattenProblem(p);
    if (!flat) throw new Error('must flatten');
    const all = p.nodes.map((n) => n.strategies.map((_, k) => k));
    const choice = solveRestricted(flat, all);
    expect(evaluate(p, choice ?? []).objective).toBeCloseTo(bruteForce(p).objective, 12);
    // Two equal strategies on a node alone: the first one listed is taken.
    const twin: Problem = { nodes: [{ strategies: [{ cost: 1 }, { cost: 1 }, { cost: 2 }] }], edges: [], memory: [], ties: [] };
    const twinFlat = flattenProblem(twin);
    if (!twinFlat) throw new Error('must flatten');
    expect(solveRestricted(twinFlat, [[2, 1, 0]])).toEqual([1]);
    expect(solveRestricted(twinFlat, [[0, 1, 2]])).toEqual([0]);
  });

  it('gives up past its work caps, and refuses problems with memory, ties or too many nodes', () => {
    const p = free(layeredProblem(3, { nodes: 60, minStrategies: 4, maxStrategies: 6, extraEdgeRatio: 0.5 }));
    const flat = flattenProblem(p);
    if (!flat) throw new Error('must flatten');
    const all = p.nodes.map((n) => n.strategies.map((_, k) => k));
    expect(solveRestricted(flat, all, { stepWork: 10 })).toBeUndefined();
    expect(solveRestricted(flat, all, { totalWork: 100 })).toBeUndefined();
    expect(solveRestricted(flat, all)).toBeDefined();
    const withMemory = layeredProblem(3, { nodes: 20, minStrategies: 2, maxStrategies: 3, extraEdgeRatio: 0.2, memoryTightness: 0.5 });
    expect(withMemory.memory.length).toBeGreaterThan(0);
    expect(flattenProblem(withMemory)).toBeUndefined();
    const tied = layeredProblem(3, { nodes: 20, minStrategies: 2, maxStrategies: 3, extraEdgeRatio: 0.2, tieGroupSize: 3 });
    expect(tied.ties.some((t) => t.length > 1)).toBe(true);
    expect(flattenProblem(tied)).toBeUndefined();
    const huge: Problem = { nodes: Array.from({ length: MAX_FLAT_NODES + 1 }, () => ({ strategies: [{ cost: 1 }, { cost: 2 }] })), edges: [], memory: [], ties: [] };
    expect(flattenProblem(huge)).toBeUndefined();
    expect(flattenProblem({ ...huge, nodes: huge.nodes.slice(1) })).toBeDefined();
  });
});
