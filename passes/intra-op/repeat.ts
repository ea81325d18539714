/**
 * Repeated layers, found by structure alone: Weisfeiler-Lehman refinement of node
 * labels over the problem's edges. Nodes whose neighbourhoods look the same for a few
 * hops (corresponding ops of identical transformer blocks, their gradients, their
 * optimizer updates) end with the same label and are tied: one strategy choice for all
 * of them, so the solver sees about one block instead of L. Ties only restrict the
 * search; a tied plan is still a valid plan, and `evaluate` prices it exactly.
 */
import type { Problem } from '../../src/solver/problem.js';

export interface RepeatOptions {
  /**
   * Refinement rounds: how far a difference propagates. Too few and nodes of different
   * roles inside one block share a label (ties then cost optimality: on a 2-block GPT
   * 3 rounds tied the attention projection to a wrong layout); 10 kept the tied and
   * untied optima equal on a 24-block GPT while still tying its interior blocks.
   */
  readonly rounds?: number;
  /** Smallest group worth tying. */
  readonly minGroup?: number;
}

/** Ties for `problem` from initial labels (op type, attributes, shapes) of its nodes. */
export function repeatedLayerTies(problem: Problem, initial: readonly string[], opts: RepeatOptions = {}): number[][] {
  const n = problem.nodes.length;
  const rounds = opts.rounds ?? 10;
  const inAdj: { node: number; slot: number }[][] = Array.from({ length: n }, () => []);
  const outAdj: { node: number; slot: number }[][] = Array.from({ length: n }, () => []);
  // The slot (order of the edge among the consumer's inputs) keeps a MatMul's A and B apart.
  const slots = new Map<number, number>();
  for (const e of problem.edges) {
    const slot = slots.get(e.to) ?? 0;
    slots.set(e.to, slot + 1);
    inAdj[e.to]?.push({ node: e.from, slot });
    outAdj[e.from]?.push({ node: e.to, slot });
  }
  let { labels, classes } = relabel(initial.map((s, i) => `${s}#${problem.nodes[i]?.strategies.length ?? 0}`));
  for (let r = 0; r < rounds && classes < n; r++) {
    // A node alone in its class stays alone (refinement only splits classes): it keeps a
    // key of its own, and only nodes that share a class spell out their neighbourhoods
    // (a GPT block's 461 nodes take all 10 rounds to come apart, most of them alone early).
    const size = new Int32Array(classes);
    for (const l of labels) size[l] = (size[l] ?? 0) + 1;
    const next = labels.map((l, i) => {
      if (size[l] === 1) return `!${l}`;
      const ins = (inAdj[i] ?? []).map((a) => `${a.slot}:${labels[a.node]}`).join(',');
      const outs = (outAdj[i] ?? []).map((a) => `${a.slot}:${labels[a.node]}`).sort().join(',');
      return `${l}|${ins}|${outs}`;
    });
    const refined = relabel(next);
    labels = refined.labels;
    // Each round refines the last (a new label contains the old one): as many classes as
    // before is the same partition, which every further round would give again.
    if (refined.classes === classes) break;
    classes = refined.classes;
  }
  const groups = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const g = groups.get(l) ?? [];
    g.push(i);
    groups.set(l, g);
  });
  const minGroup = opts.minGroup ?? 2;
  return [...groups.values()].filter((g) => g.length >= minGroup);
}

/** Replaces label strings by small integers (the same string, the same integer), and counts them. */
function relabel(labels: readonly string[]): { labels: number[]; classes: number } {
  const ids = new Map<string, number>();
  const out = labels.map((l) => {
    let id = ids.get(l);
    if (id === undefined) {
      id = ids.size;
      ids.set(l, id);
    }
    return id;
  });
  return { labels: out, classes: ids.size };
}
