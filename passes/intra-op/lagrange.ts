/**
 * Solving with a binding memory limit. Handing the memory row to the MILP makes it
 * hard (a 4-block h=2560 GPT on 2x4 ended a 60 s limit 86% from its bound), and
 * nodes with memory terms cannot be eliminated. Instead the limit is priced:
 * minimise time + λ·bytes without the row (exact reductions then apply everywhere),
 * and search λ: the smallest price whose plan fits is the plan kept. Each priced
 * optimum also gives a lower bound, time(x) + λ·(bytes(x) - budget), on the limited
 * optimum, so the result carries an honest gap.
 */
import { type AxisLabels, solveByAxisDescent } from '../../src/solver/axis-descent.js';
import { eliminate } from '../../src/solver/eliminate.js';
import { evaluate } from '../../src/solver/evaluate.js';
import { type Problem, problemOf, type Solution, type SolveOptions, withoutTies } from '../../src/solver/problem.js';
import { reduce } from '../../src/solver/reduce.js';
import { PROVEN_GAP, relaxedBound } from '../../src/solver/diffusion-bound.js';
import { solve } from '../../src/solver/solve.js';
import { solveByElimination } from '../../src/solver/variable-elimination.js';

interface Priced {
  readonly choice: number[];
  readonly time: number;
  readonly bytes: number;
  readonly exact: boolean;
  /**
   * A lower bound on time + price·bytes over all (tied) choices: the choice's priced cost
   * less the inner solve's own gap (the same when it was exact; -Infinity when unknown).
   */
  readonly pricedBound: number;
  /**
   * A lower bound on the time of every choice holding no more than this one: pricedBound
   * less this choice's own charge (what boundAtPrice derives from a relaxation, here from
   * the inner solve's bound); -Infinity when unknown.
   */
  readonly timeBound: number;
  /** What solved the priced problem (the inner solve's name). */
  readonly solver: string;
}

/** Unconstrained solve of `p` with every memory term priced at `price` seconds per byte. */
/** Lets timers and messages run between long synchronous solves (progress, test runners' RPC). */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `p` without its memory rows, every resident byte charged `price` seconds instead. */
function pricedProblem(p: Problem, price: number): Problem {
  // At price 0 the costs stay as they are (no copy: the inter-op pass prices hundreds).
  if (price === 0) return problemOf(p.nodes, p.edges, [], p.ties);
  const terms = new Map<number, number[]>();
  for (const m of p.memory) for (const t of m.terms) {
    const acc = terms.get(t.node) ?? t.bytes.map(() => 0);
    t.bytes.forEach((b, i) => (acc[i] = (acc[i] ?? 0) + b));
    terms.set(t.node, acc);
  }
  return problemOf(
    p.nodes.map((n, i) => ({ name: n.name, strategies: n.strategies.map((s, k) => ({ cost: s.cost + price * (terms.get(i)?.[k] ?? 0) })) })),
    p.edges,
    [],
    p.ties,
  );
}

async function priced(p: Problem, price: number, opts: MemorySolveOptions): Promise<Priced> {
  await yieldToLoop();
  const q = pricedProblem(p, price);
  if (opts.descent) {
    const d = await solveByAxisDescent(q, opts.descent.labels, opts.descent.axes, opts, opts.descent.start);
    const ev = evaluate(withoutTies(p), d.choice);
    return { choice: d.choice, time: ev.objective, bytes: ev.memory[0] ?? 0, exact: false, pricedBound: -Infinity, timeBound: -Infinity, solver: 'axis-descent' };
  }
  const untied = untiedOptimum(q, opts);
  if (untied) {
    const ev = evaluate(withoutTies(p), untied);
    return { choice: untied, time: ev.objective, bytes: ev.memory[0] ?? 0, exact: true, pricedBound: evaluate(withoutTies(q), untied).objective, timeBound: ev.objective, solver: 'elimination' };
  }
  const collapsed = reduce(q);
  const reduced = eliminate(collapsed.problem);
  const inner = await solve(reduced.problem, opts);
  const choice = collapsed.expand(reduced.expand(inner.choice));
  const ev = evaluate(withoutTies(p), choice);
  // The reductions are exact, so the inner solve's absolute gap carries over to q.
  const innerGap = inner.objective - inner.bound;
  const pricedCost = evaluate(withoutTies(q), choice).objective;
  const pricedBound = Number.isFinite(innerGap) ? pricedCost - Math.max(0, innerGap) : -Infinity;
  // time(y) >= pricedBound - price x bytes(y) >= pricedBound - (pricedCost - time) when y holds no more.
  const timeBound = pricedBound - (pricedCost - ev.objective);
  return { choice, time: ev.objective, bytes: ev.memory[0] ?? 0, exact: inner.status === 'optimal', pricedBound, timeBound, solver: inner.solver };
}

/**
 * The exact optimum of `q` without its ties, when variable elimination reaches it (the
 * solver left to autopar). Ties make the repeated blocks share one choice: a smaller
 * ILP, but one node coupled to every block, so elimination (exact and fast on a chain of
 * blocks) gives up on the tied problem and HiGHS takes seconds. Untied, it often
 * succeeds on one-axis meshes, and its optimum is at least as good (ties only restrict).
 */
function untiedOptimum(q: Problem, opts: SolveOptions): number[] | undefined {
  if ((opts.solver ?? 'auto') !== 'auto' || !q.ties.some((t) => t.length > 1)) return undefined;
  const free = reduce(withoutTies(q));
  if (free.infeasible !== undefined) return undefined;
  const reduced = eliminate(free.problem);
  const ve = solveByElimination(reduced.problem);
  return ve ? free.expand(reduced.expand(ve.choice)) : undefined;
}

/**
 * Axis descent proves nothing itself: its bound is a relaxation's of the unpriced
 * problem, the spanning-forest bound, and where that leaves a gap to `objective` (the
 * descent's answer; sweeps stop once it is proven) min-sum diffusion's on the problem's
 * core (after the exact reductions and elimination, which keep the optimum). On a GPT
 * block on 2-D meshes the forest bound left 30-48% on meshes of 8x2 and more; diffusion
 * proves most of them optimal and leaves a few % on the rest (tests/solver-diffusion).
 */
export function descentBound(p: Problem, objective?: number): number {
  const r = reduce(problemOf(p.nodes, p.edges, [], p.ties));
  return relaxedBound(r.problem, { ...(objective === undefined ? {} : { objective: objective - r.offset }) }) + r.offset;
}

/**
 * A lower bound on the time of `choice` (costing `time` in `p`) and of every plan that
 * holds no more memory, when `choice` was found at `price` seconds per byte: the bound of
 * the priced problem less the price of its own bytes (time(y) >= bound_q - price x
 * bytes(y) >= bound_q - price x bytes(choice)), or the unpriced bound (no plan is faster
 * than the fastest), whichever is larger. A lean variant's gap is thus against plans
 * that hold no more than it, not against faster ones that need more memory.
 */
export function boundAtPrice(p: Problem, price: number, choice: readonly number[], time: number): number {
  let bound = -Infinity;
  if (price > 0) {
    const q = pricedProblem(p, price);
    const charged = evaluate(withoutTies(q), choice).objective - time;
    bound = descentBound(q, time + charged) - charged;
  }
  if (bound < time * (1 - PROVEN_GAP)) bound = Math.max(bound, descentBound(p, time));
  return Math.min(bound, time);
}

export interface MemorySolveOptions extends SolveOptions {
  /** Solve each priced problem by axis descent (fast, local) instead of exactly. */
  readonly descent?: { readonly labels: AxisLabels; readonly axes: number; readonly start?: readonly number[] };
  /**
   * Leave axis descent's bound (a relaxation, a tenth of the solve) for later: the
   * solution's bound is -Infinity until the caller asks for it (see plan.ts withBound).
   * The inter-op pass prices hundreds of candidates and reports the gap of a few.
   */
  readonly deferBound?: boolean;
  /**
   * Price memory at this many seconds per byte, once, instead of searching the price
   * that meets the budget: a plan that trades time for memory at a chosen rate (the
   * inter-op pass offers such a leaner variant of each layer beside the fastest).
   */
  readonly memoryPrice?: number;
}

export interface MemoryAwareSolution extends Solution {
  readonly fits: boolean;
  /** Price per byte of the plan kept (0 when the limit did not bind). */
  readonly price: number;
}

export async function solveUnderMemory(p: Problem, opts: MemorySolveOptions = {}): Promise<MemoryAwareSolution> {
  const t0 = performance.now();
  const budget = p.memory[0]?.budget ?? Infinity;
  // Every term at its smallest is a floor no plan goes under: past the budget, stop here.
  const floor = (p.memory[0]?.terms ?? []).reduce((sum, t) => sum + Math.min(...t.bytes), 0);
  if (floor > budget) {
    return { choice: p.nodes.map(() => 0), objective: Infinity, bound: Infinity, gap: Infinity, status: 'infeasible', solver: 'memory-floor', seconds: (performance.now() - t0) / 1000, fits: false, price: 0 };
  }
  if (opts.memoryPrice !== undefined) {
    const r = await priced(p, opts.memoryPrice, opts);
    const fits = r.bytes <= budget;
    // An exact inner solve (HiGHS, elimination) bounds the priced problem itself; the
    // relaxation's bound is only asked for when that one leaves a gap.
    const proven = r.timeBound >= r.time * (1 - PROVEN_GAP);
    const bound = proven ? Math.min(r.timeBound, r.time) : opts.deferBound ? -Infinity : Math.max(r.timeBound, boundAtPrice(p, opts.memoryPrice, r.choice, r.time));
    const gap = (r.time - bound) / Math.max(Math.abs(r.time), 1e-12);
    return { choice: r.choice, objective: r.time, bound, gap, status: !fits ? 'infeasible' : gap <= PROVEN_GAP ? 'optimal' : 'time-limit', solver: opts.descent ? 'priced+axis-descent' : 'priced', seconds: (performance.now() - t0) / 1000, fits, price: opts.memoryPrice };
  }
  const base = await priced(p, 0, opts);
  const done = (best: Priced, bound: number, price: number, fits: boolean, solver: string): MemoryAwareSolution => ({
    choice: best.choice,
    objective: best.time,
    bound: Math.min(bound, best.time),
    gap: fits ? (best.time - Math.min(bound, best.time)) / Math.max(Math.abs(best.time), 1e-12) : Infinity,
    status: !fits ? 'infeasible' : (best.exact && bound >= best.time * (1 - 1e-9)) || (opts.descent !== undefined && bound >= best.time * (1 - PROVEN_GAP)) ? 'optimal' : 'time-limit',
    solver,
    seconds: (performance.now() - t0) / 1000,
    fits,
    price,
  });
  if (opts.descent && base.bytes <= budget) return done(base, opts.deferBound ? -Infinity : descentBound(p, base.time), 0, true, 'axis-descent');
  // At price 0 the priced bound is a bound on the fastest plan, limit or not.
  if (base.bytes <= budget) return done(base, base.pricedBound, 0, true, base.solver);
  // Find a price that fits: start where saving the excess is worth the whole step time.
  let lo = 0;
  let hi = base.time / Math.max(base.bytes - budget, 1);
  let best: Priced | undefined;
  let bestPrice = 0;
  let bound = base.pricedBound;
  for (let k = 0; k < 40; k++) {
    const r = await priced(p, hi, opts);
    // Lagrangian duality: min time + λ·(bytes - budget) lies below the limited optimum.
    bound = Math.max(bound, r.pricedBound - hi * budget);
    if (r.bytes <= budget) {
      best = r;
      bestPrice = hi;
      break;
    }
    lo = hi;
    hi *= 4;
  }
  if (!best) return done(base, bound, hi, false, 'lagrange');
  if (opts.descent) return done(best, opts.deferBound ? -Infinity : descentBound(p, best.time), bestPrice, true, 'lagrange+axis-descent');
  // Bisect the price (on a log scale): the cheapest fitting plan usually sits near the lowest fitting price.
  for (let k = 0; k < 8 && hi / Math.max(lo, 1e-300) > 1.05; k++) {
    const mid = lo === 0 ? hi / 4 : Math.sqrt(lo * hi);
    const r = await priced(p, mid, opts);
    bound = Math.max(bound, r.pricedBound - mid * budget);
    if (r.bytes <= budget) {
      hi = mid;
      if (r.time < best.time) {
        best = r;
        bestPrice = mid;
      }
    } else {
      lo = mid;
    }
  }
  return done(best, bound, bestPrice, true, 'lagrange');
}
