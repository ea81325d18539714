/**
 * The order in which the forward nodes are split. Nodes that read no graph input
 * (weight-only arithmetic: the Identity copies PyTorch's exporter makes of a shared
 * initializer, a Gather of position embeddings by constant indices) are moved to just
 * before their first consumer. In file order they all sit at the top, so a contiguous
 * split would put them in the first layer and ship their results through every
 * pipeline stage; next to their consumer they join the layer that uses them. The
 * result is still a topological order.
 */
import type { Graph, Node } from '../../src/ir/types.js';

/** Indices into `nodes` (the forward nodes of `g`), in split order. */
export function splitOrder(g: Graph, nodes: readonly Node[]): number[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o !== '') producer.set(o, i);
  });
  const dependent = new Set<string>(g.inputs.map((i) => i.name));
  const weightOnly = nodes.map((n) => {
    const dep = n.inputs.some((x) => dependent.has(x));
    if (dep) for (const o of n.outputs) if (o !== '') dependent.add(o);
    return !dep;
  });
  const order: number[] = [];
  const placed = new Array<boolean>(nodes.length).fill(false);
  // Places a node after the weight-only nodes it reads (their inputs are all earlier).
  const place = (i: number): void => {
    if (placed[i]) return;
    placed[i] = true;
    for (const x of nodes[i]?.inputs ?? []) {
      const p = producer.get(x);
      if (p !== undefined && weightOnly[p]) place(p);
    }
    order.push(i);
  };
  nodes.forEach((_, i) => {
    if (!weightOnly[i]) place(i);
  });
  // Weight-only nodes no forward node needs (read by backward only) close the pass.
  nodes.forEach((_, i) => place(i));
  return order;
}
