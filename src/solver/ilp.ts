/**
 * The ILP of a tie-free problem (Alpa's formulation), in a solver-neutral sparse form:
 *
 *   binary s[v][i]          Σ_i s[v][i] = 1                  one strategy per node
 *   0 <= e[k][i][j] <= 1    Σ_j e[k][i][j] = s[from][i]      edge k's pair of strategies
 *                           Σ_i e[k][i][j] = s[to][j]
 *   Σ_terms bytes[i] s[v][i] <= budget                        per memory constraint
 *   minimise Σ cost[v][i] s[v][i] + Σ costs[k][i][j] e[k][i][j]
 *
 * With s binary, the two families of edge rows leave exactly one e[k][i][j] at 1 (row i of
 * s[from], column j of s[to]), so e may stay continuous.
 *
 * Numbers are conditioned before a solver sees them: each node's and edge's least cost moves
 * to a constant shift, the objective is divided by a power of two (exact in binary floating
 * point) so its largest coefficient lies in (0.5, 1], and each memory row loses its per-node
 * least bytes and is divided by its largest magnitude. Costs in seconds are often 1e-6 and
 * budgets 1e10 bytes; solver tolerances (~1e-7, absolute) would swallow the former and
 * blur the latter.
 */
import type { Problem } from './problem.js';

export interface MilpRow {
  readonly lower: number;
  readonly upper: number;
  readonly cols: readonly number[];
  readonly values: readonly number[];
}

export interface Milp {
  readonly numCols: number;
  readonly cost: Float64Array;
  /** 1 for binary columns, 0 for continuous ones in [0, 1]. */
  readonly binary: Uint8Array;
  readonly rows: readonly MilpRow[];
  /** Problem objective = solver objective * scale + shift. */
  readonly scale: number;
  readonly shift: number;
  /** Strategy per node from column values (largest s[v][i] wins, robust to 0.999999). */
  decode(values: ArrayLike<number>): number[];
  /** Column values of a choice (s and e at 0/1): a start for solvers that take one. */
  encode(choice: readonly number[]): Float64Array;
}

export function buildIlp(p: Problem): Milp {
  const start: number[] = [];
  let numCols = 0;
  for (const node of p.nodes) {
    start.push(numCols);
    numCols += node.strategies.length;
  }
  const edgeStart: number[] = [];
  for (const e of p.edges) {
    edgeStart.push(numCols);
    numCols += e.costs.length * (e.costs[0]?.length ?? 0);
  }

  const raw = new Float64Array(numCols);
  const binary = new Uint8Array(numCols);
  let shift = 0;
  p.nodes.forEach((node, v) => {
    const least = Math.min(...node.strategies.map((s) => s.cost));
    shift += least;
    node.strategies.forEach((s, i) => {
      raw[(start[v] ?? 0) + i] = s.cost - least;
      binary[(start[v] ?? 0) + i] = 1;
    });
  });
  p.edges.forEach((e, k) => {
    const least = Math.min(...e.costs.map((row) => Math.min(...row)));
    shift += least;
    const cols = e.costs[0]?.length ?? 0;
    e.costs.forEach((row, i) => row.forEach((c, j) => (raw[(edgeStart[k] ?? 0) + i * cols + j] = c - least)));
  });
  let largest = 0;
  for (const c of raw) largest = Math.max(largest, Math.abs(c));
  const scale = largest > 0 ? 2 ** Math.ceil(Math.log2(largest)) : 1;
  const cost = raw.map((c) => c / scale);

  const rows: MilpRow[] = [];
  p.nodes.forEach((node, v) => {
    rows.push({ lower: 1, upper: 1, cols: node.strategies.map((_, i) => (start[v] ?? 0) + i), values: node.strategies.map(() => 1) });
  });
  p.edges.forEach((e, k) => {
    const nRows = e.costs.length;
    const nCols = e.costs[0]?.length ?? 0;
    const base = edgeStart[k] ?? 0;
    for (let i = 0; i < nRows; i++) {
      const cols = Array.from({ length: nCols }, (_, j) => base + i * nCols + j);
      rows.push({ lower: 0, upper: 0, cols: [...cols, (start[e.from] ?? 0) + i], values: [...cols.map(() => 1), -1] });
    }
    for (let j = 0; j < nCols; j++) {
      const cols = Array.from({ length: nRows }, (_, i) => base + i * nCols + j);
      rows.push({ lower: 0, upper: 0, cols: [...cols, (start[e.to] ?? 0) + j], values: [...cols.map(() => 1), -1] });
    }
  });
  for (const mc of p.memory) {
    // Terms on one node add up: a row may name each column once.
    const byNode = new Map<number, number[]>();
    for (const term of mc.terms) {
      const acc = byNode.get(term.node) ?? term.bytes.map(() => 0);
      term.bytes.forEach((b, i) => (acc[i] = (acc[i] ?? 0) + b));
      byNode.set(term.node, acc);
    }
    let rhs = mc.budget;
    const cols: number[] = [];
    const values: number[] = [];
    for (const [v, bytes] of byNode) {
      const least = Math.min(...bytes);
      rhs -= least;
      bytes.forEach((b, i) => {
        if (b - least !== 0) {
          cols.push((start[v] ?? 0) + i);
          values.push(b - least);
        }
      });
    }
    if (rhs === Infinity) continue;
    let magnitude = Math.abs(rhs);
    for (const x of values) magnitude = Math.max(magnitude, Math.abs(x));
    const div = magnitude > 0 ? magnitude : 1;
    rows.push({ lower: -Infinity, upper: rhs / div, cols, values: values.map((x) => x / div) });
  }

  const decode = (values: ArrayLike<number>): number[] =>
    p.nodes.map((node, v) => {
      let at = 0;
      let most = -Infinity;
      for (let i = 0; i < node.strategies.length; i++) {
        const x = values[(start[v] ?? 0) + i] ?? 0;
        if (x > most) {
          most = x;
          at = i;
        }
      }
      return at;
    });

  const encode = (choice: readonly number[]): Float64Array => {
    const x = new Float64Array(numCols);
    p.nodes.forEach((_, v) => (x[(start[v] ?? 0) + (choice[v] ?? 0)] = 1));
    p.edges.forEach((e, k) => {
      const cols = e.costs[0]?.length ?? 0;
      x[(edgeStart[k] ?? 0) + (choice[e.from] ?? 0) * cols + (choice[e.to] ?? 0)] = 1;
    });
    return x;
  };

  return { numCols, cost, binary, rows, scale, shift, decode, encode };
}
