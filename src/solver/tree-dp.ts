/**
 * Exact minimisation over a forest by min-sum message passing: each node sends its parent,
 * for every parent strategy, the cheapest cost of its own subtree; the root picks its best
 * strategy and the choices unwind downwards. O(Σ over edges of k_from * k_to).
 * Ties and memory are not seen here: callers pass a tie-free problem (see reduce.ts) and
 * check memory on the result.
 */
import { fail } from '../errors.js';
import type { Problem } from './problem.js';

export interface ForestOptimum {
  readonly choice: number[];
  /** Σ node costs + Σ costs of the forest's edges (others ignored). */
  readonly objective: number;
}

interface Link {
  readonly edge: number;
  readonly other: number;
  /** True when this node is the edge's `from` (rows index this node's strategies). */
  readonly isFrom: boolean;
}

/**
 * Optimum of node costs plus the costs of `edgeIndices` (all edges by default), which must
 * form a forest.
 */
export function forestDp(p: Problem, edgeIndices?: readonly number[]): ForestOptimum {
  const n = p.nodes.length;
  const links: Link[][] = Array.from({ length: n }, () => []);
  for (const k of edgeIndices ?? p.edges.map((_, i) => i)) {
    const e = p.edges[k];
    if (e === undefined) fail('E_INTERNAL', `tree DP: no edge ${k}`);
    links[e.from]?.push({ edge: k, other: e.to, isFrom: true });
    links[e.to]?.push({ edge: k, other: e.from, isFrom: false });
  }
  const kOf = (v: number): number => p.nodes[v]?.strategies.length ?? 0;

  // Cost of edge `link` when its near end (the node owning the link) takes i and the far end j.
  const linkCost = (link: Link, i: number, j: number): number => {
    const costs = p.edges[link.edge]?.costs;
    return (link.isFrom ? costs?.[i]?.[j] : costs?.[j]?.[i]) ?? 0;
  };

  // Subtree cost so far per strategy: own cost plus the children's messages.
  const belief = p.nodes.map((node) => Float64Array.from(node.strategies, (s) => s.cost));
  const parentLink: (Link | undefined)[] = new Array<Link | undefined>(n);
  // best[v][j]: v's strategy when its parent takes j.
  const best: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(n);
  const visited = new Uint8Array(n);
  const choice = new Array<number>(n).fill(0);
  let objective = 0;

  for (let root = 0; root < n; root++) {
    if (visited[root]) continue;
    // Iterative DFS: the order lists every node after its parent.
    const order: number[] = [];
    const stack = [root];
    visited[root] = 1;
    while (stack.length > 0) {
      const v = stack.pop() ?? 0;
      order.push(v);
      for (const link of links[v] ?? []) {
        if (link.edge === parentLink[v]?.edge) continue;
        if (visited[link.other]) fail('E_INTERNAL', `tree DP: edges are not a forest (cycle through node ${link.other})`);
        visited[link.other] = 1;
        // Store the link as seen from the child, so the child's rows/cols orientation is known.
        const back = (links[link.other] ?? []).find((l) => l.edge === link.edge);
        parentLink[link.other] = back;
        stack.push(link.other);
      }
    }
    for (let t = order.length - 1; t > 0; t--) {
      const v = order[t] ?? 0;
      const link = parentLink[v];
      if (link === undefined) continue;
      const u = link.other;
      const bv = belief[v] ?? new Float64Array(0);
      const bu = belief[u] ?? new Float64Array(0);
      const arg = new Int32Array(kOf(u));
      for (let j = 0; j < kOf(u); j++) {
        let min = Infinity;
        let at = 0;
        for (let i = 0; i < bv.length; i++) {
          const c = (bv[i] ?? 0) + linkCost(link, i, j);
          if (c < min) {
            min = c;
            at = i;
          }
        }
        arg[j] = at;
        bu[j] = (bu[j] ?? 0) + min;
      }
      best[v] = arg;
    }
    const br = belief[root] ?? new Float64Array(0);
    let min = Infinity;
    for (let i = 0; i < br.length; i++) {
      const c = br[i] ?? 0;
      if (c < min) {
        min = c;
        choice[root] = i;
      }
    }
    objective += min;
    for (let t = 1; t < order.length; t++) {
      const v = order[t] ?? 0;
      const u = parentLink[v]?.other ?? 0;
      choice[v] = best[v]?.[choice[u] ?? 0] ?? 0;
    }
  }
  return { choice, objective };
}
