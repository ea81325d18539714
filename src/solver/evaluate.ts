/**
 * Exact recomputation of any assignment, with no solver: the reference every solver's
 * answer is checked against, and what reports print.
 */
import { fail } from '../errors.js';
import type { Evaluation, Problem } from './problem.js';

/**
 * Slack allowed over a memory budget: one millionth of it. ILP solvers accept rows within
 * ~1e-7 of their (scaled) bound, so an exact comparison would call some of their answers
 * infeasible; a millionth of a device's memory is below anything a plan can notice.
 */
export function memoryTolerance(budget: number): number {
  return 1e-6 * Math.max(Math.abs(budget), 1);
}

export function evaluate(p: Problem, choice: readonly number[]): Evaluation {
  if (choice.length !== p.nodes.length) {
    fail('E_INTERNAL', `evaluate: choice has ${choice.length} entries for ${p.nodes.length} nodes`);
  }
  let objective = 0;
  p.nodes.forEach((node, v) => {
    const i = choice[v] ?? -1;
    const strategy = node.strategies[i];
    if (!Number.isInteger(i) || strategy === undefined) {
      fail('E_INTERNAL', `evaluate: node ${v} takes strategy ${i}, but has ${node.strategies.length}`);
    }
    objective += strategy.cost;
  });
  for (const edge of p.edges) {
    const i = choice[edge.from] ?? 0;
    const j = choice[edge.to] ?? 0;
    objective += edge.costs[i]?.[j] ?? 0;
  }

  const violations: string[] = [];
  const memory = p.memory.map((constraint, c) => {
    let used = 0;
    for (const term of constraint.terms) used += term.bytes[choice[term.node] ?? 0] ?? 0;
    if (used > constraint.budget + memoryTolerance(constraint.budget)) {
      const label = constraint.name ?? `memory constraint ${c}`;
      violations.push(`${label}: ${used} bytes over a budget of ${constraint.budget}`);
    }
    return used;
  });
  p.ties.forEach((group, g) => {
    const first = group[0];
    if (first === undefined) return;
    const want = choice[first];
    const odd = group.find((node) => choice[node] !== want);
    if (odd !== undefined) violations.push(`tie group ${g}: node ${first} takes ${want}, node ${odd} takes ${choice[odd]}`);
  });
  return { objective, feasible: violations.length === 0, memory, violations };
}
