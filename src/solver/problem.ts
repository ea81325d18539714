/**
 * The numeric problem of the intra-op pass: pick one strategy per node so that the sum of
 * node costs and edge (resharding) costs is least, within memory budgets. The solver sees
 * only these numbers; the graph and the sharding specs that produced them stay with the
 * pass that built the problem.
 */

/** One way to run a node: `cost` is its seconds of compute plus communication. */
export interface Strategy {
  readonly cost: number;
}

export interface ProblemNode {
  readonly strategies: readonly Strategy[];
  /** For messages and reports only. */
  readonly name?: string;
}

/**
 * `costs[i][j]` is the resharding time in seconds when `from` takes strategy i and `to`
 * takes strategy j. Every entry is finite: an impossible pair is the caller's to price.
 * Several edges may join the same pair (their costs add up) and `from` may equal `to`
 * (then only the diagonal can apply).
 */
export interface ProblemEdge {
  readonly from: number;
  readonly to: number;
  readonly costs: readonly (readonly number[])[];
}

/** Σ over terms of `bytes[choice[node]]` must be at most `budget`. */
export interface MemoryConstraint {
  readonly budget: number;
  readonly terms: readonly { readonly node: number; readonly bytes: readonly number[] }[];
  readonly name?: string;
}

export interface Problem {
  readonly nodes: readonly ProblemNode[];
  readonly edges: readonly ProblemEdge[];
  readonly memory: readonly MemoryConstraint[];
  /**
   * Groups of nodes that must take the same strategy index (repeated layers); all members
   * have the same strategy count. Groups that share a node are merged.
   */
  readonly ties: readonly (readonly number[])[];
}

/**
 * A Problem, always built here with its fields in one order. Problems made as literals
 * in some places and as spreads ({ ...p, memory: [] }) in others had several hidden
 * classes, and the solvers' optimised code, specialised to one, bailed out to the
 * interpreter on every call with another (92 times in one GPT-1.3B search at a single
 * load in reduce).
 */
export function problemOf(nodes: readonly ProblemNode[], edges: readonly ProblemEdge[], memory: readonly MemoryConstraint[], ties: readonly (readonly number[])[]): Problem {
  return { nodes, edges, memory, ties };
}

/** `p` with no ties: what a choice costs and needs, whatever ties the search ran under. */
export function withoutTies(p: Problem): Problem {
  return problemOf(p.nodes, p.edges, p.memory, []);
}

export interface Evaluation {
  /** Σ node costs + Σ edge costs of the choice, whether or not it is feasible. */
  readonly objective: number;
  readonly feasible: boolean;
  /** Bytes used per memory constraint, in the order of `Problem.memory`. */
  readonly memory: readonly number[];
  /** One line per broken memory budget or tie, naming it. */
  readonly violations: readonly string[];
}

export type SolverName = 'highs' | 'glpk';

export type SolveStatus = 'optimal' | 'time-limit' | 'infeasible';

export interface Solution {
  /** Strategy index per node. */
  readonly choice: readonly number[];
  /** `evaluate(problem, choice).objective`, recomputed, not the solver's rounded figure. */
  readonly objective: number;
  /**
   * A proven lower bound on the optimum: equal to `objective` (up to solver tolerance) when
   * optimal; -Infinity when nothing is known; +Infinity when no feasible choice exists.
   */
  readonly bound: number;
  /**
   * `(objective - bound) / max(|objective|, 1e-12)`, at least 0. When the solver found no
   * incumbent in time the choice is the greedy's, against the relaxation bound (bound.ts);
   * Infinity when that choice breaks a budget too, or the problem is infeasible.
   */
  readonly gap: number;
  /**
   * 'optimal': the choice is feasible and optimal. 'time-limit': the choice is the best
   * found in time; it is feasible unless `gap` is Infinity and the greedy fallback could not
   * meet the budgets either (check `evaluate`). 'infeasible': no choice meets the memory
   * budgets; `choice` is then the greedy's least-violating attempt, for reports.
   */
  readonly status: SolveStatus;
  /**
   * What produced the choice: 'tree-dp', 'highs', 'glpk', 'presolve' (the reductions fixed
   * every node), '<solver>+greedy' when the solver stopped at its time limit and the greedy
   * (greedy.ts) was better or the only answer, or '<solver>+repair' when rounding the solver's
   * answer broke a budget and the greedy repaired it (status 'time-limit': not proven optimal).
   */
  readonly solver: string;
  /** Wall-clock seconds spent in `solve`, validation included. */
  readonly seconds: number;
}

export interface SolveOptions {
  /** 'auto' (default): exact tree DP when it applies, else HiGHS. */
  readonly solver?: SolverName | 'auto';
  /** Wall-clock limit for the ILP solver; no limit when absent. */
  readonly timeLimitSeconds?: number;
}
