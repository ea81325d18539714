/** Degenerate problems every path must survive: empty, fully fixed, unlimited budgets and time. */
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import { bruteForce, solve, type Problem } from '../src/solver/index.js';

const solvers = ['auto', 'highs', 'glpk'] as const;

describe.each(solvers)('solve (%s) on degenerate problems', (solver) => {
  it('an empty problem is optimal at 0', async () => {
    const s = await solve({ nodes: [], edges: [], memory: [], ties: [] }, { solver });
    expect(s).toMatchObject({ choice: [], objective: 0, status: 'optimal', gap: 0 });
  });

  it('a budget no choice can meet, even with nothing to choose, is infeasible', async () => {
    const p: Problem = { nodes: [{ strategies: [{ cost: 1 }] }], edges: [], memory: [{ budget: 5, terms: [{ node: 0, bytes: [6] }] }], ties: [] };
    const s = await solve(p, { solver });
    expect(s.status).toBe('infeasible');
    expect(s.gap).toBe(Infinity);
    expect(s.bound).toBe(Infinity);
  });

  it('single-strategy nodes fold into their neighbours, and the budget still binds', async () => {
    const p: Problem = {
      nodes: [{ strategies: [{ cost: 1 }] }, { strategies: [{ cost: 0 }, { cost: 1 }, { cost: 2 }] }, { strategies: [{ cost: 3 }] }],
      edges: [
        { from: 0, to: 1, costs: [[5, 0, 1]] },
        { from: 1, to: 2, costs: [[0], [9], [0]] },
        { from: 0, to: 2, costs: [[4]] },
      ],
      memory: [{ budget: 10, terms: [{ node: 1, bytes: [11, 3, 4] }, { node: 0, bytes: [2] }] }],
      ties: [],
    };
    const s = await solve(p, { solver });
    const want = bruteForce(p);
    expect(s.status).toBe('optimal');
    expect(s.objective).toBeCloseTo(want.objective, 12);
    expect(s.choice).toEqual(want.choice);
  });

  it('an infinite budget and an infinite time limit are no limits', async () => {
    const p: Problem = {
      nodes: [{ strategies: [{ cost: 1 }, { cost: 2 }] }, { strategies: [{ cost: 2 }, { cost: 1 }] }, { strategies: [{ cost: 1 }, { cost: 1 }] }],
      edges: [
        { from: 0, to: 1, costs: [[0, 3], [3, 0]] },
        { from: 1, to: 2, costs: [[0, 1], [1, 0]] },
        { from: 2, to: 0, costs: [[0, 2], [2, 0]] },
      ],
      memory: [{ budget: Infinity, terms: [{ node: 0, bytes: [1e15, 1] }] }],
      ties: [],
    };
    const s = await solve(p, { solver, timeLimitSeconds: Infinity });
    expect(s.status).toBe('optimal');
    expect(s.objective).toBeCloseTo(bruteForce(p).objective, 12);
  });

  it('rejects a non-positive time limit', async () => {
    const p: Problem = { nodes: [{ strategies: [{ cost: 1 }] }], edges: [], memory: [], ties: [] };
    await expect(solve(p, { solver, timeLimitSeconds: 0 })).rejects.toBeInstanceOf(AutoparError);
  });
});

describe('bruteForce', () => {
  it('refuses past its limit instead of running for hours', () => {
    const node = { strategies: Array.from({ length: 10 }, () => ({ cost: 1 })) };
    const p: Problem = { nodes: Array.from({ length: 7 }, () => node), edges: [], memory: [], ties: [] };
    expect(() => bruteForce(p)).toThrow(/10000000 assignments, over the limit of 1000000/);
    // Tied nodes count once: 10^4 assignments.
    expect(bruteForce({ ...p, ties: [[0, 1, 2, 3]] }).status).toBe('optimal');
  });
});
