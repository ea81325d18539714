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

/**
 * What every range needs, computed once per (graph, layer map): each node's layer, the
 * nodes of each layer (in graph order), and the span of layers reading each value (a
 * value is read outside [first, last] exactly when that span leaves it). Without it,
 * each range scanned the whole graph: 98 ranges of GPT-175B's training graph took 2.8 s.
 */
interface RangeIndex {
  readonly layerOfNode: Int32Array;
  readonly byLayer: readonly (readonly number[])[];
  /** Least and greatest layer reading each value (the graph's outputs count as read outside every range). */
  readonly readers: ReadonlyMap<string, readonly [number, number]>;
}

const indexes = new WeakMap<Graph, WeakMap<ReadonlyMap<string, number>, RangeIndex>>();

function rangeIndex(g: Graph, layerOf: ReadonlyMap<string, number>): RangeIndex {
  let perGraph = indexes.get(g);
  if (!perGraph) indexes.set(g, (perGraph = new WeakMap()));
  const cached = perGraph.get(layerOf);
  if (cached) return cached;
  const layerOfNode = new Int32Array(g.nodes.length);
  const byLayer: number[][] = [];
  const readers = new Map<string, [number, number]>();
  g.nodes.forEach((n, i) => {
    const l = layerOf.get(n.name);
    if (l === undefined) throw new AutoparError('E_INTERNAL', `layer range: node '${n.name}' has no layer`);
    layerOfNode[i] = l;
    (byLayer[l] ??= []).push(i);
    for (const x of n.inputs) {
      const span = readers.get(x);
      if (!span) readers.set(x, [l, l]);
      else {
        if (l < span[0]) span[0] = l;
        if (l > span[1]) span[1] = l;
      }
    }
  });
  for (const o of g.outputs) readers.set(o, [-Infinity, Infinity]);
  const index = { layerOfNode, byLayer, readers };
  perGraph.set(layerOf, index);
  return index;
}

export function extractLayerRange(g: Graph, layerOf: ReadonlyMap<string, number>, first: number, last: number): Graph {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first) {
    throw new AutoparError('E_USAGE', `layer range [${first}, ${last}] is not a valid range`);
  }
  const index = rangeIndex(g, layerOf);
  // The range's nodes in graph order: one layer's list, or several merged by position.
  const ids: number[] = [];
  for (let l = first; l <= last; l++) ids.push(...(index.byLayer[l] ?? []));
  if (last > first) ids.sort((a, b) => a - b);
  const nodes = ids.map((i) => g.nodes[i] as Graph['nodes'][number]);
  const produced = new Set<string>();
  for (const n of nodes) for (const o of n.outputs) if (o !== '') produced.add(o);
  const readOutside = (v: string): boolean => {
    const span = index.readers.get(v);
    return span !== undefined && (span[0] < first || span[1] > last);
  };

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
  for (const n of nodes) for (const o of n.outputs) if (o !== '' && readOutside(o)) outputs.push(o);
  const name = `${g.name}.layers${first}-${last}`;
  return { name, opset: g.opset, inputs, outputs, initializers, constants, nodes, types, source: `${g.source} (layers ${first}..${last})` };
}
