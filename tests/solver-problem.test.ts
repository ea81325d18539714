/** The numeric problem: validation errors and exact evaluation, on hand-made problems. */
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import { evaluate, validateProblem, type Problem } from '../src/solver/index.js';

// Three nodes: a (2 strategies) -> b (2) -> c (3), plus a -> c; one memory budget; a tied to b.
const base: Problem = {
  nodes: [
    { name: 'a', strategies: [{ cost: 1 }, { cost: 2 }] },
    { name: 'b', strategies: [{ cost: 10 }, { cost: 20 }] },
    { name: 'c', strategies: [{ cost: 100 }, { cost: 200 }, { cost: 300 }] },
  ],
  edges: [
    { from: 0, to: 1, costs: [[0, 0.5], [0.25, 0]] },
    { from: 1, to: 2, costs: [[1, 2, 3], [4, 5, 6]] },
    { from: 0, to: 2, costs: [[7, 8, 9], [10, 11, 12]] },
  ],
  memory: [{ name: 'dev0', budget: 50, terms: [{ node: 0, bytes: [10, 30] }, { node: 2, bytes: [40, 20, 5] }] }],
  ties: [[0, 1]],
};

function codeOf(f: () => void): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof AutoparError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return undefined;
}

describe('evaluate', () => {
  it('sums node and edge costs of the choice', () => {
    // a=1 (2), b=1 (20), c=2 (300); edges: [1][1]=0, [1][2]=6, [1][2]=12.
    const ev = evaluate(base, [1, 1, 2]);
    expect(ev.objective).toBe(2 + 20 + 300 + 0 + 6 + 12);
    expect(ev.memory).toEqual([30 + 5]);
    expect(ev.feasible).toBe(true);
    expect(ev.violations).toEqual([]);
  });

  it('reports a broken budget by name, with the bytes', () => {
    const ev = evaluate(base, [0, 0, 0]);
    expect(ev.memory).toEqual([50]);
    expect(ev.feasible).toBe(true); // exactly at the budget
    const over = evaluate(base, [1, 1, 0]);
    expect(over.memory).toEqual([70]);
    expect(over.feasible).toBe(false);
    expect(over.violations).toEqual(['dev0: 70 bytes over a budget of 50']);
  });

  it('reports a broken tie', () => {
    const ev = evaluate(base, [0, 1, 2]);
    expect(ev.feasible).toBe(false);
    expect(ev.violations[0]).toMatch(/tie group 0/);
  });

  it('rejects a choice of the wrong length or out of range', () => {
    expect(codeOf(() => evaluate(base, [0, 0]))).toMatch(/^E_INTERNAL: .*2 entries for 3 nodes/);
    expect(codeOf(() => evaluate(base, [0, 0, 3]))).toMatch(/^E_INTERNAL: .*node 2 takes strategy 3/);
    expect(codeOf(() => evaluate(base, [0, 0.5, 0]))).toMatch(/^E_INTERNAL/);
  });
});

describe('validateProblem', () => {
  it('accepts a well-formed problem', () => {
    expect(codeOf(() => validateProblem(base))).toBeUndefined();
  });

  const cases: [string, Problem, RegExp][] = [
    ['a node without strategies', { ...base, nodes: [...base.nodes, { name: 'd', strategies: [] }] }, /node 3 \(d\) has no strategy/],
    ['a NaN node cost', { ...base, nodes: [base.nodes[0]!, { strategies: [{ cost: NaN }, { cost: 1 }] }, base.nodes[2]!] }, /node 1 strategy 0 has cost NaN/],
    ['an infinite edge cost', { ...base, edges: [{ from: 0, to: 1, costs: [[0, Infinity], [0, 0]] }] }, /edge 0 .* cost \[0\]\[1\] is Infinity/],
    ['too few matrix rows', { ...base, edges: [{ from: 0, to: 2, costs: [[1, 2, 3]] }] }, /edge 0 \(0 -> 2\) has 1 cost rows, but node 0 \(a\) has 2/],
    ['a short matrix row', { ...base, edges: [{ from: 1, to: 2, costs: [[1, 2, 3], [4, 5]] }] }, /edge 0 \(1 -> 2\) row 1 has 2 entries, but node 2 \(c\) has 3/],
    ['an edge to a missing node', { ...base, edges: [{ from: 0, to: 5, costs: [[1], [1]] }] }, /edge 0 'to' refers to node 5, but there are 3 nodes/],
    ['a fractional edge index', { ...base, edges: [{ from: 0.5, to: 1, costs: [[1, 1], [1, 1]] }] }, /edge 0 'from' refers to node 0.5/],
    ['a memory term on a missing node', { ...base, memory: [{ budget: 1, terms: [{ node: -1, bytes: [1] }] }] }, /memory constraint 0 term 0 refers to node -1/],
    ['memory bytes of the wrong length', { ...base, memory: [{ budget: 1, name: 'hbm', terms: [{ node: 2, bytes: [1, 2] }] }] }, /memory constraint 0 \(hbm\) term 0 lists 2 byte counts, but node 2 \(c\) has 3/],
    ['NaN bytes', { ...base, memory: [{ budget: 1, terms: [{ node: 0, bytes: [1, NaN] }] }] }, /bytes\[1\] is NaN/],
    ['a NaN budget', { ...base, memory: [{ budget: NaN, terms: [] }] }, /budget NaN/],
    ['a tie across strategy counts', { ...base, ties: [[0, 2]] }, /tie group 0 mixes strategy counts \(2 and 3 at node 2 \(c\)\)/],
    ['a tie on a missing node', { ...base, ties: [[0, 9]] }, /tie group 0 refers to node 9/],
  ];
  for (const [what, p, message] of cases) {
    it(`rejects ${what}`, () => {
      const got = codeOf(() => validateProblem(p));
      expect(got).toMatch(/^E_INTERNAL: solver problem: /);
      expect(got).toMatch(message);
    });
  }
});
