/** FLOPs and bytes of a node in a graph whose shapes are all static. */
import { AutoparError } from '../errors.js';
import type { Graph, Node, TensorType } from '../ir/types.js';
import type { ConcreteType, OpCost } from './op.js';
import { opFor } from './registry.js';
import { fmtShape, isConcrete } from './util.js';

function concrete(t: TensorType | undefined, what: string, node: Node): ConcreteType | undefined {
  if (!t) return undefined;
  const shape = t.shape;
  if (!isConcrete(shape)) {
    throw new AutoparError('E_DIM', `node '${node.name}': ${what} has symbolic shape ${fmtShape(shape)}; bind it with --dim`);
  }
  return { dtype: t.dtype, shape };
}

export function nodeCost(g: Graph, node: Node): OpCost {
  const op = opFor(node, g.opset);
  const inputs = node.inputs.map((n) => (n === '' ? undefined : concrete(g.types.get(n), `input '${n}'`, node)));
  const outputs = node.outputs.filter((o) => o !== '').map((o) => {
    const t = concrete(g.types.get(o), `output '${o}'`, node);
    if (!t) throw new AutoparError('E_INTERNAL', `node '${node.name}': output '${o}' has no type`);
    return t;
  });
  return op.cost({ node, opset: g.opset, inputs, outputs });
}

export function graphFlops(g: Graph): number {
  let f = 0;
  for (const n of g.nodes) f += nodeCost(g, n).flops;
  return f;
}
