/**
 * A subgraph that computes `outputs`, with `cut` values turned into graph inputs
 * (e.g. the optimizer step alone, fed with accumulated gradients).
 */
import { AutoparError } from '../src/errors.js';
import type { Graph, GraphInput } from '../src/ir/types.js';
import { removeDeadCode } from './dce.js';

export function extractSubgraph(g: Graph, outputs: readonly string[], cut: readonly string[] = []): Graph {
  const cutSet = new Set(cut);
  const inputs: GraphInput[] = [...g.inputs];
  for (const c of cut) {
    const t = g.types.get(c);
    if (!t) throw new AutoparError('E_GRAPH', `extract: '${c}' is not a value of the graph`);
    if (!inputs.some((i) => i.name === c)) inputs.push({ name: c, type: t });
  }
  // Nodes producing a cut value disappear: the value now comes from outside.
  const nodes = g.nodes.filter((n) => !n.outputs.some((o) => cutSet.has(o)));
  const initializers = new Map([...g.initializers].filter(([k]) => !cutSet.has(k)));
  const pruned = removeDeadCode({ ...g, inputs, nodes, initializers, outputs: [...outputs] });
  // Keep only inputs something still reads.
  const used = new Set([...pruned.nodes.flatMap((n) => n.inputs), ...outputs]);
  return { ...pruned, inputs: pruned.inputs.filter((i) => used.has(i.name)) };
}
