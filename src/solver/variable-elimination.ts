/**
 * Exact minimisation by variable (bucket) elimination, for problems of small induced
 * width. eliminate.ts folds nodes of degree <= 2 into pairwise edges; what it leaves
 * (a transformer block on a 2-D mesh: ~130 nodes, degree 3+) is where HiGHS spends
 * seconds per solve. Eliminating a node of any degree instead makes a table over its
 * neighbours (min over its choices of every factor it is in); choosing the next node
 * so that this table is smallest keeps tables small on graphs shaped like layers.
 * When the cheapest next table exceeds the work cap, it gives up (undefined) and the
 * caller uses the ILP. Memory constraints and ties are not seen: callers pass a
 * reduced, memory-free problem.
 */
import { eliminateBucket } from './bucket.js';
import type { Problem } from './problem.js';

export interface EliminationLimits {
  /** Most table entries × choices one step may evaluate (default 2e7). */
  readonly stepWork?: number;
  /** Most of that over the whole run (default 2e8). */
  readonly totalWork?: number;
  /** Largest problem tried (default 3000 nodes). */
  readonly maxNodes?: number;
}

interface Factor {
  /** Variables, ascending. */
  readonly vars: readonly number[];
  /** Row-major over `vars`, the last one fastest. */
  readonly table: Float64Array;
}

interface Step {
  readonly x: number;
  readonly scope: readonly number[];
  readonly best: Int32Array;
}

export interface EliminationOptimum {
  readonly choice: number[];
  readonly objective: number;
  /** Largest table made (entries), for reports. */
  readonly largestTable: number;
}

export function solveByElimination(p: Problem, limits: EliminationLimits = {}): EliminationOptimum | undefined {
  // The ordering heuristic is quadratic in nodes: large problems go to the ILP directly.
  if (p.memory.length > 0 || p.ties.some((t) => t.length > 1) || p.nodes.length > (limits.maxNodes ?? 3000)) return undefined;
  const stepCap = limits.stepWork ?? 2e7;
  const totalCap = limits.totalWork ?? 2e8;
  const n = p.nodes.length;
  const size = p.nodes.map((nd) => nd.strategies.length);
  const factors = new Map<number, Factor>();
  const of: Set<number>[] = Array.from({ length: n }, () => new Set());
  let nextId = 0;
  const add = (f: Factor): void => {
    const id = nextId++;
    factors.set(id, f);
    for (const v of f.vars) of[v]?.add(id);
  };
  p.nodes.forEach((nd, i) => add({ vars: [i], table: Float64Array.from(nd.strategies, (s) => s.cost) }));
  for (const e of p.edges) {
    const [a, b] = [e.from, e.to];
    const ka = size[a] ?? 0;
    const kb = size[b] ?? 0;
    if (a === b) {
      add({ vars: [a], table: Float64Array.from({ length: ka }, (_, i) => e.costs[i]?.[i] ?? 0) });
      continue;
    }
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const kh = size[hi] ?? 0;
    const table = new Float64Array((size[lo] ?? 0) * kh);
    for (let i = 0; i < ka; i++) for (let j = 0; j < kb; j++) table[a < b ? i * kb + j : j * ka + i] = e.costs[i]?.[j] ?? 0;
    add({ vars: [lo, hi], table });
  }

  // The interaction graph, kept up to date as nodes go (their neighbours become a clique).
  const adj: Set<number>[] = Array.from({ length: n }, () => new Set());
  for (const f of factors.values()) for (const a of f.vars) for (const b of f.vars) if (a !== b) adj[a]?.add(b);
  const neighbours = (x: number): number[] => [...(adj[x] ?? [])].sort((a, b) => a - b);
  const alive = new Set(Array.from({ length: n }, (_, i) => i));
  const steps: Step[] = [];
  let constant = 0;
  let work = 0;
  let largestTable = 0;
  // Each node's fill (edges its elimination adds between its neighbours) and table size,
  // kept between steps: eliminating x changes the neighbourhoods of its scope only, so
  // only the fill of the scope and of the scope's neighbours can change.
  const fillOf = new Float64Array(n);
  const workOf = new Float64Array(n);
  const rescore = (v: number, withWork: boolean): void => {
    const scope = adj[v] as Set<number>;
    if (withWork) {
      let w = size[v] ?? 1;
      for (const u of scope) w *= size[u] ?? 1;
      workOf[v] = w;
    }
    let fill = 0;
    for (const a of scope) {
      const near = adj[a] as Set<number>;
      for (const b of scope) if (a < b && !near.has(b)) fill++;
    }
    fillOf[v] = fill;
  };
  for (let v = 0; v < n; v++) rescore(v, true);
  while (alive.size > 0) {
    // Next: the node whose elimination adds fewest new edges between its neighbours
    // (min-fill, which tracks the graph's width), then the smallest table.
    let x = -1;
    let xWork = Infinity;
    let xFill = Infinity;
    for (const v of alive) {
      const fill = fillOf[v] as number;
      const w = workOf[v] as number;
      if (fill < xFill || (fill === xFill && w < xWork)) {
        xWork = w;
        xFill = fill;
        x = v;
      }
    }
    const xScope = neighbours(x);
    const bucket = [...(of[x] ?? [])].map((id) => [id, factors.get(id) as Factor] as const);
    work += xWork * bucket.length;
    if (xWork * bucket.length > stepCap || work > totalCap) return undefined;
    let entries = 1;
    for (const u of xScope) entries *= size[u] ?? 1;
    largestTable = Math.max(largestTable, entries);
    // (Summing in eliminateBucket's order rather than the bucket's changes the last bit
    // of some sums, and so which of two equal choices wins.)
    const { table, best } = eliminateBucket(bucket.map(([, f]) => f), x, xScope, size);
    for (const [id, f] of bucket) {
      factors.delete(id);
      for (const v of f.vars) of[v]?.delete(id);
    }
    alive.delete(x);
    for (const u of xScope) {
      const near = adj[u] as Set<number>;
      near.delete(x);
      for (const w of xScope) if (w !== u) near.add(w);
    }
    adj[x]?.clear();
    const touched = new Set<number>(xScope);
    for (const u of xScope) for (const w of adj[u] as Set<number>) touched.add(w);
    for (const v of touched) rescore(v, xScope.includes(v));
    steps.push({ x, scope: xScope, best });
    if (xScope.length === 0) constant += table[0] ?? 0;
    else add({ vars: xScope, table });
  }
  const choice = new Array<number>(n).fill(0);
  for (let s = steps.length - 1; s >= 0; s--) {
    const st = steps[s] as Step;
    let idx = 0;
    for (const u of st.scope) idx = idx * (size[u] ?? 1) + (choice[u] ?? 0);
    choice[st.x] = st.best[idx] ?? 0;
  }
  return { choice, objective: constant, largestTable };
}
