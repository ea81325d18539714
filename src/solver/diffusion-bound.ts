/**
 * A lower bound for the planner's problems by min-sum diffusion (Kovalevsky and Koval;
 * see Werner, "A Linear Programming Approach to Max-sum Problem", PAMI 2007): a
 * reparametrization moves cost between each node and its edges so that every edge's
 * min-marginal at the node equals the node's own cost, which changes the cost of no
 * assignment but raises Σ node minima + Σ edge minima (a bound: no assignment pays
 * less than each term's minimum). Each node update never lowers it; repeated sweeps
 * approach the bound of the LP relaxation over the local polytope. The spanning-forest
 * bound (bound.ts) drops every edge outside one forest to its least entry, which on a
 * transformer block on a 2-D mesh (many cycles) left gaps of 25-50%.
 *
 * Memory constraints and ties are ignored (relaxed), as relaxationBound does.
 */
import { relaxationBound } from './bound.js';
import { eliminate } from './eliminate.js';
import { type Problem, problemOf } from './problem.js';

/** A gap at most this (relative) counts as proven: diffusion stops within it of a known cost. */
export const PROVEN_GAP = 1e-6;

export interface DiffusionOptions {
  /** Sweeps over all nodes at most (default 200). */
  readonly sweeps?: number;
  /** Edge-table entries visited at most over all sweeps (default 3e8, about a second). */
  readonly work?: number;
  /** Stop when a sweep raises the bound by less than this fraction of it (default PROVEN_GAP). */
  readonly tolerance?: number;
  /** A known assignment's cost: stop once the bound is within `tolerance` of it (proven). */
  readonly target?: number;
}

interface Edge {
  readonly a: number;
  readonly b: number;
  readonly kb: number;
  /** Row-major [choice of a][choice of b]. */
  readonly table: Float64Array;
}

/** Σ node minima + Σ edge minima of the reparametrized problem after diffusion, and the problem itself. */
export function diffuse(p: Problem, opts: DiffusionOptions = {}): { bound: number; reparametrized: Problem } {
  const n = p.nodes.length;
  const size = p.nodes.map((nd) => nd.strategies.length);
  const theta = p.nodes.map((nd) => Float64Array.from(nd.strategies, (s) => s.cost));
  const edges: Edge[] = [];
  for (const e of p.edges) {
    const ka = size[e.from] ?? 0;
    const kb = size[e.to] ?? 0;
    if (e.from === e.to) {
      const th = theta[e.from] as Float64Array;
      for (let i = 0; i < ka; i++) th[i] = (th[i] as number) + (e.costs[i]?.[i] ?? 0);
      continue;
    }
    const table = new Float64Array(ka * kb);
    for (let i = 0; i < ka; i++) for (let j = 0; j < kb; j++) table[i * kb + j] = e.costs[i]?.[j] ?? 0;
    edges.push({ a: e.from, b: e.to, kb, table });
  }
  const incident: number[][] = Array.from({ length: n }, () => []);
  edges.forEach((e, k) => {
    incident[e.a]?.push(k);
    incident[e.b]?.push(k);
  });
  const minOf = (xs: Float64Array): number => {
    let m = Infinity;
    // Indexed, not for-of: an iterator per call was 2-3% of what the planner allocates.
    for (let i = 0; i < xs.length; i++) if ((xs[i] as number) < m) m = xs[i] as number;
    return m;
  };
  const boundNow = (): number => {
    let s = 0;
    for (const th of theta) s += minOf(th);
    for (const e of edges) s += minOf(e.table);
    return s;
  };
  // min over the other end, for each choice of node t (t is e.a or e.b).
  const marginal = (e: Edge, t: number, out: Float64Array): void => {
    const kb = e.kb;
    const ka = e.table.length / Math.max(1, kb);
    if (t === e.a) {
      for (let i = 0; i < ka; i++) {
        let m = Infinity;
        for (let j = 0; j < kb; j++) m = Math.min(m, e.table[i * kb + j] as number);
        out[i] = m;
      }
    } else {
      out.fill(Infinity, 0, kb);
      for (let i = 0; i < ka; i++) for (let j = 0; j < kb; j++) out[j] = Math.min(out[j] as number, e.table[i * kb + j] as number);
    }
  };
  // Each sweep reads every edge table twice and writes it twice (once from each end).
  let perSweep = 0;
  for (const e of edges) perSweep += 4 * e.table.length;
  const sweeps = Math.min(opts.sweeps ?? 200, Math.floor((opts.work ?? 3e8) / Math.max(1, perSweep)));
  const tolerance = opts.tolerance ?? PROVEN_GAP;
  let widest = 1;
  let degree = 0;
  for (let t = 0; t < n; t++) {
    widest = Math.max(widest, size[t] ?? 0);
    degree = Math.max(degree, incident[t]?.length ?? 0);
  }
  const scratch = new Float64Array(widest * (degree + 1));
  let bound = boundNow();
  const target = opts.target ?? Infinity;
  const proven = (): boolean => Number.isFinite(target) && bound >= target - tolerance * Math.abs(target);
  for (let sweep = 0; sweep < sweeps && !proven(); sweep++) {
    for (let t = 0; t < n; t++) {
      const inc = incident[t] as number[];
      if (inc.length === 0) continue;
      const k = size[t] ?? 0;
      const th = theta[t] as Float64Array;
      // scratch rows 0..deg-1: each edge's marginal; the average lands in th.
      inc.forEach((e, r) => marginal(edges[e] as Edge, t, scratch.subarray(r * k, (r + 1) * k)));
      const parts = inc.length + 1;
      for (let c = 0; c < k; c++) {
        let total = th[c] as number;
        for (let r = 0; r < inc.length; r++) total += scratch[r * k + c] as number;
        // A choice infinite in total stays infinite at the node; its edge rows are left (no
        // assignment through it has a finite cost either way).
        th[c] = Number.isFinite(total) ? total / parts : Infinity;
      }
      inc.forEach((ei, r) => {
        const e = edges[ei] as Edge;
        const kb = e.kb;
        for (let c = 0; c < k; c++) {
          const avg = th[c] as number;
          const h = scratch[r * k + c] as number;
          if (!Number.isFinite(avg) || !Number.isFinite(h)) continue;
          const shift = avg - h;
          if (t === e.a) for (let j = 0; j < kb; j++) e.table[c * kb + j] = (e.table[c * kb + j] as number) + shift;
          else for (let i = 0; i < e.table.length / kb; i++) e.table[i * kb + c] = (e.table[i * kb + c] as number) + shift;
        }
      });
    }
    const next = boundNow();
    const gain = next - bound;
    bound = Math.max(bound, next);
    if (!(gain > tolerance * Math.max(Math.abs(bound), 1e-12))) break;
  }
  const reparametrized = problemOf(
    theta.map((th, i) => ({ name: p.nodes[i]?.name, strategies: Array.from(th, (cost) => ({ cost })) })),
    edges.map((e) => ({ from: e.a, to: e.b, costs: Array.from({ length: e.table.length / e.kb }, (_, i) => Array.from(e.table.subarray(i * e.kb, (i + 1) * e.kb))) })),
    [],
    [],
  );
  return { bound, reparametrized };
}

/** The better of the spanning-forest bound and that bound on the diffused problem (the same costs for every assignment). */
export function diffusionBound(p: Problem, opts: DiffusionOptions = {}): number {
  const { bound, reparametrized } = diffuse(p, opts);
  return Math.max(relaxationBound(p), bound, relaxationBound(reparametrized));
}

/**
 * A lower bound on `p` with its memory constraints and ties relaxed: the spanning-forest
 * bound, and where that is not within `tolerance` of `objective` (a known assignment's
 * cost, if any), diffusion's on the core that elimination leaves (exact: the same
 * optimum, less what the nodes it isolates add, which `offset` gives back). Diffusion
 * stops once it proves `objective`.
 */
export function relaxedBound(p: Problem, opts: { readonly objective?: number; readonly tolerance?: number } = {}): number {
  const forest = relaxationBound(p);
  const tolerance = opts.tolerance ?? PROVEN_GAP;
  const objective = opts.objective;
  if (objective !== undefined && objective - forest <= tolerance * Math.abs(objective)) return forest;
  const core = eliminate(problemOf(p.nodes, p.edges, [], []));
  const target = objective === undefined ? undefined : objective - core.offset;
  return Math.max(forest, diffusionBound(core.problem, { tolerance, ...(target === undefined ? {} : { target }) }) + core.offset);
}
