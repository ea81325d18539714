/** A problem too large to finish in a tiny time limit: both solvers still return a usable plan. */
import { describe, expect, it } from 'vitest';
import { solveUnderMemory } from '../passes/intra-op/lagrange.js';
import { evaluate, reduce, relaxationBound, solve } from '../src/solver/index.js';
import { layeredProblem } from '../src/solver/random-problem.js';

const p = layeredProblem(7, { nodes: 400, minStrategies: 8, maxStrategies: 16, extraEdgeRatio: 0.3, memoryTightness: 0.5 });

describe.each(['highs', 'glpk'] as const)('%s under a 0.3 s limit on 400 nodes', (solver) => {
  it('returns a feasible choice, status time-limit or optimal, gap >= 0', async () => {
    const s = await solve(p, { solver, timeLimitSeconds: 0.3 });
    expect(['time-limit', 'optimal']).toContain(s.status);
    const ev = evaluate(p, s.choice);
    expect(ev.feasible, ev.violations.join('; ')).toBe(true);
    expect(ev.objective).toBe(s.objective);
    // The best plan found (the solver's incumbent, or the greedy's when that is better or
    // there is none) with a stated gap: the relaxation bound holds either way.
    expect([solver, `${solver}+greedy`]).toContain(s.solver);
    expect(Number.isFinite(s.bound)).toBe(true);
    expect(s.bound).toBeGreaterThan(0);
    expect(s.bound).toBeLessThanOrEqual(s.objective);
    expect(s.gap).toBeGreaterThanOrEqual(0);
    expect(s.gap).toBeLessThan(1);
    expect(s.gap).toBeCloseTo((s.objective - s.bound) / s.objective, 12);
    // The limit bounds the solver; building the model and the fallback come on top.
    expect(s.seconds).toBeLessThan(15);
  });
});

describe('the fallback and the bound on the same problem', () => {
  it('the relaxation bound lies below whatever the solvers return', async () => {
    const r = reduce(p);
    const bound = relaxationBound(r.problem) + r.offset;
    const s = await solve(p, { solver: 'highs', timeLimitSeconds: 0.3 });
    expect(bound).toBeLessThanOrEqual(s.objective);
    expect(bound).toBeGreaterThan(0);
  });
});

describe.each(['highs', 'glpk'] as const)('the intra-op pass (priced memory) with %s under a 0.3 s limit', (solver) => {
  it('names the solver that ran and keeps its gap: a stopped solve is not reported optimal with gap 0', async () => {
    // Memory slack: the pass keeps the fastest plan, so its bound is the inner solve's.
    const s = await solveUnderMemory({ ...p, memory: [] }, { solver, timeLimitSeconds: 0.3 });
    const direct = await solve({ ...p, memory: [] }, { solver, timeLimitSeconds: 0.3 });
    expect(s.solver.startsWith(solver), s.solver).toBe(true);
    expect(s.status).toBe(direct.status);
    expect(s.bound).toBeLessThanOrEqual(s.objective);
    if (s.status === 'time-limit') expect(s.gap).toBeGreaterThan(0);
    else expect(s.gap).toBeLessThan(1e-6);
    // A lower bound lies below every feasible plan, the direct solve's too.
    expect(s.bound).toBeLessThanOrEqual(direct.objective * (1 + 1e-9));
    expect(direct.bound).toBeLessThanOrEqual(s.objective * (1 + 1e-9));
  });
});
