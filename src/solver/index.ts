/** The solver layer of the intra-op pass: numbers in, one strategy per node out. */
export type {
  Evaluation,
  MemoryConstraint,
  Problem,
  ProblemEdge,
  ProblemNode,
  Solution,
  SolveOptions,
  SolveStatus,
  SolverName,
  Strategy,
} from './problem.js';
export { validateProblem } from './validate.js';
export { evaluate, memoryTolerance } from './evaluate.js';
export { solve, DEFAULT_ILP_SOLVER } from './solve.js';
export { bruteForce, BRUTE_FORCE_LIMIT } from './brute-force.js';
export { reduce, type Reduction } from './reduce.js';
export { forestDp, type ForestOptimum } from './tree-dp.js';
export { relaxationBound } from './bound.js';
export { greedy } from './greedy.js';
