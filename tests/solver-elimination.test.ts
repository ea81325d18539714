/** Variable elimination (src/solver/variable-elimination.ts) against brute force, and its give-up rule. */
import { describe, expect, it } from 'vitest';
import { bruteForce, evaluate, type Problem } from '../src/solver/index.js';
import { smallRandomProblem } from '../src/solver/random-problem.js';
import { solveByElimination } from '../src/solver/variable-elimination.js';

const memoryFree = (p: Problem): Problem => ({ ...p, memory: [], ties: [] });

describe('variable elimination', () => {
  it('equals brute force on 200 random memory-free problems (cycles, parallel edges, self-loops)', () => {
    let solved = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const p = memoryFree(smallRandomProblem(seed));
      const ve = solveByElimination(p);
      expect(ve, `seed ${seed}`).toBeDefined();
      if (!ve) continue;
      const brute = bruteForce(p);
      // Its own objective and the evaluator's agree, and both are the optimum.
      expect(evaluate(p, ve.choice).objective, `seed ${seed}`).toBeCloseTo(ve.objective, 9);
      expect(ve.objective, `seed ${seed}`).toBeCloseTo(brute.objective, 9);
      solved++;
    }
    expect(solved).toBe(200);
  });

  it('gives up (undefined) past its work cap, and leaves memory and ties to others', () => {
    // A clique of 8 nodes with 10 strategies: eliminating any node makes a table of 10^7.
    const n = 8;
    const k = 10;
    const clique: Problem = {
      nodes: Array.from({ length: n }, () => ({ strategies: Array.from({ length: k }, (_, i) => ({ cost: i })) })),
      edges: Array.from({ length: n }, (_, a) => Array.from({ length: n - a - 1 }, (_, j) => ({ from: a, to: a + 1 + j, costs: Array.from({ length: k }, (_, x) => Array.from({ length: k }, (_, y) => (x === y ? 0 : 1))) }))).flat(),
      memory: [],
      ties: [],
    };
    expect(solveByElimination(clique, { stepWork: 1e6 })).toBeUndefined();
    expect(solveByElimination({ ...clique, memory: [{ budget: 1, terms: [] }] })).toBeUndefined();
    expect(solveByElimination({ ...clique, ties: [[0, 1]] })).toBeUndefined();
  });
});
