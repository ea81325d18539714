/**
 * Exact graph reductions before the ILP (Alpa's "merge followers", done by dynamic
 * programming): a node with one neighbour folds into it (for each neighbour choice,
 * its best reply), a node with two neighbours becomes an edge between them (the best
 * middle for every pair of choices), a node alone takes its cheapest strategy. Chains
 * of elementwise ops, the bulk of a training graph, vanish this way. Only nodes that
 * are in no memory term are eliminated (the memory constraint must still see every
 * term), or all of them when the memory constraint cannot bind. Ties are ignored here;
 * the caller ties what remains.
 */
import { type MemoryConstraint, type Problem, type ProblemEdge, problemOf } from './problem.js';

interface Step {
  /** The eliminated node, its remaining neighbours at that moment, and its best reply. */
  readonly node: number;
  readonly neighbours: readonly number[];
  /** Flat table: for neighbour choices (row-major over `neighbours`), the node's choice. */
  readonly reply: Int32Array | Uint8Array;
}

/** A reply table of `n` entries for a node of `choices` strategies: bytes when they fit (most of what elimination allocates). */
function replyTable(n: number, choices: number): Int32Array | Uint8Array {
  return choices <= 256 ? new Uint8Array(n) : new Int32Array(n);
}

export interface Elimination {
  /** The smaller problem over the nodes that remain (indices into the original). */
  readonly problem: Problem;
  /** Original index of each node of the reduced problem. */
  readonly kept: readonly number[];
  /** Turns a choice for the reduced problem into one for the original. */
  expand(choice: readonly number[]): number[];
  readonly eliminated: number;
  /**
   * What the nodes eliminated alone (no neighbour left) add at their best: the original
   * optimum is the reduced problem's plus this.
   */
  readonly offset: number;
}

/*
 * The memory terms and ties of the kept nodes, renumbered. Counted loops rather than
 * map/filter chains: these lists arrive as empty literals from some callers and as
 * mapped arrays from others, and the inlined array builtins deoptimised on the change
 * over and over, each time recompiling all of eliminate.
 */
function remapMemory(memory: readonly MemoryConstraint[], newIndex: ReadonlyMap<number, number>): MemoryConstraint[] {
  const out: MemoryConstraint[] = [];
  for (let c = 0; c < memory.length; c++) {
    const m = memory[c] as MemoryConstraint;
    const terms: { node: number; bytes: readonly number[] }[] = [];
    for (let t = 0; t < m.terms.length; t++) {
      const term = m.terms[t] as MemoryConstraint['terms'][number];
      const node = newIndex.get(term.node);
      if (node !== undefined) terms.push({ node, bytes: term.bytes });
    }
    out.push({ ...m, terms });
  }
  return out;
}

function remapTies(ties: readonly (readonly number[])[], newIndex: ReadonlyMap<number, number>): number[][] {
  const out: number[][] = [];
  for (let g = 0; g < ties.length; g++) {
    const group = ties[g] as readonly number[];
    const kept: number[] = [];
    for (let i = 0; i < group.length; i++) {
      const x = newIndex.get(group[i] as number);
      if (x !== undefined) kept.push(x);
    }
    if (kept.length > 1) out.push(kept);
  }
  return out;
}

/** Σ of each term's largest bytes: if that fits the budget, memory cannot bind. */
function memorySlack(p: Problem): boolean {
  return p.memory.every((m) => m.terms.reduce((s, t) => s + Math.max(0, ...t.bytes), 0) <= m.budget);
}

export function eliminate(p: Problem): Elimination {
  const n = p.nodes.length;
  const cost = p.nodes.map((nd) => nd.strategies.map((s) => s.cost));
  const size = cost.map((c) => c.length);
  const slack = memorySlack(p);
  const inMemory = new Set<number>();
  if (!slack) for (const m of p.memory) for (const t of m.terms) inMemory.add(t.node);
  // Undirected adjacency: key "a,b" with a < b, matrix indexed [choice a][choice b].
  const adj: Map<number, Float64Array>[] = Array.from({ length: n }, () => new Map());
  /** The matrix stored between a and b (created at zero), indexed [choice of the lower][choice of the higher]. */
  const matrixOf = (a: number, b: number): Float64Array => {
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    let mat = adj[lo]?.get(hi);
    if (!mat) {
      mat = new Float64Array((size[lo] ?? 0) * (size[hi] ?? 0));
      adj[lo]?.set(hi, mat);
      adj[hi]?.set(lo, mat);
    }
    return mat;
  };
  /** Adds `costs` ([choice of a][choice of b]) to the edge a-b; a self-loop only adds to a's own costs. */
  const addEdge = (a: number, b: number, costs: readonly (readonly number[])[]): void => {
    const sa = size[a] ?? 0;
    const sb = size[b] ?? 0;
    if (a === b) {
      const ca = cost[a] as number[];
      for (let i = 0; i < sa; i++) ca[i] = (ca[i] ?? 0) + (costs[i]?.[i] ?? 0);
      return;
    }
    const mat = matrixOf(a, b);
    // Entry (i, j) sits at i * sb + j when a is the lower, else at j * sa + i.
    const si = a < b ? sb : 1;
    const sj = a < b ? 1 : sa;
    for (let i = 0; i < sa; i++) {
      const row = costs[i];
      for (let j = 0; j < sb; j++) mat[i * si + j * sj] = (mat[i * si + j * sj] ?? 0) + (row?.[j] ?? 0);
    }
  };
  for (const e of p.edges) addEdge(e.from, e.to, e.costs);
  /** Strides of the edge a-b's entry (choice i of a, choice j of b), whichever way it is stored. */
  const rowStride = (a: number, b: number): number => (a < b ? (size[b] ?? 0) : 1);
  const colStride = (a: number, b: number): number => (a < b ? 1 : (size[a] ?? 0));

  const alive = new Array<boolean>(n).fill(true);
  const steps: Step[] = [];
  let offset = 0;
  const queue: number[] = Array.from({ length: n }, (_, i) => i);
  const queued = new Array<boolean>(n).fill(true);
  const push = (v: number): void => {
    if (!queued[v] && alive[v]) {
      queued[v] = true;
      queue.push(v);
    }
  };
  while (queue.length) {
    const v = queue.pop() as number;
    queued[v] = false;
    if (!alive[v] || inMemory.has(v)) continue;
    const nb = [...(adj[v]?.keys() ?? [])];
    const sv = size[v] ?? 0;
    const cv = cost[v] ?? [];
    if (nb.length === 0) {
      let best = 0;
      for (let j = 1; j < sv; j++) if ((cv[j] ?? 0) < (cv[best] ?? 0)) best = j;
      offset += cv[best] ?? 0;
      steps.push({ node: v, neighbours: [], reply: Int32Array.of(best) });
      alive[v] = false;
    } else if (nb.length === 1) {
      const u = nb[0] as number;
      const m = adj[v]?.get(u) as Float64Array;
      const su = size[u] ?? 0;
      const reply = replyTable(su, sv);
      const ui = rowStride(u, v);
      const vj = colStride(u, v);
      for (let i = 0; i < su; i++) {
        let best = 0;
        let bestCost = Infinity;
        for (let j = 0; j < sv; j++) {
          const c = (m[i * ui + j * vj] ?? 0) + (cv[j] ?? 0);
          if (c < bestCost) {
            bestCost = c;
            best = j;
          }
        }
        reply[i] = best;
        (cost[u] as number[])[i] = (cost[u]?.[i] ?? 0) + bestCost;
      }
      adj[u]?.delete(v);
      adj[v]?.clear();
      steps.push({ node: v, neighbours: [u], reply });
      alive[v] = false;
      push(u);
    } else if (nb.length === 2) {
      const [u, w] = nb as [number, number];
      const mu = adj[v]?.get(u) as Float64Array;
      const mw = adj[v]?.get(w) as Float64Array;
      const su = size[u] ?? 0;
      const sw = size[w] ?? 0;
      const reply = replyTable(su * sw, sv);
      // The best middle for each (u, w) pair goes straight into the u-w matrix.
      const uw = matrixOf(u, w);
      const ri = u < w ? sw : 1;
      const rk = u < w ? 1 : su;
      const ui = rowStride(u, v);
      const uj = colStride(u, v);
      const wk = rowStride(w, v);
      const wj = colStride(w, v);
      // Rows over v's choices, contiguous: u's side with v's own costs added (the same sum,
      // in the same order, as adding them in the loop), and w's side. The (min, +) loop
      // below is most of what elimination costs on a 2-D mesh.
      const left = new Float64Array(su * sv);
      for (let i = 0; i < su; i++) for (let j = 0; j < sv; j++) left[i * sv + j] = (mu[i * ui + j * uj] as number) + (cv[j] as number);
      const right = new Float64Array(sw * sv);
      for (let k = 0; k < sw; k++) for (let j = 0; j < sv; j++) right[k * sv + j] = mw[k * wk + j * wj] as number;
      for (let i = 0; i < su; i++) {
        const li = i * sv;
        for (let k = 0; k < sw; k++) {
          const rk2 = k * sv;
          let best = 0;
          let bestCost = Infinity;
          for (let j = 0; j < sv; j++) {
            const c = (left[li + j] as number) + (right[rk2 + j] as number);
            if (c < bestCost) {
              bestCost = c;
              best = j;
            }
          }
          reply[i * sw + k] = best;
          uw[i * ri + k * rk] = (uw[i * ri + k * rk] ?? 0) + bestCost;
        }
      }
      adj[u]?.delete(v);
      adj[w]?.delete(v);
      adj[v]?.clear();
      steps.push({ node: v, neighbours: [u, w], reply });
      alive[v] = false;
      push(u);
      push(w);
    }
  }

  const kept = Array.from({ length: n }, (_, i) => i).filter((i) => alive[i]);
  const newIndex = new Map(kept.map((k, i) => [k, i]));
  const edges: ProblemEdge[] = [];
  for (const a of kept) {
    for (const [b, mat] of adj[a] ?? []) {
      if (b <= a) continue;
      const sa = size[a] ?? 0;
      const sb = size[b] ?? 0;
      const costs: number[][] = new Array<number[]>(sa);
      for (let i = 0; i < sa; i++) {
        const row = new Array<number>(sb);
        for (let j = 0; j < sb; j++) row[j] = mat[i * sb + j] ?? 0;
        costs[i] = row;
      }
      edges.push({ from: newIndex.get(a) as number, to: newIndex.get(b) as number, costs });
    }
  }
  const problem = problemOf(
    kept.map((k) => ({ name: p.nodes[k]?.name, strategies: (cost[k] ?? []).map((c) => ({ cost: c })) })),
    edges,
    slack ? [] : remapMemory(p.memory, newIndex),
    remapTies(p.ties, newIndex),
  );
  return {
    problem,
    kept,
    eliminated: n - kept.length,
    offset,
    expand(choice) {
      const full = new Array<number>(n).fill(0);
      kept.forEach((k, i) => (full[k] = choice[i] ?? 0));
      for (let s = steps.length - 1; s >= 0; s--) {
        const st = steps[s] as Step;
        let idx = 0;
        for (const u of st.neighbours) idx = idx * (size[u] ?? 1) + (full[u] ?? 0);
        full[st.node] = st.reply[idx] ?? 0;
      }
      return full;
    },
  };
}
