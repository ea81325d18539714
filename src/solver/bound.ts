/**
 * A lower bound on the optimum of a tie-free problem, valid for any solver: the exact
 * optimum over a maximum-spread spanning forest (tree DP), plus the least entry of every
 * edge the forest leaves out, with memory ignored. Each step only relaxes the problem, so
 * no assignment costs less. glpk.js reports no bound of its own; this one serves it, and
 * tightens HiGHS's when HiGHS stops early.
 */
import { edgeMin, maxSpreadForest } from './graph.js';
import type { Problem } from './problem.js';
import { forestDp } from './tree-dp.js';

export function relaxationBound(p: Problem): number {
  const forest = maxSpreadForest(p);
  const inForest = new Set(forest);
  let rest = 0;
  p.edges.forEach((e, k) => {
    if (!inForest.has(k)) rest += edgeMin(e);
  });
  return forestDp(p, forest).objective + rest;
}
