/**
 * The undirected edge graph of a tie-free problem: forest test and a maximum-weight
 * spanning forest (Kruskal), for the tree DP, the lower bound and the greedy.
 */
import type { Problem, ProblemEdge } from './problem.js';

class DisjointSets {
  private readonly parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root] ?? root;
    while (this.parent[x] !== root) {
      const next = this.parent[x] ?? root;
      this.parent[x] = root;
      x = next;
    }
    return root;
  }
  /** False when a and b were already joined. */
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    this.parent[ra] = rb;
    return true;
  }
}

/** True when no edge closes a cycle; a self-loop or a second edge between a pair does. */
export function isForest(p: Problem): boolean {
  const sets = new DisjointSets(p.nodes.length);
  return p.edges.every((e) => sets.union(e.from, e.to));
}

// Counted loops: cost rows come as arrays of several kinds, and for-of over them kept
// allocating iterator results (37 MB of the 1.4 GB a GPT-1.3B count allocates).
/** max - min of an edge's costs: how much choosing its endpoints well can matter. */
export function edgeSpread(e: ProblemEdge): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < e.costs.length; i++) {
    const row = e.costs[i] as readonly number[];
    for (let j = 0; j < row.length; j++) {
      const c = row[j] as number;
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    }
  }
  return hi - lo;
}

export function edgeMin(e: ProblemEdge): number {
  let lo = Infinity;
  for (let i = 0; i < e.costs.length; i++) {
    const row = e.costs[i] as readonly number[];
    for (let j = 0; j < row.length; j++) if ((row[j] as number) < lo) lo = row[j] as number;
  }
  return lo === Infinity ? 0 : lo;
}

/**
 * Indices of a spanning forest that keeps the edges of largest spread, so that what the
 * forest leaves out matters least.
 */
export function maxSpreadForest(p: Problem): number[] {
  const order = p.edges.map((e, k) => ({ k, w: edgeSpread(e) })).sort((x, y) => y.w - x.w || x.k - y.k);
  const sets = new DisjointSets(p.nodes.length);
  const kept: number[] = [];
  for (const { k } of order) {
    const e = p.edges[k];
    if (e && sets.union(e.from, e.to)) kept.push(k);
  }
  return kept.sort((a, b) => a - b);
}
