/**
 * Every assignment that respects the ties, scored by `evaluate`: the oracle the tests hold
 * the solvers to. Shares nothing with them but `evaluate` and the tie grouping.
 */
import { fail } from '../errors.js';
import { evaluate } from './evaluate.js';
import type { Problem, Solution } from './problem.js';
import { tieGroups } from './tie-groups.js';
import { validateProblem } from './validate.js';

export const BRUTE_FORCE_LIMIT = 1_000_000;

export function bruteForce(p: Problem, limit = BRUTE_FORCE_LIMIT): Solution {
  const t0 = performance.now();
  validateProblem(p);
  const { members } = tieGroups(p.nodes.length, p.ties);
  const counts = members.map((m) => p.nodes[m[0] ?? 0]?.strategies.length ?? 1);
  const total = counts.reduce((a, b) => a * b, 1);
  if (total > limit) fail('E_INTERNAL', `bruteForce: ${total} assignments, over the limit of ${limit}`);

  const digits = counts.map(() => 0);
  const choice = new Array<number>(p.nodes.length).fill(0);
  let best: number[] | undefined;
  let bestObjective = Infinity;
  for (let n = 0; n < total; n++) {
    members.forEach((m, g) => {
      for (const node of m) choice[node] = digits[g] ?? 0;
    });
    const ev = evaluate(p, choice);
    if (ev.feasible && ev.objective < bestObjective) {
      bestObjective = ev.objective;
      best = [...choice];
    }
    // Odometer step.
    for (let g = 0; g < digits.length; g++) {
      const d = (digits[g] ?? 0) + 1;
      if (d < (counts[g] ?? 1)) {
        digits[g] = d;
        break;
      }
      digits[g] = 0;
    }
  }
  const seconds = (performance.now() - t0) / 1e3;
  if (best === undefined) {
    const zeros = new Array<number>(p.nodes.length).fill(0);
    return { choice: zeros, objective: evaluate(p, zeros).objective, bound: Infinity, gap: Infinity, status: 'infeasible', solver: 'brute-force', seconds };
  }
  return { choice: best, objective: bestObjective, bound: bestObjective, gap: 0, status: 'optimal', solver: 'brute-force', seconds };
}
