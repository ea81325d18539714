/**
 * A run of layers as a standalone graph for the planner: the nodes whose layer lies in
 * [first, last], in their original (topological) order. Values they read that other
 * nodes compute become graph inputs; values they compute that other nodes read, or that
 * the whole graph outputs (loss, gradients, new parameters and states), become outputs.
 * Initializers and constants they read come along, so a tied parameter appears in every
 * range that reads it.
 */
import { AutoparError } from '../../src/errors.js';
import type { HostTensor } from '../../src/ir/host-tensor.js';
import type { Graph, GraphInput, Initializer, TensorType } from '../../src/ir/types.js';

export function extractLayerRange(g: Graph, layerOf: ReadonlyMap<string, number>, first: number, last: number): Graph {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first) {
    throw new AutoparError('E_USAGE', `layer range [${first}, ${last}] is not a valid range`);
  }
  const inRange = (name: string): boolean => {
    const l = layerOf.get(name);
    if (l === undefined) throw new AutoparError('E_INTERNAL', `layer range: node '${name}' has no layer`);
    return l >= first && l <= last;
  };
  const nodes = g.nodes.filter((n) => inRange(n.name));
  const produced = new Set<string>();
  for (const n of nodes) for (const o of n.outputs) if (o !== '') produced.add(o);
  const readOutside = new Set<string>(g.outputs);
  for (const n of g.nodes) if (!inRange(n.name)) for (const x of n.inputs) readOutside.add(x);

  const types = new Map<string, TensorType>();
  const typed = (v: string): TensorType => {
    const t = g.types.get(v);
    if (!t) throw new AutoparError('E_INTERNAL', `layer range: value '${v}' has no type`);
    types.set(v, t);
    return t;
  };
  const inputs: GraphInput[] = [];
  const initializers = new Map<string, Initializer>();
  const constants = new Map<string, HostTensor>();
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const x of n.inputs) {
      if (x === '' || produced.has(x) || seen.has(x)) continue;
      seen.add(x);
      const init = g.initializers.get(x);
      const c = g.constants.get(x);
      if (init) initializers.set(x, init);
      else if (c) constants.set(x, c);
      else inputs.push({ name: x, type: typed(x) });
      typed(x);
    }
    for (const o of n.outputs) if (o !== '') typed(o);
  }
  const outputs: string[] = [];
  for (const n of nodes) for (const o of n.outputs) if (o !== '' && readOutside.has(o)) outputs.push(o);
  const name = `${g.name}.layers${first}-${last}`;
  return { name, opset: g.opset, inputs, outputs, initializers, constants, nodes, types, source: `${g.source} (layers ${first}..${last})` };
}
