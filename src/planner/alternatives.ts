/**
 * What the best other choice would have cost, per weight-bearing op of a single-stage
 * plan: for each strategy the op did not take, the op takes it (with its tied repeats,
 * which must match) and its weight takes the layout that strategy reads, everything else
 * stays as planned; the change in the objective is priced exactly from the intra-op
 * problem's node and edge costs (as evaluate() would, but only over the edges touched).
 * This is a local alternative: a full re-plan could adapt the neighbours too.
 */
import type { IntraOpPlan } from '../../passes/intra-op/plan.js';
import { specEquals, type ShardingSpec } from '../sharding/spec.js';

export interface Alternative {
  /** The strategy label of the alternative (as plan.json's nodes[].strategy). */
  readonly strategy: string;
  readonly weightSharding: ShardingSpec | undefined;
  readonly outputSharding: ShardingSpec | undefined;
  /** Seconds added to the step (negative would mean the plan was not optimal). */
  readonly extraSeconds: number;
  /** Ops that change together: the op and its tied repeats. */
  readonly ops: number;
}

/** `targets`: op name -> the parameter it reads as its weight. */
export function bestAlternatives(plan: IntraOpPlan, targets: ReadonlyMap<string, string>): Map<string, Alternative> {
  const ip = plan.problem;
  const p = ip.problem;
  const choice = plan.solution.choice;
  const edgesOf = p.nodes.map((): number[] => []);
  p.edges.forEach((e, i) => {
    edgesOf[e.from]?.push(i);
    if (e.to !== e.from) edgesOf[e.to]?.push(i);
  });
  const tieOf = new Map<number, readonly number[]>();
  for (const group of p.ties) for (const v of group) tieOf.set(v, group);
  const at = (changes: ReadonlyMap<number, number>, v: number): number => changes.get(v) ?? choice[v] ?? 0;
  const delta = (changes: ReadonlyMap<number, number>): number => {
    let d = 0;
    const edges = new Set<number>();
    for (const [v, k] of changes) {
      const strategies = p.nodes[v]?.strategies ?? [];
      d += (strategies[k]?.cost ?? 0) - (strategies[choice[v] ?? 0]?.cost ?? 0);
      for (const e of edgesOf[v] ?? []) edges.add(e);
    }
    for (const i of edges) {
      const e = p.edges[i];
      if (!e) continue;
      d += (e.costs[at(changes, e.from)]?.[at(changes, e.to)] ?? 0) - (e.costs[choice[e.from] ?? 0]?.[choice[e.to] ?? 0] ?? 0);
    }
    return d;
  };
  // A node and its tie group take index k together (ties require equal indices).
  const setTied = (changes: Map<number, number>, v: number, k: number): void => {
    for (const u of tieOf.get(v) ?? [v]) changes.set(u, k);
  };
  // The layout index of a value (or shared) node that equals `spec`, if it offers it.
  const specIndex = (v: number | undefined, spec: ShardingSpec): number | undefined => {
    const o = v === undefined ? undefined : ip.origins[v];
    if (!o || o.kind === 'op') return undefined;
    const i = o.specs.findIndex((s) => specEquals(s, spec));
    return i >= 0 ? i : undefined;
  };
  const out = new Map<string, Alternative>();
  for (const [name, weight] of targets) {
    const v = ip.opIndex.get(name);
    const origin = v === undefined ? undefined : ip.origins[v];
    if (v === undefined || !origin || origin.kind !== 'op') continue;
    const slot = origin.node.inputs.indexOf(weight);
    let best: Alternative | undefined;
    origin.strategies.forEach((s, k) => {
      if (k === choice[v]) return;
      const changes = new Map<number, number>();
      setTied(changes, v, k);
      const want = slot >= 0 ? s.inputs[slot] : undefined;
      if (want) {
        for (const node of [ip.valueIndex.get(weight), ip.feeder.get(weight)?.node]) {
          const i = specIndex(node, want);
          if (node !== undefined && i !== undefined) setTied(changes, node, i);
        }
      }
      const extra = delta(changes);
      if (!best || extra < best.extraSeconds) best = { strategy: s.label, weightSharding: want, outputSharding: s.outputs[0], extraSeconds: extra, ops: [...changes.keys()].filter((u) => ip.origins[u]?.kind === 'op').length };
    });
    if (best) out.set(name, best);
  }
  return out;
}
