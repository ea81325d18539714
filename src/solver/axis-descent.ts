/**
 * Block coordinate descent over the axes of a multi-axis mesh, for planning many
 * candidates fast (the inter-op pass prices every layer on every submesh). On a 2-D
 * mesh a transformer block's problem has ~25 strategies per node and an induced width
 * near 6: HiGHS needs seconds, variable elimination tables grow past reach. Fixing
 * what every node does on all axes but one leaves a few strategies per node, which the
 * exact reductions and variable elimination solve in milliseconds. So: solve as if the
 * mesh had only its last (fastest) axis, then, axis by axis, re-choose what each node
 * does on that axis with the others held (restricted-elimination.ts solves each such
 * restricted problem exactly), until a full pass improves nothing. Each
 * step keeps the current choice among the allowed ones, so the cost never rises; the
 * result is a local optimum over whole-axis moves, not a proven optimum (the bound
 * reported is relaxationBound's).
 */
import { eliminate } from './eliminate.js';
import { evaluate } from './evaluate.js';
import type { Problem, SolveOptions } from './problem.js';
import { reduce } from './reduce.js';
import { restrictProblem } from './restrict.js';
import { type FlatProblem, flattenProblem, solveRestricted } from './restricted-elimination.js';
import { solve } from './solve.js';

/** `labels[i][k][a]`: what strategy k of node i does on axis a (equal numbers: the same; 0: nothing). */
export type AxisLabels = readonly (readonly (readonly number[])[])[];

export interface DescentResult {
  readonly choice: number[];
  readonly objective: number;
  /** True when every restricted solve was exact (the descent itself is still local). */
  readonly innerExact: boolean;
  readonly rounds: number;
  /** Restricted problems solved, and those posed again and answered from the first solve. */
  readonly solves: number;
  readonly repeats: number;
}

async function exactly(p: Problem, opts: SolveOptions): Promise<{ choice: number[]; exact: boolean }> {
  const collapsed = reduce(p);
  const reduced = eliminate(collapsed.problem);
  const inner = await solve(reduced.problem, opts);
  return { choice: collapsed.expand(reduced.expand(inner.choice)), exact: inner.status === 'optimal' };
}

/**
 * `start`: descend from this choice instead (a warm start, e.g. the fastest plan when
 * looking for a leaner one nearby): one descent, every axis re-chosen in turn.
 *
 * The descent runs on the problem's core: the exact reductions and the elimination of
 * chains and leaves are applied once to the whole problem first, so each restricted
 * solve is a few dozen nodes instead of hundreds, and every eliminated node (most of a
 * training graph: elementwise chains, the optimizer's update) takes its best reply over
 * all its strategies, on every axis at once, to each move of the core.
 */
export async function solveByAxisDescent(p: Problem, labels: AxisLabels, axes: number, opts: SolveOptions = {}, start?: readonly number[]): Promise<DescentResult> {
  const core = coreOf(p, labels);
  if (!core) return descendWhole(p, labels, axes, opts, start);
  const warm = start ? core.restrict(start) : undefined;
  const r = await descendWhole(core.problem, core.labels, axes, opts, warm);
  const choice = core.expand(r.choice);
  return { ...r, choice, objective: evaluate(p, choice).objective };
}

interface Core {
  readonly problem: Problem;
  readonly labels: AxisLabels;
  expand(choice: readonly number[]): number[];
  /** A choice of the whole problem as one of the core, when the core keeps its strategies. */
  restrict(choice: readonly number[]): number[] | undefined;
}

/** The problem after the exact reductions and elimination, with its nodes' labels; undefined if nothing remains to descend on. */
function coreOf(p: Problem, labels: AxisLabels): Core | undefined {
  const reduction = reduce(p);
  if (reduction.infeasible !== undefined) return undefined;
  const elimination = eliminate(reduction.problem);
  const problem = elimination.problem;
  if (problem.nodes.length === 0) return undefined;
  // Core node c is reduced variable kept[c], which stands for its members (tied nodes
  // share strategy indices, so the first one's labels serve) and keeps some strategies.
  const origin = elimination.kept.map((v) => ({ node: reduction.members[v]?.[0] ?? 0, strategies: reduction.kept[v] ?? [] }));
  const coreLabels = origin.map(({ node, strategies }) => strategies.map((k) => labels[node]?.[k] ?? []));
  return {
    problem,
    labels: coreLabels,
    expand: (choice) => reduction.expand(elimination.expand(choice)),
    restrict: (choice) => {
      const out: number[] = [];
      for (const { node, strategies } of origin) {
        const k = strategies.indexOf(choice[node] ?? -1);
        if (k < 0) return undefined;
        out.push(k);
      }
      return out;
    },
  };
}

/**
 * Restricted solves already made on one problem, by the strategies each node was allowed:
 * descents from different axes often reach the same choice and would confirm it with the
 * same solves (a fifth of them on a GPT block). A restricted problem's answer depends on
 * nothing else, so a repeat takes the first answer.
 */
interface Solved {
  /** The problem in flat arrays for restricted solves, when it has no memory or ties. */
  readonly flat: FlatProblem | undefined;
  readonly answers: Map<string, { readonly choice: number[]; readonly exact: boolean }>;
  repeats: number;
}

async function exactlyOnce(p: Problem, allowed: readonly (readonly number[])[], opts: SolveOptions, solved: Solved): Promise<{ choice: number[]; exact: boolean }> {
  const key = allowed.map((ks) => ks.join(',')).join(';');
  const known = solved.answers.get(key);
  if (known) {
    solved.repeats++;
    return known;
  }
  // The flat path first; the general one when the problem has memory or ties, or a table
  // would pass the caps (it can then still fall back to the ILP).
  const direct = solved.flat ? solveRestricted(solved.flat, allowed) : undefined;
  let out: { choice: number[]; exact: boolean };
  if (direct) out = { choice: direct, exact: true };
  else {
    const sub = restrictProblem(p, allowed);
    const r = await exactly(sub.problem, opts);
    out = { choice: sub.expand(r.choice), exact: r.exact };
  }
  solved.answers.set(key, out);
  return out;
}

async function descendWhole(p: Problem, labels: AxisLabels, axes: number, opts: SolveOptions, start: readonly number[] | undefined): Promise<DescentResult> {
  const solved: Solved = { flat: flattenProblem(p), answers: new Map(), repeats: 0 };
  const counted = (r: DescentResult): DescentResult => ({ ...r, solves: solved.answers.size, repeats: solved.repeats });
  if (start) return counted(await descendFrom(p, labels, axes, -1, opts, solved, start));
  // One descent from each axis alone; keep the best (a 2-D mesh: dp-first and tp-first).
  let best: DescentResult | undefined;
  for (let a = axes - 1; a >= 0; a--) {
    const r = await descendFrom(p, labels, axes, a, opts, solved);
    if (!best || r.objective < best.objective) best = { ...r, innerExact: r.innerExact && best?.innerExact !== false };
  }
  return counted(best as DescentResult);
}

/** A descent from one axis alone (`startAxis`), or from `warm` (startAxis -1). */
async function descendFrom(p: Problem, labels: AxisLabels, axes: number, startAxis: number, opts: SolveOptions, solved: Solved, warm?: readonly number[]): Promise<DescentResult> {
  // Counted loops: strategy lists of several array kinds reach here (see eliminate.ts).
  const all: number[][] = [];
  for (let i = 0; i < p.nodes.length; i++) {
    const k = (p.nodes[i] as Problem['nodes'][number]).strategies.length;
    const ks: number[] = [];
    for (let s = 0; s < k; s++) ks.push(s);
    all.push(ks);
  }
  const label = (i: number, k: number, a: number): number => labels[i]?.[k]?.[a] ?? 0;
  const axisList = Array.from({ length: axes }, (_, a) => a);
  let innerExact = true;
  let choice: number[];
  if (warm) {
    choice = [...warm];
  } else {
    // Start: one axis alone (every other axis unused), where each node allows it.
    const start = all.map((ks, i) => {
      const only = ks.filter((k) => axisList.every((a) => a === startAxis || label(i, k, a) === 0));
      return only.length ? only : ks;
    });
    const r0 = await exactlyOnce(p, start, opts, solved);
    innerExact &&= r0.exact;
    choice = r0.choice;
  }
  let objective = evaluate(p, choice).objective;
  let rounds = 0;
  // Axes re-chosen (exactly) since the last improvement: once every axis is, each one's
  // restricted optimum with the others held is the current choice, and another sweep
  // would solve the same problems again. The start settles its own axis (a warm start none).
  let settled = warm ? 0 : 1;
  const order = [...axisList.filter((a) => a !== startAxis), ...(warm ? [] : [startAxis])];
  for (let improved = true; improved && rounds < 6 && settled < axes; rounds++) {
    improved = false;
    for (const free of order) {
      if (settled >= axes) break;
      const held = choice;
      const allowed = all.map((ks, i) => ks.filter((k) => axisList.every((a) => a === free || label(i, k, a) === label(i, held[i] ?? 0, a))));
      const r = await exactlyOnce(p, allowed, opts, solved);
      innerExact &&= r.exact;
      const next = r.choice;
      const value = evaluate(p, next).objective;
      if (value < objective * (1 - 1e-12)) {
        choice = next;
        objective = value;
        improved = true;
        settled = 1;
      } else {
        settled++;
      }
    }
  }
  return { choice, objective, innerExact, rounds, solves: 0, repeats: 0 };
}
