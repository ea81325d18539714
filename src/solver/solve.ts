/**
 * `solve`: validate, reduce (reduce.ts), then the exact tree DP when the reduced problem is
 * a forest and its optimum meets the budgets, else the ILP on HiGHS or glpk.js. The
 * objective is always recomputed with `evaluate` on the original problem.
 */
import { fail } from '../errors.js';
import { PROVEN_GAP, relaxedBound } from './diffusion-bound.js';
import { evaluate } from './evaluate.js';
import { solveWithGlpk } from './glpk.js';
import { isForest } from './graph.js';
import { greedy } from './greedy.js';
import { solveWithHighs } from './highs.js';
import { buildIlp } from './ilp.js';
import type { MilpOutcome } from './milp-outcome.js';
import type { Problem, Solution, SolveOptions, SolveStatus, SolverName } from './problem.js';
import { reduce } from './reduce.js';
import { forestDp } from './tree-dp.js';
import { solveByElimination } from './variable-elimination.js';
import { validateProblem } from './validate.js';

/** The ILP backend of `solver: 'auto'`: HiGHS until the benchmark says otherwise. */
export const DEFAULT_ILP_SOLVER: SolverName = 'highs';

function gapOf(objective: number, bound: number): number {
  if (bound === Infinity || bound === -Infinity) return Infinity;
  return Math.max(0, (objective - bound) / Math.max(Math.abs(objective), 1e-12));
}

export async function solve(p: Problem, opts: SolveOptions = {}): Promise<Solution> {
  const t0 = performance.now();
  validateProblem(p);
  const which = opts.solver ?? 'auto';
  const limit = opts.timeLimitSeconds;
  if (limit !== undefined && !(limit > 0)) fail('E_INTERNAL', `solve: timeLimitSeconds must be positive, got ${limit}`);

  /** `fromSolver`: the choice claims feasibility, so breaking a budget is a bug. */
  const done = (choice: readonly number[], status: SolveStatus, bound: number, solver: string, fromSolver = true): Solution => {
    const ev = evaluate(p, choice);
    if (fromSolver && status !== 'infeasible' && !ev.feasible) {
      // A solver's answer outside the budgets (beyond evaluate's tolerance) is a bug to see,
      // not a plan to use.
      fail('E_INTERNAL', `solve: ${solver} returned a choice that breaks the problem: ${ev.violations.join('; ')}`);
    }
    // A bound above the objective is solver tolerance, not information.
    const b = status === 'infeasible' ? Infinity : Math.min(bound, ev.objective);
    const gap = status === 'infeasible' ? Infinity : gapOf(ev.objective, b);
    // A stopped solve whose answer fits and meets a bound (diffusion's can) is proven optimal.
    const proven = status === 'time-limit' && ev.feasible && gap <= PROVEN_GAP;
    return { choice, objective: ev.objective, bound: b, gap, status: proven ? 'optimal' : status, solver, seconds: (performance.now() - t0) / 1e3 };
  };

  const reduction = reduce(p);
  const rp = reduction.problem;
  if (reduction.infeasible !== undefined) return done(reduction.expand(greedy(rp)), 'infeasible', Infinity, 'presolve');
  if (rp.nodes.length === 0) {
    // Everything was fixed by the reduction; the budgets were settled on the way.
    const choice = reduction.expand([]);
    const ev = evaluate(p, choice);
    return done(choice, ev.feasible ? 'optimal' : 'infeasible', ev.objective, 'presolve');
  }

  if (which === 'auto' && isForest(rp)) {
    const choice = reduction.expand(forestDp(rp).choice);
    const ev = evaluate(p, choice);
    // The DP ignores memory; an optimum of the relaxation that meets the budgets is optimal.
    if (ev.feasible) return done(choice, 'optimal', ev.objective, 'tree-dp');
  }
  if (which === 'auto' && rp.memory.length === 0) {
    // Exact when the reduced graph's induced width is small (layer-shaped graphs).
    const ve = solveByElimination(rp);
    if (ve) return done(reduction.expand(ve.choice), 'optimal', evaluate(p, reduction.expand(ve.choice)).objective, 'elimination');
  }

  const backend: SolverName = which === 'auto' ? DEFAULT_ILP_SOLVER : which;
  const milp = buildIlp(rp);
  // The greedy runs first (milliseconds): HiGHS starts from it, and a time-limited incumbent
  // worse than it is replaced by it.
  const fallback = greedy(rp);
  const fallbackChoice = reduction.expand(fallback);
  const fallbackEval = evaluate(p, fallbackChoice);
  // An infinite limit is no limit (glpk.js would turn it into an integer of milliseconds).
  const remaining = limit === undefined || limit === Infinity ? undefined : Math.max(limit - (performance.now() - t0) / 1e3, 1e-3);
  let outcome: MilpOutcome;
  switch (backend) {
    case 'highs':
      outcome = await solveWithHighs(milp, remaining, fallbackEval.feasible ? milp.encode(fallback) : undefined);
      break;
    case 'glpk':
      outcome = await solveWithGlpk(milp, remaining);
      break;
  }
  const toProblemUnits = (solverBound: number | undefined): number =>
    solverBound === undefined ? -Infinity : solverBound * milp.scale + milp.shift + reduction.offset;
  /**
   * The solver's choice, unless rounding its near-integral values put a budget over by more
   * than evaluate's tolerance (a budget-sized coefficient times a 1e-6 integrality slack can):
   * then the greedy's repair of it, which is no longer proven optimal.
   */
  const decoded = (values: Float64Array): { choice: number[]; repaired: boolean } => {
    const reduced = milp.decode(values);
    const choice = reduction.expand(reduced);
    if (evaluate(p, choice).feasible) return { choice, repaired: false };
    return { choice: reduction.expand(greedy(rp, reduced)), repaired: true };
  };

  switch (outcome.status) {
    case 'optimal': {
      const { choice, repaired } = decoded(outcome.values);
      // Not proven optimal any more: reported like a stopped solve, with the solver's bound.
      if (repaired) return done(choice, 'time-limit', Math.max(toProblemUnits(outcome.bound), relaxedBound(rp, { objective: evaluate(p, choice).objective - reduction.offset }) + reduction.offset), `${backend}+repair`);
      const bound = outcome.bound === undefined ? evaluate(p, choice).objective : toProblemUnits(outcome.bound);
      return done(choice, 'optimal', bound, backend);
    }
    case 'time-limit': {
      // Two valid lower bounds; the larger is valid too. The relaxation's holds without an
      // incumbent as well (glpk.js stopped early reports none), so a feasible greedy answer
      // still gets a gap; one that breaks a budget keeps gap Infinity (see Solution.status).
      const got = outcome.values === undefined ? undefined : decoded(outcome.values);
      const incumbent = Math.min(fallbackEval.feasible ? fallbackEval.objective : Infinity, got ? evaluate(p, got.choice).objective : Infinity);
      const bound = Math.max(toProblemUnits(outcome.bound), relaxedBound(rp, Number.isFinite(incumbent) ? { objective: incumbent - reduction.offset } : {}) + reduction.offset);
      if (!got) return done(fallbackChoice, 'time-limit', fallbackEval.feasible ? bound : -Infinity, `${backend}+greedy`, false);
      if (fallbackEval.feasible && fallbackEval.objective < evaluate(p, got.choice).objective) {
        return done(fallbackChoice, 'time-limit', bound, `${backend}+greedy`);
      }
      return done(got.choice, 'time-limit', bound, got.repaired ? `${backend}+repair` : backend);
    }
    case 'infeasible':
      return done(fallbackChoice, 'infeasible', Infinity, backend);
  }
}
