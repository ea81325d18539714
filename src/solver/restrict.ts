/**
 * A problem restricted to some strategies per node, and the way back: the sub-problem
 * keeps, for node i, only the strategies `allowed[i]` lists (in that order), with edge
 * matrices and memory terms cut to match.
 */
import { type Problem, problemOf } from './problem.js';

export interface Restriction {
  readonly problem: Problem;
  /** Choice of the original problem from a choice of the restricted one. */
  expand(choice: readonly number[]): number[];
}

export function restrictProblem(p: Problem, allowed: readonly (readonly number[])[]): Restriction {
  const pick = (i: number): readonly number[] => allowed[i] ?? [];
  const problem = problemOf(
    p.nodes.map((n, i) => ({ name: n.name, strategies: pick(i).map((k) => n.strategies[k] ?? { cost: 0 }) })),
    p.edges.map((e) => ({ from: e.from, to: e.to, costs: pick(e.from).map((i) => pick(e.to).map((j) => e.costs[i]?.[j] ?? 0)) })),
    p.memory.map((m) => ({ ...m, terms: m.terms.map((t) => ({ node: t.node, bytes: pick(t.node).map((k) => t.bytes[k] ?? 0) })) })),
    p.ties,
  );
  return { problem, expand: (choice) => choice.map((c, i) => pick(i)[c] ?? 0) };
}
