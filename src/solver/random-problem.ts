/**
 * Seeded random problems for the solver tests and benchmark. Two shapes:
 * - `smallRandomProblem`: anything goes (cycles, parallel edges, self-loops, ties, memory
 *   that is slack, binding or impossible), small enough to brute-force;
 * - `layeredProblem`: shaped like an intra-op problem on a model: a tree backbone plus
 *   skip edges, strategies carrying a layout so that matching layouts reshard for free.
 */
import type { MemoryConstraint, Problem, ProblemEdge, ProblemNode } from './problem.js';

/** mulberry32: small, fast, and the same sequence on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

export interface SmallRandomOptions {
  readonly maxNodes?: number;
  readonly maxStrategies?: number;
}

export function smallRandomProblem(seed: number, opts: SmallRandomOptions = {}): Problem {
  const r = rng(seed);
  const n = int(r, 1, opts.maxNodes ?? 7);
  const maxK = opts.maxStrategies ?? 4;
  // Integer-valued costs half the time: equal optima and all-equal edges get exercised.
  const integral = r() < 0.5;
  const cost = (): number => (integral ? int(r, 0, 5) : r() * 10);
  const counts = Array.from({ length: n }, () => int(r, 1, maxK));
  const nodes: ProblemNode[] = counts.map((k, v) => ({ strategies: Array.from({ length: k }, () => ({ cost: cost() })), name: `n${v}` }));

  const matrix = (a: number, b: number): number[][] => {
    const constant = r() < 0.1 ? cost() : undefined;
    return Array.from({ length: counts[a] ?? 1 }, () => Array.from({ length: counts[b] ?? 1 }, () => constant ?? cost()));
  };
  const edges: ProblemEdge[] = [];
  for (let v = 1; v < n; v++) {
    if (r() < 0.85) {
      const u = int(r, 0, v - 1);
      edges.push(r() < 0.5 ? { from: u, to: v, costs: matrix(u, v) } : { from: v, to: u, costs: matrix(v, u) });
    }
  }
  const extra = int(r, 0, Math.min(n, 4));
  for (let t = 0; t < extra; t++) {
    const a = int(r, 0, n - 1);
    const b = r() < 0.1 ? a : int(r, 0, n - 1); // sometimes a self-loop
    edges.push({ from: a, to: b, costs: matrix(a, b) });
  }
  if (edges.length > 0 && r() < 0.3) {
    const e = edges[int(r, 0, edges.length - 1)];
    if (e) edges.push({ from: e.to, to: e.from, costs: matrix(e.to, e.from) }); // parallel, reversed
  }

  const ties: number[][] = [];
  if (r() < 0.5) {
    const byCount = new Map<number, number[]>();
    counts.forEach((k, v) => byCount.set(k, [...(byCount.get(k) ?? []), v]));
    for (const group of byCount.values()) {
      if (group.length >= 2 && r() < 0.6) ties.push(group.filter(() => r() < 0.7));
    }
  }

  const memory: MemoryConstraint[] = [];
  const constraints = int(r, 0, 2);
  for (let c = 0; c < constraints; c++) {
    const terms = nodes.flatMap((_, v) => (r() < 0.7 ? [{ node: v, bytes: Array.from({ length: counts[v] ?? 1 }, () => int(r, 0, 100)) }] : []));
    let least = 0;
    let most = 0;
    for (const t of terms) {
      least += Math.min(...t.bytes);
      most += Math.max(...t.bytes);
    }
    const mode = r();
    // Mostly binding (between least and most), sometimes slack, sometimes impossible.
    const budget = mode < 0.1 ? least - 1 - int(r, 0, 10) : mode < 0.25 ? most + int(r, 0, 10) : int(r, least, most);
    memory.push({ budget, terms, name: `mem${c}` });
  }
  return { nodes, edges, memory, ties };
}

export interface LayeredOptions {
  readonly nodes: number;
  readonly minStrategies: number;
  readonly maxStrategies: number;
  /** Extra non-tree edges per node (skip connections). */
  readonly extraEdgeRatio: number;
  /** Budget as a fraction of the way from the least to the most memory; none when absent. */
  readonly memoryTightness?: number;
  /** Tie groups of this many nodes (repeated layers); none when absent. */
  readonly tieGroupSize?: number;
}

export function layeredProblem(seed: number, opts: LayeredOptions): Problem {
  const r = rng(seed);
  const layouts = 4;
  const counts = Array.from({ length: opts.nodes }, () => int(r, opts.minStrategies, opts.maxStrategies));
  // Tied nodes need equal counts: give every member of a group the count of its first.
  const groupSize = opts.tieGroupSize;
  const ties: number[][] = [];
  if (groupSize !== undefined && groupSize > 1) {
    const stride = Math.max(1, Math.floor(opts.nodes / groupSize));
    for (let first = 0; first < stride && first < opts.nodes; first += 7) {
      const group = Array.from({ length: groupSize }, (_, t) => first + t * stride).filter((v) => v < opts.nodes);
      for (const v of group) counts[v] = counts[first] ?? opts.minStrategies;
      if (group.length > 1) ties.push(group);
    }
  }
  const layoutOf = counts.map((k) => Array.from({ length: k }, () => int(r, 0, layouts - 1)));
  const flops = counts.map(() => 1e-4 + r() * 1e-3);
  const nodes: ProblemNode[] = counts.map((k, v) => ({
    name: `op${v}`,
    // Compute shrinks with more parallelism; communication grows: a spread of costs.
    strategies: Array.from({ length: k }, () => ({ cost: (flops[v] ?? 0) * (0.2 + r()) })),
  }));
  const resharding = (a: number, b: number): number[][] => {
    const volume = 1e-5 + r() * 1e-4;
    return (layoutOf[a] ?? []).map((la) => (layoutOf[b] ?? []).map((lb) => (la === lb ? 0 : volume * (0.5 + r()))));
  };
  const edges: ProblemEdge[] = [];
  for (let v = 1; v < opts.nodes; v++) {
    // Mostly the previous node (a chain of layers), sometimes one a little further back.
    const u = r() < 0.7 ? v - 1 : int(r, Math.max(0, v - 8), v - 1);
    edges.push({ from: u, to: v, costs: resharding(u, v) });
  }
  const extra = Math.round(opts.nodes * opts.extraEdgeRatio);
  for (let t = 0; t < extra; t++) {
    const v = int(r, 2, Math.max(2, opts.nodes - 1));
    const u = int(r, Math.max(0, v - 20), v - 2);
    if (v < opts.nodes && u >= 0) edges.push({ from: u, to: v, costs: resharding(u, v) });
  }
  const memory: MemoryConstraint[] = [];
  if (opts.memoryTightness !== undefined) {
    const terms = counts.map((k, v) => ({ node: v, bytes: Array.from({ length: k }, () => int(r, 1, 64) * 2 ** 20) }));
    let least = 0;
    let most = 0;
    for (const t of terms) {
      least += Math.min(...t.bytes);
      most += Math.max(...t.bytes);
    }
    memory.push({ budget: Math.round(least + (most - least) * opts.memoryTightness), terms, name: 'device memory' });
  }
  return { nodes, edges, memory, ties };
}
