/**
 * Exact reductions before any solver runs. The result is a smaller tie-free Problem whose
 * optimum plus `offset` is the optimum of the original, and `expand` maps its choices back.
 *
 * - Tie groups become one variable (costs summed, edges inside a group keep their diagonal).
 * - Parallel edges between two variables become one matrix (summed).
 * - An edge whose live entries are all equal is a constant: it moves to the offset.
 * - A memory constraint that every assignment meets is dropped; one that none can meet
 *   makes the problem infeasible at once.
 * - Strategy i of a variable is dropped when another live strategy j is never worse:
 *   cost(j) <= cost(i), bytes(j) <= bytes(i) in every constraint, and on every incident
 *   edge the row (column) of j is entrywise <= that of i over the neighbour's live
 *   strategies. Any assignment using i stays feasible and gets no dearer when i becomes j,
 *   so some optimum avoids i. (j is live when i goes, so two equal strategies cannot remove
 *   each other.)
 * - A variable left with one strategy is fixed: its cost goes to the offset, its edges
 *   become costs on its neighbours, its bytes come off the budgets.
 * These repeat until nothing changes, since each can enable the others.
 */
import { memoryTolerance } from './evaluate.js';
import { type MemoryConstraint, type Problem, type ProblemEdge, type ProblemNode, problemOf } from './problem.js';
import { tieGroups } from './tie-groups.js';

export interface Reduction {
  /** Tie-free, one edge per variable pair, no constant edge, no slack constraint. */
  readonly problem: Problem;
  /** Added to the reduced objective to give the original objective. */
  readonly offset: number;
  /** Set when some memory constraint exceeds its budget under every assignment. */
  readonly infeasible: string | undefined;
  /** Choice of the original problem from a choice of the reduced one. */
  expand(reducedChoice: readonly number[]): number[];
  /** Original strategy indices each reduced variable keeps. */
  readonly kept: readonly (readonly number[])[];
  /** Original nodes each reduced variable stands for (several when tied). */
  readonly members: readonly (readonly number[])[];
}

interface VarState {
  readonly members: readonly number[];
  /** Summed over members, indexed by original strategy index. */
  readonly cost: number[];
  /** Live original strategy indices, ascending. */
  alive: number[];
  fixed: number | undefined;
  readonly edges: Set<number>;
  readonly constraints: Set<number>;
}

interface EdgeState {
  readonly a: number;
  readonly b: number;
  /** Row-major, k_a x k_b, by original strategy indices. */
  readonly m: Float64Array;
  readonly cols: number;
}

interface ConstraintState {
  budget: number;
  readonly tolerance: number;
  readonly name: string | undefined;
  /** bytes by original strategy index, per variable. */
  readonly terms: Map<number, number[]>;
}

export function reduce(p: Problem): Reduction {
  const groups = tieGroups(p.nodes.length, p.ties);
  const vars: VarState[] = groups.members.map((members) => {
    const k = p.nodes[members[0] ?? 0]?.strategies.length ?? 0;
    const cost = new Array<number>(k).fill(0);
    for (const node of members) p.nodes[node]?.strategies.forEach((s, i) => (cost[i] = (cost[i] ?? 0) + s.cost));
    return { members, cost, alive: Array.from({ length: k }, (_, i) => i), fixed: undefined, edges: new Set(), constraints: new Set() };
  });
  const kOf = (v: number): number => vars[v]?.cost.length ?? 0;
  let offset = 0;

  // Edges keyed by a * V + b with a < b; a tie-internal edge folds its diagonal into the cost.
  const edges = new Map<number, EdgeState>();
  const V = vars.length;
  for (const edge of p.edges) {
    const ga = groups.groupOf[edge.from] ?? 0;
    const gb = groups.groupOf[edge.to] ?? 0;
    if (ga === gb) {
      const cost = vars[ga]?.cost ?? [];
      for (let i = 0; i < cost.length; i++) cost[i] = (cost[i] ?? 0) + (edge.costs[i]?.[i] ?? 0);
      continue;
    }
    const [a, b] = ga < gb ? [ga, gb] : [gb, ga];
    const key = a * V + b;
    let state = edges.get(key);
    if (state === undefined) {
      state = { a, b, m: new Float64Array(kOf(a) * kOf(b)), cols: kOf(b) };
      edges.set(key, state);
      vars[a]?.edges.add(key);
      vars[b]?.edges.add(key);
    }
    const flip = ga > gb;
    for (let i = 0; i < edge.costs.length; i++) {
      const row = edge.costs[i] ?? [];
      for (let j = 0; j < row.length; j++) {
        const idx = flip ? j * state.cols + i : i * state.cols + j;
        state.m[idx] = (state.m[idx] ?? 0) + (row[j] ?? 0);
      }
    }
  }

  const constraints = new Map<number, ConstraintState>();
  // A counted loop, not forEach: the memory list is an empty literal from some callers and
  // a mapped array from others, and the inlined forEach deoptimised on that again and
  // again (149 times in one GPT-1.3B search, each a recompilation of this function).
  for (let c = 0; c < p.memory.length; c++) {
    const mc = p.memory[c] as MemoryConstraint;
    const terms = new Map<number, number[]>();
    for (const term of mc.terms) {
      const g = groups.groupOf[term.node] ?? 0;
      const bytes = terms.get(g) ?? new Array<number>(kOf(g)).fill(0);
      term.bytes.forEach((b, i) => (bytes[i] = (bytes[i] ?? 0) + b));
      terms.set(g, bytes);
    }
    constraints.set(c, { budget: mc.budget, tolerance: memoryTolerance(mc.budget), name: mc.name, terms });
    for (const g of terms.keys()) vars[g]?.constraints.add(c);
  }

  let infeasible: string | undefined;
  const entry = (e: EdgeState, i: number, j: number): number => e.m[i * e.cols + j] ?? 0;
  // What each step must look at again: a variable, edge or constraint is clean when
  // nothing it depends on changed since it was last checked and found unchanged, so
  // checking it again would change nothing. Skipping clean ones keeps every round's
  // removals those of checking everything (the same order, the same outcomes).
  const varDirty = new Uint8Array(V).fill(1);
  const edgeDirty = new Set<number>(edges.keys());
  const constraintDirty = new Set<number>(constraints.keys());
  /** v's live strategies changed: its edges, its neighbours' dominance and its constraints may. */
  const aliveChanged = (v: number): void => {
    const state = vars[v];
    if (state === undefined) return;
    for (const key of state.edges) {
      edgeDirty.add(key);
      const e = edges.get(key);
      if (e !== undefined) varDirty[e.a === v ? e.b : e.a] = 1;
    }
    for (const c of state.constraints) constraintDirty.add(c);
  };
  const removeEdge = (key: number, e: EdgeState): void => {
    edges.delete(key);
    edgeDirty.delete(key);
    vars[e.a]?.edges.delete(key);
    vars[e.b]?.edges.delete(key);
    varDirty[e.a] = 1;
    varDirty[e.b] = 1;
  };
  const removeConstraint = (c: number, mc: ConstraintState): void => {
    constraints.delete(c);
    constraintDirty.delete(c);
    for (const g of mc.terms.keys()) {
      vars[g]?.constraints.delete(c);
      varDirty[g] = 1;
    }
  };

  const dropConstantEdges = (): boolean => {
    let changed = false;
    for (const [key, e] of edges) {
      if (!edgeDirty.has(key)) continue;
      edgeDirty.delete(key);
      const rows = vars[e.a]?.alive ?? [];
      const cols = vars[e.b]?.alive ?? [];
      const first = entry(e, rows[0] ?? 0, cols[0] ?? 0);
      const constant = rows.every((i) => cols.every((j) => entry(e, i, j) === first));
      if (constant) {
        offset += first;
        removeEdge(key, e);
        changed = true;
      }
    }
    return changed;
  };

  const settleConstraints = (): boolean => {
    let changed = false;
    for (const [c, mc] of constraints) {
      if (!constraintDirty.has(c)) continue;
      constraintDirty.delete(c);
      let least = 0;
      let most = 0;
      for (const [g, bytes] of mc.terms) {
        const live = (vars[g]?.alive ?? []).map((i) => bytes[i] ?? 0);
        least += Math.min(...live);
        most += Math.max(...live);
      }
      if (most <= mc.budget) {
        removeConstraint(c, mc);
        changed = true;
      } else if (least > mc.budget + mc.tolerance) {
        const label = mc.name ?? `memory constraint ${c}`;
        infeasible ??= `${label}: every assignment needs more than the budget (at least ${least} bytes over what the fixed choices leave, ${mc.budget})`;
      }
    }
    return changed;
  };

  /**
   * Whether strategy j of v is never worse than i (see the header), with v's byte rows
   * and incident edges gathered once per variable by dropDominated.
   */
  const dominates = (cost: readonly number[], byteRows: readonly (readonly number[])[], incident: readonly { readonly e: EdgeState; readonly rows: boolean; readonly other: readonly number[] }[], j: number, i: number): boolean => {
    if ((cost[j] ?? 0) > (cost[i] ?? 0)) return false;
    for (const bytes of byteRows) if ((bytes[j] ?? 0) > (bytes[i] ?? 0)) return false;
    for (const { e, rows, other } of incident) {
      if (rows) {
        const rj = j * e.cols;
        const ri = i * e.cols;
        for (const jj of other) if ((e.m[rj + jj] ?? 0) > (e.m[ri + jj] ?? 0)) return false;
      } else {
        for (const ii of other) if ((e.m[ii * e.cols + j] ?? 0) > (e.m[ii * e.cols + i] ?? 0)) return false;
      }
    }
    return true;
  };

  const dropDominated = (): boolean => {
    let changed = false;
    vars.forEach((state, v) => {
      if (state.fixed !== undefined || state.alive.length < 2 || varDirty[v] === 0) return;
      varDirty[v] = 0;
      const byteRows: (readonly number[])[] = [];
      for (const c of state.constraints) {
        const bytes = constraints.get(c)?.terms.get(v);
        if (bytes !== undefined) byteRows.push(bytes);
      }
      const incident: { e: EdgeState; rows: boolean; other: readonly number[] }[] = [];
      for (const key of state.edges) {
        const e = edges.get(key);
        if (e !== undefined) incident.push({ e, rows: e.a === v, other: vars[e.a === v ? e.b : e.a]?.alive ?? [] });
      }
      let removed = false;
      for (const i of [...state.alive]) {
        if (state.alive.some((j) => j !== i && dominates(state.cost, byteRows, incident, j, i))) {
          state.alive = state.alive.filter((s) => s !== i);
          removed = true;
        }
      }
      if (removed) {
        aliveChanged(v);
        changed = true;
      }
    });
    return changed;
  };

  const fixSingles = (): boolean => {
    let changed = false;
    vars.forEach((state, v) => {
      const only = state.alive[0];
      if (state.fixed !== undefined || state.alive.length !== 1 || only === undefined) return;
      state.fixed = only;
      offset += state.cost[only] ?? 0;
      for (const key of [...state.edges]) {
        const e = edges.get(key);
        if (e === undefined) continue;
        if (e.a === v) {
          const other = vars[e.b];
          if (other) for (let j = 0; j < other.cost.length; j++) other.cost[j] = (other.cost[j] ?? 0) + entry(e, only, j);
        } else {
          const other = vars[e.a];
          if (other) for (let i = 0; i < other.cost.length; i++) other.cost[i] = (other.cost[i] ?? 0) + entry(e, i, only);
        }
        // Its neighbour's costs changed: removeEdge marks it for dominance again.
        removeEdge(key, e);
      }
      for (const c of [...state.constraints]) {
        const mc = constraints.get(c);
        if (mc === undefined) continue;
        mc.budget -= mc.terms.get(v)?.[only] ?? 0;
        mc.terms.delete(v);
        state.constraints.delete(c);
        constraintDirty.add(c);
      }
      changed = true;
    });
    return changed;
  };

  for (;;) {
    // Bitwise-or so every step runs each round.
    const changed = Number(dropConstantEdges()) | Number(settleConstraints()) | Number(dropDominated()) | Number(fixSingles());
    if (infeasible !== undefined || changed === 0) break;
  }

  const free = vars.flatMap((state, v) => (state.fixed === undefined ? [v] : []));
  const reducedIndex = new Map(free.map((v, r) => [v, r]));
  const nodes: ProblemNode[] = free.map((v) => {
    const state = vars[v];
    const first = state?.members[0] ?? 0;
    const name = p.nodes[first]?.name;
    const count = state?.members.length ?? 1;
    const label = name === undefined ? `node ${first}` : name;
    // Name first, as every other maker of problem nodes writes them: one object shape
    // keeps the solvers' property loads monomorphic (a second shape cost deoptimisations).
    return {
      name: count > 1 ? `${label} (+${count - 1} tied)` : label,
      strategies: (state?.alive ?? []).map((i) => ({ cost: state?.cost[i] ?? 0 })),
    };
  });
  const reducedEdges: ProblemEdge[] = [...edges.values()].map((e) => {
    const rows = vars[e.a]?.alive ?? [];
    const cols = vars[e.b]?.alive ?? [];
    return {
      from: reducedIndex.get(e.a) ?? 0,
      to: reducedIndex.get(e.b) ?? 0,
      costs: rows.map((i) => cols.map((j) => entry(e, i, j))),
    };
  });
  const memory: MemoryConstraint[] = [...constraints.values()].map((mc) => ({
    budget: mc.budget,
    name: mc.name,
    terms: [...mc.terms].map(([v, bytes]) => ({
      node: reducedIndex.get(v) ?? 0,
      bytes: (vars[v]?.alive ?? []).map((i) => bytes[i] ?? 0),
    })),
  }));
  const kept = free.map((v) => vars[v]?.alive ?? []);

  const expand = (reducedChoice: readonly number[]): number[] => {
    const choice = new Array<number>(p.nodes.length).fill(0);
    vars.forEach((state, v) => {
      const r = reducedIndex.get(v);
      const pick = r === undefined ? (state.fixed ?? 0) : (kept[r]?.[reducedChoice[r] ?? 0] ?? 0);
      for (const node of state.members) choice[node] = pick;
    });
    return choice;
  };

  return { problem: problemOf(nodes, reducedEdges, memory, []), offset, infeasible, expand, kept, members: free.map((v) => vars[v]?.members ?? []) };
}
