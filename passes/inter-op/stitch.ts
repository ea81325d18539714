/**
 * A stage's plan from its layers' plans. Each distinct layer is planned once per mesh;
 * a layer identical to it (same operators, shapes and attributes in the same order)
 * takes the same layouts and strategies, renamed position by position. Where a value
 * crosses from one layer of the stage to another (activations forward, gradients
 * back), the producer's layout and the consumer's may differ: that resharding is
 * priced with the resharder and listed as collectives, so the stage time is the sum of
 * its layers plus its internal boundaries. Planning a whole stage with the ILP instead
 * took minutes at GPT-1.3B scale, for a step time within 0.2% of this sum.
 */
import { dtypeBytes } from '../../src/ir/dtype.js';
import type { Graph } from '../../src/ir/types.js';
import type { Resharder } from '../../src/sharding/reshard.js';
import type { ShardingSpec } from '../../src/sharding/spec.js';
import type { Solution } from '../../src/solver/problem.js';
import { type PlannedCollective, reshardCollectives } from '../intra-op/plan.js';

export interface LayerPlan {
  readonly graph: Graph;
  readonly layouts: ReadonlyMap<string, ShardingSpec>;
  readonly strategies: ReadonlyMap<string, string>;
  readonly collectives: readonly PlannedCollective[];
  readonly computeSeconds: number;
  readonly communicationSeconds: number;
  readonly staticBytes: number;
  readonly activationBytes: number;
  readonly solution: Solution;
  /**
   * Of computeSeconds and communicationSeconds, what runs once per step (the optimizer
   * update and the gradient synchronisation it waits for), not once per micro-batch.
   */
  readonly stepComputeSeconds: number;
  readonly stepCommunicationSeconds: number;
}

export interface StitchedStage {
  readonly layouts: ReadonlyMap<string, ShardingSpec>;
  readonly strategies: ReadonlyMap<string, string>;
  readonly collectives: readonly PlannedCollective[];
  readonly computeSeconds: number;
  readonly communicationSeconds: number;
  /** Of which: resharding between the stage's layers. */
  readonly boundarySeconds: number;
  readonly staticBytes: number;
  readonly activationBytes: number;
  /** Once per step (see LayerPlan). */
  readonly stepComputeSeconds: number;
  readonly stepCommunicationSeconds: number;
  /** The layers' solutions, for status and gap. */
  readonly solutions: readonly Solution[];
}

/** Value and node names of `rep` mapped to those of `g` (same structure, node by node). */
function renaming(rep: Graph, g: Graph): { value: Map<string, string>; node: Map<string, string> } {
  const value = new Map<string, string>();
  const node = new Map<string, string>();
  rep.nodes.forEach((rn, i) => {
    const n = g.nodes[i];
    if (!n) return;
    node.set(rn.name, n.name);
    rn.inputs.forEach((v, k) => v !== '' && value.set(v, n.inputs[k] ?? v));
    rn.outputs.forEach((v, k) => v !== '' && value.set(v, n.outputs[k] ?? v));
  });
  return { value, node };
}

/**
 * `layers[i]`: the graph of the stage's i-th layer and the plan of its representative
 * (a structurally identical layer, possibly itself).
 */
export function stitchStage(layers: readonly { readonly graph: Graph; readonly rep: LayerPlan }[], resharder: Resharder): StitchedStage {
  const layouts = new Map<string, ShardingSpec>();
  const strategies = new Map<string, string>();
  const collectives: PlannedCollective[] = [];
  /** Per layer: the layout its plan gives each value it reads or makes. */
  const seen: Map<string, ShardingSpec>[] = [];
  const producedIn = new Map<string, number>();
  let computeSeconds = 0;
  let communicationSeconds = 0;
  let staticBytes = 0;
  let activationBytes = 0;
  let stepComputeSeconds = 0;
  let stepCommunicationSeconds = 0;
  layers.forEach(({ graph, rep }, i) => {
    const { value, node } = renaming(rep.graph, graph);
    const mine = new Map<string, ShardingSpec>();
    for (const [v, spec] of rep.layouts) mine.set(value.get(v) ?? v, spec);
    seen.push(mine);
    for (const n of graph.nodes) for (const o of n.outputs) if (o !== '') producedIn.set(o, i);
    for (const [n, label] of rep.strategies) strategies.set(node.get(n) ?? n, label);
    for (const c of rep.collectives) collectives.push({ ...c, value: value.get(c.value) ?? c.value, consumer: node.get(c.consumer) ?? value.get(c.consumer) ?? c.consumer });
    computeSeconds += rep.computeSeconds;
    communicationSeconds += rep.communicationSeconds;
    staticBytes += rep.staticBytes;
    activationBytes += rep.activationBytes;
    stepComputeSeconds += rep.stepComputeSeconds;
    stepCommunicationSeconds += rep.stepCommunicationSeconds;
  });
  // The producing layer's layout is the value's; readers in other layers reshard from it.
  seen.forEach((mine) => {
    for (const [v, spec] of mine) if (!layouts.has(v)) layouts.set(v, spec);
  });
  for (const [v, i] of producedIn) {
    const spec = seen[i]?.get(v);
    if (spec) layouts.set(v, spec);
  }
  let boundarySeconds = 0;
  layers.forEach(({ graph }, i) => {
    const readers = new Map<string, string>();
    for (const n of graph.nodes) for (const v of n.inputs) if (v !== '' && !readers.has(v)) readers.set(v, n.name);
    for (const [v, consumer] of readers) {
      const from = producedIn.get(v);
      if (from === undefined || from === i) continue;
      const have = seen[from]?.get(v);
      const want = seen[i]?.get(v);
      const t = graph.types.get(v);
      if (!have || !want || !t) continue;
      const steps = reshardCollectives(resharder.reshard(have, want, t.shape.map(Number), dtypeBytes(t.dtype)).steps, v, consumer, resharder.mesh);
      boundarySeconds += steps.reduce((sum, c) => sum + c.seconds, 0);
      collectives.push(...steps);
    }
  });
  return {
    layouts,
    strategies,
    collectives,
    computeSeconds,
    communicationSeconds: communicationSeconds + boundarySeconds,
    boundarySeconds,
    staticBytes,
    activationBytes,
    stepComputeSeconds,
    stepCommunicationSeconds,
    solutions: layers.map((l) => l.rep.solution),
  };
}
