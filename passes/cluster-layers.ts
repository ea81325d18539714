/**
 * Layer clustering for the inter-op (pipeline) pass: groups a training graph's
 * operators into L layers. The forward pass (with the loss; weight-only nodes next to
 * their first consumer, see cluster-layers/forward-order.ts) is split into L contiguous
 * runs of balanced cost crossing few bytes (Alpa's operator clustering, see
 * cluster-layers/contiguous-split.ts); backward and update nodes then follow the layer
 * of the forward values and parameters they belong to (cluster-layers/training-layers.ts).
 * In a transformer the cheapest balanced cuts are where only the residual stream
 * crosses, so layers line up with blocks when L divides the block count.
 */
import { AutoparError } from '../src/errors.js';
import type { Graph, Node } from '../src/ir/types.js';
import { nodeCost } from '../src/ops/cost.js';
import type { TrainingGraph } from '../src/training/build.js';
import { contiguousSplit } from './cluster-layers/contiguous-split.js';
import { cutBytes } from './cluster-layers/cut-bytes.js';
import { splitOrder } from './cluster-layers/forward-order.js';
import { extractLayerRange } from './cluster-layers/range-graph.js';
import { detectRepetition } from './cluster-layers/repeats.js';
import { type SharedParameter, trainingLayers } from './cluster-layers/training-layers.js';

export type { SharedParameter } from './cluster-layers/training-layers.js';

export interface ClusterOptions {
  readonly layers: number;
  /** Cost of a forward node to balance (default: its FLOPs; see mixedCost). */
  readonly cost?: (node: Node) => number;
  /** Allowed excess of the largest layer cost over the best achievable (default 0.1). */
  readonly tolerance?: number;
  /**
   * Weight of crossing bytes against balance (default 0.25): a boundary crossing the
   * median cut's bytes costs as much as one layer off the mean cost by sqrt(weight).
   */
  readonly bytesWeight?: number;
}

export interface LayerClustering {
  readonly layers: number;
  /** Node name -> layer, for every node of the training graph. */
  readonly layerOf: ReadonlyMap<string, number>;
  /** Trainable parameter -> layer of its first forward use. */
  readonly paramLayer: ReadonlyMap<string, number>;
  /** Parameters read by forward nodes of several layers (tied weights). */
  readonly shared: readonly SharedParameter[];
  /** Sum of the cost function over each layer's forward nodes. */
  readonly forwardCost: readonly number[];
  /** Bytes of forward values crossing from layer i into layers > i (length layers - 1). */
  readonly boundaryBytes: readonly number[];
}

/** FLOPs plus `bytesWeight` times the bytes a node moves: for memory-bound profiles. */
export function mixedCost(g: Graph, bytesWeight: number): (node: Node) => number {
  return (node) => {
    const c = nodeCost(g, node);
    return c.flops + bytesWeight * c.bytes;
  };
}

export function clusterLayers(tg: TrainingGraph, opts: ClusterOptions): LayerClustering {
  const g = tg.graph;
  const cost = opts.cost ?? mixedCost(g, 0);
  const order = splitOrder(g, g.nodes.slice(0, tg.forwardNodes));
  const forward = order.map((i) => g.nodes[i]).filter((n): n is Node => n !== undefined);
  const costs = forward.map(cost);
  const cuts = cutBytes(g, forward);
  // The median interior cut is the unit of bytes: scale-free across model sizes, and
  // for a transformer a small multiple of the residual stream.
  const interior = cuts.slice(1, -1).filter((b) => b > 0).sort((a, b) => a - b);
  const unit = interior[Math.floor(interior.length / 2)] ?? 1;
  const weight = opts.bytesWeight ?? 0.25;
  const penalty = cuts.map((b) => (weight * b) / unit);
  const group = contiguousSplit(costs, penalty, { groups: opts.layers, tolerance: opts.tolerance ?? 0.1 });
  return fromGroups(tg, order, costs, cuts, group, opts.layers);
}

/**
 * Layers that are exactly the model's repeated blocks (repeats.ts), plus a layer before
 * them (the embedding) and one after (final norm, head, loss) where those exist: every
 * block layer is then identical, so the inter-op pass prices one block per mesh. The
 * blocks start where the cut between two repetitions crosses the fewest bytes (only the
 * residual stream). Undefined when the forward pass does not repeat.
 */
export function clusterByBlocks(tg: TrainingGraph): LayerClustering | undefined {
  const g = tg.graph;
  const order = splitOrder(g, g.nodes.slice(0, tg.forwardNodes));
  const forward = order.map((i) => g.nodes[i]).filter((n): n is Node => n !== undefined);
  const rep = detectRepetition(g, tg.forwardNodes);
  if (!rep) return undefined;
  const { period, blocks } = rep;
  const n = forward.length;
  const cuts = cutBytes(g, forward);
  // Where the repetition starts: the first index whose next `period` nodes repeat.
  const same = (i: number): boolean => forward[i]?.op === forward[i + period]?.op;
  let start = 0;
  while (start + period < n && !same(start)) start++;
  // Among the offsets within one period, the cheapest cut (ties: the earliest).
  let r0 = start;
  for (let k = start; k < start + period && k + blocks * period <= n; k++) if ((cuts[k] ?? Infinity) < (cuts[r0] ?? Infinity)) r0 = k;
  if (r0 + blocks * period > n) r0 = Math.max(0, n - blocks * period);
  const prefix = r0 > 0 ? 1 : 0;
  const suffix = r0 + blocks * period < n ? 1 : 0;
  const layers = prefix + blocks + suffix;
  const group = forward.map((_, i) => (i < r0 ? 0 : i >= r0 + blocks * period ? layers - 1 : prefix + Math.floor((i - r0) / period)));
  const cost = mixedCost(g, 0);
  return fromGroups(tg, order, forward.map(cost), cuts, group, layers);
}

/** The clustering from each forward node's group (in split order). */
function fromGroups(tg: TrainingGraph, order: readonly number[], costs: readonly number[], cuts: readonly number[], group: readonly number[], layers: number): LayerClustering {
  const forwardCost = new Array<number>(layers).fill(0);
  group.forEach((l, i) => (forwardCost[l] = (forwardCost[l] ?? 0) + (costs[i] ?? 0)));
  const forwardLayer = new Array<number>(tg.forwardNodes).fill(0);
  order.forEach((node, k) => (forwardLayer[node] = group[k] ?? 0));
  // The cut into layer i+1 is just before its first node.
  const boundaryBytes: number[] = [];
  for (let i = 1; i < group.length; i++) if (group[i] !== group[i - 1]) boundaryBytes.push(cuts[i] ?? 0);
  const { layerOf, paramLayer, shared } = trainingLayers(tg, forwardLayer, layers);
  return { layers, layerOf, paramLayer, shared, forwardCost, boundaryBytes };
}

/**
 * Layers first..last of the training graph as a standalone graph: values from other
 * layers are inputs, values other layers read and the range's share of the training
 * outputs (loss, gradients, updates, states) are outputs.
 */
export function layerRangeGraph(tg: TrainingGraph, clustering: LayerClustering, first: number, last: number): Graph {
  return layerRangeOf(tg.graph, clustering, first, last);
}

/** The same for any graph whose nodes the clustering covers (e.g. `tg.forward`). */
export function layerRangeOf(g: Graph, clustering: LayerClustering, first: number, last: number): Graph {
  if (last >= clustering.layers) throw new AutoparError('E_USAGE', `layer range [${first}, ${last}]: there are only ${clustering.layers} layers`);
  return extractLayerRange(g, clustering.layerOf, first, last);
}
