/**
 * The fallback when an ILP solver returns no incumbent in time, on a tie-free problem:
 * 1. start from the exact optimum over a maximum-spread spanning forest (memory ignored);
 * 2. while some budget is exceeded, make the single-node change that removes the most
 *    excess bytes per second of extra cost (changes that lower the cost and the excess
 *    come first), until the excess is gone or no change reduces it;
 * 3. then take cost-lowering single-node changes that keep every budget met (or, if step 2
 *    failed, that do not add excess), pass after pass, until none is left.
 * It is a local search: feasible when it ends with no excess, never proven optimal.
 * Given a `start`, step 1 is skipped: this repairs a solver's answer that a tolerance let
 * slip over a budget.
 */
import { maxSpreadForest } from './graph.js';
import type { Problem } from './problem.js';
import { forestDp } from './tree-dp.js';

interface Link {
  readonly costs: readonly (readonly number[])[];
  readonly other: number;
  readonly isFrom: boolean;
}

interface MemoryUse {
  readonly constraint: number;
  readonly bytes: readonly number[];
}

export function greedy(p: Problem, start?: readonly number[]): number[] {
  const n = p.nodes.length;
  const links: Link[][] = Array.from({ length: n }, () => []);
  for (const e of p.edges) {
    links[e.from]?.push({ costs: e.costs, other: e.to, isFrom: true });
    links[e.to]?.push({ costs: e.costs, other: e.from, isFrom: false });
  }
  const uses: MemoryUse[][] = Array.from({ length: n }, () => []);
  p.memory.forEach((mc, c) => {
    for (const term of mc.terms) uses[term.node]?.push({ constraint: c, bytes: term.bytes });
  });
  const budget = p.memory.map((mc) => mc.budget);

  const choice = start === undefined ? forestDp(p, maxSpreadForest(p)).choice : [...start];
  const used = p.memory.map((mc) => mc.terms.reduce((sum, t) => sum + (t.bytes[choice[t.node] ?? 0] ?? 0), 0));

  const localCost = (v: number, i: number): number => {
    let c = p.nodes[v]?.strategies[i]?.cost ?? 0;
    for (const l of links[v] ?? []) {
      const j = choice[l.other] ?? 0;
      c += (l.isFrom ? l.costs[i]?.[j] : l.costs[j]?.[i]) ?? 0;
    }
    return c;
  };
  const excessChange = (v: number, i: number): number => {
    const cur = choice[v] ?? 0;
    let delta = 0;
    for (const u of uses[v] ?? []) {
      const before = used[u.constraint] ?? 0;
      const after = before + (u.bytes[i] ?? 0) - (u.bytes[cur] ?? 0);
      const limit = budget[u.constraint] ?? Infinity;
      delta += Math.max(0, after - limit) - Math.max(0, before - limit);
    }
    return delta;
  };
  const apply = (v: number, i: number): void => {
    const cur = choice[v] ?? 0;
    for (const u of uses[v] ?? []) used[u.constraint] = (used[u.constraint] ?? 0) + (u.bytes[i] ?? 0) - (u.bytes[cur] ?? 0);
    choice[v] = i;
  };
  const excess = (): number => used.reduce((sum, b, c) => sum + Math.max(0, b - (budget[c] ?? Infinity)), 0);

  // Step 2: repair. Each move strictly lowers the excess, so the loop ends; the cap is a guard.
  for (let round = 0; round < 4 * n * 16 && excess() > 0; round++) {
    let bestScore = Infinity;
    let move: [number, number] | undefined;
    for (let v = 0; v < n; v++) {
      if ((uses[v]?.length ?? 0) === 0) continue;
      const cur = choice[v] ?? 0;
      const base = localCost(v, cur);
      const k = p.nodes[v]?.strategies.length ?? 0;
      for (let i = 0; i < k; i++) {
        if (i === cur) continue;
        const freed = -excessChange(v, i);
        if (!(freed > 0)) continue;
        const score = (localCost(v, i) - base) / freed;
        if (score < bestScore) {
          bestScore = score;
          move = [v, i];
        }
      }
    }
    if (move === undefined) break;
    apply(move[0], move[1]);
  }

  // Step 3: descent. Strictly lowering cost each move, so it ends; the cap is a guard.
  const feasible = excess() <= 0;
  for (let pass = 0; pass < 100; pass++) {
    let improved = false;
    for (let v = 0; v < n; v++) {
      const cur = choice[v] ?? 0;
      const base = localCost(v, cur);
      const k = p.nodes[v]?.strategies.length ?? 0;
      let bestGain = 1e-12 * Math.max(Math.abs(base), 1e-300);
      let pick = -1;
      for (let i = 0; i < k; i++) {
        if (i === cur) continue;
        const gain = base - localCost(v, i);
        if (!(gain > bestGain)) continue;
        const dx = excessChange(v, i);
        if (feasible ? dx > 0 || !keepsBudgets(v, i) : dx > 0) continue;
        bestGain = gain;
        pick = i;
      }
      if (pick >= 0) {
        apply(v, pick);
        improved = true;
      }
    }
    if (!improved) break;
  }
  return choice;

  function keepsBudgets(v: number, i: number): boolean {
    const cur = choice[v] ?? 0;
    return (uses[v] ?? []).every((u) => (used[u.constraint] ?? 0) + (u.bytes[i] ?? 0) - (u.bytes[cur] ?? 0) <= (budget[u.constraint] ?? Infinity));
  }
}
