/**
 * Axis descent (src/solver/axis-descent.ts) on problems small enough to check by brute
 * force: complete graphs of 5 nodes (degree 4, so the exact reductions leave every node
 * in the core) whose 9 strategies are the pairs (x, y) of what a node does on each of two
 * axes, with real-valued random costs (no ties, no dominated strategy to speak of).
 */
import { describe, expect, it } from 'vitest';
import { type AxisLabels, solveByAxisDescent } from '../src/solver/axis-descent.js';
import { bruteForce } from '../src/solver/brute-force.js';
import { evaluate } from '../src/solver/evaluate.js';
import type { Problem, ProblemEdge } from '../src/solver/problem.js';
import { rng } from '../src/solver/random-problem.js';
import { restrictProblem } from '../src/solver/restrict.js';

const NODES = 5;
const PER_AXIS = 3;

function twoAxisProblem(seed: number): { problem: Problem; labels: AxisLabels } {
  const r = rng(seed);
  // Strategy k = x * PER_AXIS + y; label 0 is "nothing on this axis", as the planner's.
  const pairs = Array.from({ length: PER_AXIS * PER_AXIS }, (_, k) => [Math.floor(k / PER_AXIS), k % PER_AXIS]);
  const nodes = Array.from({ length: NODES }, (_, v) => ({ name: `n${v}`, strategies: pairs.map(() => ({ cost: 1 + 9 * r() })) }));
  const edges: ProblemEdge[] = [];
  for (let a = 0; a < NODES; a++) {
    for (let b = a + 1; b < NODES; b++) {
      // Cheaper where the two agree on an axis, as resharding is: a descent has something to find.
      const costs = pairs.map(([xa, ya]) => pairs.map(([xb, yb]) => r() * (1 + Number(xa !== xb) * 4 + Number(ya !== yb) * 4)));
      edges.push({ from: a, to: b, costs });
    }
  }
  return { problem: { nodes, edges, memory: [], ties: [] }, labels: nodes.map(() => pairs) };
}

/** The optimum with every node held to `choice` on all axes but `free`. */
function axisOptimum(p: Problem, labels: AxisLabels, choice: readonly number[], free: number): number {
  const allowed = p.nodes.map((n, i) => n.strategies.map((_, k) => k).filter((k) => [0, 1].every((a) => a === free || labels[i]?.[k]?.[a] === labels[i]?.[choice[i] ?? 0]?.[a])));
  const sub = restrictProblem(p, allowed);
  return bruteForce(sub.problem).objective;
}

describe('axis descent', () => {
  it('ends where no single axis can improve, whatever answers it reused', async () => {
    let repeats = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const { problem, labels } = twoAxisProblem(seed);
      const r = await solveByAxisDescent(problem, labels, 2);
      expect(r.objective, `seed ${seed}`).toBeCloseTo(evaluate(problem, r.choice).objective, 9);
      // A local optimum over whole-axis moves: each axis re-chosen alone (by brute force) gains nothing.
      for (const free of [0, 1]) expect(axisOptimum(problem, labels, r.choice, free), `seed ${seed}, axis ${free}`).toBeGreaterThanOrEqual(r.objective - 1e-9);
      // Never below the true optimum (9^5 choices).
      expect(r.objective).toBeGreaterThanOrEqual(bruteForce(problem).objective - 1e-9);
      expect(r.solves, `seed ${seed}`).toBeGreaterThan(0);
      repeats += r.repeats;
    }
    // Descents from either axis meet and pose the same restricted problems: those are not solved again.
    expect(repeats).toBeGreaterThan(0);
  });

  it('gives the same answer when run again (the reuse is within one descent)', async () => {
    const { problem, labels } = twoAxisProblem(7);
    const a = await solveByAxisDescent(problem, labels, 2);
    const b = await solveByAxisDescent(problem, labels, 2);
    expect(b.choice).toEqual(a.choice);
    expect(b.solves).toBe(a.solves);
  });
});
