/**
 * Exact solves of one problem restricted, again and again, to a few strategies per node:
 * what axis descent asks for (a handful of times per layer on every 2-D mesh). The
 * general path (restrict, reduce, eliminate chains, variable elimination, each building
 * a new Problem of nested arrays) spent most of its time copying and allocating for
 * problems of ~100 nodes with 1-10 strategies each. Here the problem is flattened once
 * (unary costs and one row-major matrix per node pair); each restricted solve simplifies
 * exactly (nodes left with one strategy, separable pairs, dominated strategies: see
 * simplify) and runs bucket elimination on typed arrays, choosing the next node by least
 * fill, then smallest table. On a GPT block's 2-D meshes a solve took 0.6-0.9x the time
 * of the general path (restrict, reduce, eliminate, solve), and the same optimum.
 *
 * Only memory-free, tie-free problems (the core axis descent works on after the exact
 * reductions); `undefined` when a table would exceed the work caps, and the caller uses
 * the general path.
 */
import { eliminateBucket } from './bucket.js';
import type { Problem } from './problem.js';

export interface FlatProblem {
  readonly n: number;
  /** Strategy costs per node (self-loop edges' diagonals folded in). */
  readonly cost: readonly Float64Array[];
  /** One entry per unordered node pair with edges (parallel edges summed): lower node, higher node, row-major matrix [choice of a][choice of b]. */
  readonly pairs: readonly { readonly a: number; readonly b: number; readonly m: Float64Array }[];
  /** Pair indices incident to each node. */
  readonly incident: readonly Int32Array[];
}

export interface RestrictedLimits {
  /** Most table entries × choices one step may evaluate (as variable elimination: 2e7). */
  readonly stepWork?: number;
  /** Most of that over the whole solve (2e8). */
  readonly totalWork?: number;
}

/**
 * Largest problem flattened: the elimination keeps a node-by-node adjacency matrix and
 * scans a row per neighbour it rescores (quadratic in nodes), which suits the cores of
 * layers (about a hundred nodes), not whole untied models; those take the general path.
 */
export const MAX_FLAT_NODES = 2000;

/** The flat form of `p`, or undefined when it has memory constraints or ties, or more than MAX_FLAT_NODES nodes. */
export function flattenProblem(p: Problem): FlatProblem | undefined {
  if (p.memory.length > 0 || p.ties.some((t) => t.length > 1) || p.nodes.length > MAX_FLAT_NODES) return undefined;
  const n = p.nodes.length;
  const size = p.nodes.map((nd) => nd.strategies.length);
  const cost = p.nodes.map((nd) => Float64Array.from(nd.strategies, (s) => s.cost));
  const pairs: { a: number; b: number; m: Float64Array }[] = [];
  const pairOf = new Map<number, number>();
  for (const e of p.edges) {
    if (e.from === e.to) {
      const c = cost[e.from] as Float64Array;
      for (let i = 0; i < c.length; i++) c[i] = (c[i] as number) + (e.costs[i]?.[i] ?? 0);
      continue;
    }
    const a = Math.min(e.from, e.to);
    const b = Math.max(e.from, e.to);
    const kb = size[b] ?? 0;
    const key = a * n + b;
    let index = pairOf.get(key);
    if (index === undefined) {
      index = pairs.length;
      pairOf.set(key, index);
      pairs.push({ a, b, m: new Float64Array((size[a] ?? 0) * kb) });
    }
    const m = (pairs[index] as { m: Float64Array }).m;
    const flip = e.from > e.to;
    e.costs.forEach((row, i) =>
      row.forEach((c, j) => {
        const at = flip ? j * kb + i : i * kb + j;
        m[at] = (m[at] as number) + c;
      }),
    );
  }
  const count = new Int32Array(n);
  for (const { a, b } of pairs) {
    count[a]! += 1;
    count[b]! += 1;
  }
  const incident = Array.from({ length: n }, (_, v) => new Int32Array(count[v]!));
  const filled = new Int32Array(n);
  pairs.forEach(({ a, b }, index) => {
    incident[a]![filled[a]!++] = index;
    incident[b]![filled[b]!++] = index;
  });
  return { n, cost, pairs, incident };
}

interface Factor {
  /** Variables, ascending. */
  readonly vars: Int32Array;
  /** Row-major over `vars` (restricted choices), the last fastest. */
  readonly table: Float64Array;
  alive: boolean;
}

/** A restricted problem after the exact simplifications: per node its live choices (indices into its allowed list), costs over all of them, and the pairs left. */
interface Simplified {
  readonly live: readonly (readonly number[])[];
  readonly unary: readonly Float64Array[];
  /** Pairs still linking two nodes of several live choices: tables over the allowed lists. */
  readonly pairs: readonly { readonly a: number; readonly b: number; readonly table: Float64Array }[];
}

/**
 * The exact reductions of reduce.ts that matter once a problem is restricted, done in
 * place on small tables:
 * - a node left with one choice is conditioned on (its pairs become its neighbours' costs);
 * - a pair whose table is a row term plus a column term over the live choices (constant,
 *   most often: the axis being re-chosen does not change that resharding) becomes costs of
 *   its two nodes, which can lower the width elimination meets;
 * - a choice is dropped when another is never worse in its own cost and on every pair
 *   (and, when they are equal everywhere, when the other comes first).
 * Each can enable the others, so they repeat until nothing changes.
 */
function simplify(f: FlatProblem, allowed: readonly (readonly number[])[]): Simplified {
  const n = f.n;
  const r = Int32Array.from({ length: n }, (_, v) => allowed[v]?.length ?? 0);
  const unary = f.cost.map((c, v) => Float64Array.from(allowed[v] ?? [], (k) => c[k] as number));
  const live: number[][] = Array.from({ length: n }, (_, v) => Array.from({ length: r[v]! }, (_, i) => i));
  const tables: Float64Array[] = [];
  const pairAlive = new Uint8Array(f.pairs.length).fill(1);
  f.pairs.forEach(({ a, b, m }) => {
    const la = allowed[a] ?? [];
    const lb = allowed[b] ?? [];
    const kb = f.cost[b]?.length ?? 0;
    const table = new Float64Array(la.length * lb.length);
    for (let i = 0; i < la.length; i++) {
      const row = (la[i] as number) * kb;
      for (let j = 0; j < lb.length; j++) table[i * lb.length + j] = m[row + (lb[j] as number)] as number;
    }
    tables.push(table);
  });
  const nodeDirty = new Uint8Array(n).fill(1);
  const pairDirty = new Uint8Array(f.pairs.length).fill(1);
  const dirtyAround = (v: number): void => {
    nodeDirty[v] = 1;
    for (const p of f.incident[v] as Int32Array) {
      if (!pairAlive[p]) continue;
      pairDirty[p] = 1;
      const { a, b } = f.pairs[p] as FlatProblem['pairs'][number];
      nodeDirty[a === v ? b : a] = 1;
    }
  };
  /** Pair p's nodes, table, row length and live choices, with the first live of each. */
  const view = (p: number) => {
    const { a, b } = f.pairs[p] as FlatProblem['pairs'][number];
    const la = live[a] as number[];
    const lb = live[b] as number[];
    return { a, b, t: tables[p] as Float64Array, rb: r[b]!, la, lb, i0: la[0] as number, j0: lb[0] as number };
  };
  /** Folds pair p into its nodes' costs as row term + column term (exact only when it is one). */
  const fold = (p: number): void => {
    const { a, b, t, rb, la, lb, i0, j0 } = view(p);
    const ua = unary[a] as Float64Array;
    const ub = unary[b] as Float64Array;
    for (const i of la) ua[i]! += t[i * rb + j0]!;
    for (const j of lb) ub[j]! += t[i0 * rb + j]! - t[i0 * rb + j0]!;
    pairAlive[p] = 0;
    nodeDirty[a] = 1;
    nodeDirty[b] = 1;
  };
  const separable = (p: number): boolean => {
    const { t, rb, la, lb, i0, j0 } = view(p);
    for (const i of la) {
      const d = t[i * rb + j0]! - t[i0 * rb + j0]!;
      for (const j of lb) if (t[i * rb + j]! - t[i0 * rb + j]! !== d) return false;
    }
    return true;
  };
  /** Whether choice j of v is never worse than i; `strict` when somewhere better. */
  const dominance = (v: number, j: number, i: number): 0 | 1 | 2 => {
    const u = unary[v] as Float64Array;
    if (u[j]! > u[i]!) return 0;
    let strict = u[j]! < u[i]!;
    for (const p of f.incident[v] as Int32Array) {
      if (!pairAlive[p]) continue;
      const { a, b } = f.pairs[p] as FlatProblem['pairs'][number];
      const t = tables[p] as Float64Array;
      // Entry (choice c of v, choice k of the other node) sits at c * vs + k * os.
      const vs = a === v ? r[b]! : 1;
      const os = a === v ? 1 : r[v]!;
      for (const k of live[a === v ? b : a] as number[]) {
        const x = t[j * vs + k * os]!;
        const y = t[i * vs + k * os]!;
        if (x > y) return 0;
        if (x < y) strict = true;
      }
    }
    return strict ? 2 : 1;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let p = 0; p < f.pairs.length; p++) {
      if (!pairAlive[p] || !pairDirty[p]) continue;
      pairDirty[p] = 0;
      const { a, b } = f.pairs[p] as FlatProblem['pairs'][number];
      // A node of one choice makes every pair of it separable.
      if ((live[a] as number[]).length === 1 || (live[b] as number[]).length === 1 || separable(p)) {
        fold(p);
        changed = true;
      }
    }
    for (let v = 0; v < n; v++) {
      if (!nodeDirty[v]) continue;
      nodeDirty[v] = 0;
      const lv = live[v] as number[];
      if (lv.length < 2) continue;
      // Equal choices: the first stays.
      const beats = (j: number, i: number): boolean => {
        const d = dominance(v, j, i);
        return d === 2 || (d === 1 && j < i);
      };
      let kept = lv;
      for (const i of lv) if (kept.some((j) => j !== i && beats(j, i))) kept = kept.filter((x) => x !== i);
      if (kept.length < lv.length) {
        live[v] = kept;
        dirtyAround(v);
        changed = true;
      }
    }
  }
  const pairs: { a: number; b: number; table: Float64Array }[] = [];
  f.pairs.forEach(({ a, b }, p) => {
    if (pairAlive[p]) pairs.push({ a, b, table: tables[p] as Float64Array });
  });
  return { live, unary, pairs };
}

/**
 * The best choice (original strategy indices) with node i restricted to `allowed[i]`
 * (non-empty), or undefined past the work caps.
 */
export function solveRestricted(f: FlatProblem, allowed: readonly (readonly number[])[], limits: RestrictedLimits = {}): number[] | undefined {
  const stepCap = limits.stepWork ?? 2e7;
  const totalCap = limits.totalWork ?? 2e8;
  const n = f.n;
  const s = simplify(f, allowed);
  // Elimination runs over each node's live choices: position c of node v is live[v][c].
  const r = Int32Array.from(s.live, (l) => l.length);
  const factors: Factor[] = [];
  const of: number[][] = Array.from({ length: n }, () => []);
  const adjacent = new Uint8Array(n * n);
  const addFactor = (vars: Int32Array, table: Float64Array): void => {
    const id = factors.length;
    factors.push({ vars, table, alive: true });
    for (let i = 0; i < vars.length; i++) of[vars[i]!]!.push(id);
  };
  const link = (a: number, b: number): void => {
    adjacent[a * n + b] = 1;
    adjacent[b * n + a] = 1;
  };
  for (const { a, b, table: full } of s.pairs) {
    const la = s.live[a] as readonly number[];
    const lb = s.live[b] as readonly number[];
    const rb = allowed[b]?.length ?? 0;
    const table = new Float64Array(la.length * lb.length);
    for (let i = 0; i < la.length; i++) for (let j = 0; j < lb.length; j++) table[i * lb.length + j] = full[(la[i] as number) * rb + (lb[j] as number)] as number;
    addFactor(Int32Array.of(a, b), table);
    link(a, b);
  }
  for (let v = 0; v < n; v++) addFactor(Int32Array.of(v), Float64Array.from(s.live[v] as readonly number[], (i) => (s.unary[v] as Float64Array)[i] as number));

  // Fill (edges an elimination adds among the neighbours) and table work per node, kept
  // up to date for the nodes whose neighbourhood changes.
  const alive = new Uint8Array(n).fill(1);
  const fill = new Float64Array(n);
  const work = new Float64Array(n);
  const neighboursOf = (v: number): number[] => {
    const out: number[] = [];
    const row = v * n;
    for (let u = 0; u < n; u++) if (adjacent[row + u]) out.push(u);
    return out;
  };
  const rescore = (v: number): void => {
    const nb = neighboursOf(v);
    let w = r[v] as number;
    let missing = 0;
    for (let i = 0; i < nb.length; i++) {
      const a = nb[i] as number;
      w *= r[a] as number;
      for (let j = i + 1; j < nb.length; j++) if (!adjacent[a * n + (nb[j] as number)]) missing++;
    }
    fill[v] = missing;
    work[v] = w;
  };
  for (let v = 0; v < n; v++) rescore(v);

  const order: { x: number; scope: Int32Array; best: Int32Array }[] = [];
  let total = 0;
  for (let step = 0; step < n; step++) {
    let x = -1;
    for (let v = 0; v < n; v++) {
      if (!alive[v]) continue;
      if (x < 0 || fill[v]! < fill[x]! || (fill[v] === fill[x] && work[v]! < work[x]!)) x = v;
    }
    const scope = Int32Array.from(neighboursOf(x));
    const bucket = (of[x] as number[]).filter((id) => (factors[id] as Factor).alive);
    const stepWork = (work[x] as number) * bucket.length;
    total += stepWork;
    if (stepWork > stepCap || total > totalCap) return undefined;
    const S = scope.length;
    for (const id of bucket) (factors[id] as Factor).alive = false;
    const { table, best } = eliminateBucket(bucket.map((id) => factors[id] as Factor), x, scope, r);
    order.push({ x, scope, best });
    alive[x] = 0;
    // x's neighbours become a clique; x leaves the graph.
    for (let i = 0; i < S; i++) {
      const a = scope[i] as number;
      adjacent[a * n + x] = 0;
      adjacent[x * n + a] = 0;
      for (let j = i + 1; j < S; j++) link(a, scope[j] as number);
    }
    if (S > 0) addFactor(scope, table);
    // Fill changes for the scope and the scope's neighbours.
    const touched = new Uint8Array(n);
    for (let i = 0; i < S; i++) {
      const a = scope[i] as number;
      touched[a] = 1;
      const row = a * n;
      for (let u = 0; u < n; u++) if (adjacent[row + u]) touched[u] = 1;
    }
    for (let v = 0; v < n; v++) if (touched[v] && alive[v]) rescore(v);
  }
  const pick = new Int32Array(n);
  for (let k = order.length - 1; k >= 0; k--) {
    const { x, scope, best } = order[k] as (typeof order)[number];
    let idx = 0;
    for (let d = 0; d < scope.length; d++) idx = idx * r[scope[d]!]! + pick[scope[d]!]!;
    pick[x] = best[idx]!;
  }
  return Array.from(pick, (c, v) => allowed[v]?.[s.live[v]?.[c] ?? 0] ?? 0);
}
