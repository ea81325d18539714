/**
 * Layers of the backward and update nodes of a training graph, given the layers of
 * its forward nodes. Autodiff emits each forward node's gradient nodes together, in
 * reverse forward order, so along the backward list the true layer never increases.
 * Each backward node's reads bound its layer: it differentiates the producer or a
 * consumer of every forward value it reads, so its layer lies between the producer's
 * layer and the latest consumer's. We take the latest layer consistent with those
 * bounds and with the non-increasing order: a node with no forward reads (a gradient
 * reshaped or summed) then stays with the layer whose gradient it continues.
 */
import type { Node } from '../../src/ir/types.js';
import type { TrainingGraph } from '../../src/training/build.js';

export interface SharedParameter {
  readonly param: string;
  readonly layers: readonly number[];
}

export interface TrainingLayers {
  readonly layerOf: ReadonlyMap<string, number>;
  readonly paramLayer: ReadonlyMap<string, number>;
  readonly shared: readonly SharedParameter[];
}

interface Span {
  min: number;
  max: number;
  readonly all: Set<number>;
}

/** `forwardLayer[i]` is the layer of `tg.graph.nodes[i]` for i < tg.forwardNodes. */
export function trainingLayers(tg: TrainingGraph, forwardLayer: readonly number[], layers: number): TrainingLayers {
  const g = tg.graph;
  const nodes = g.nodes;
  const last = layers - 1;
  const layerAt = new Array<number>(nodes.length).fill(-1);
  forwardLayer.forEach((l, i) => (layerAt[i] = l));
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o !== '') producer.set(o, i);
  });

  // Layers of the forward nodes reading each value (parameters and inputs included).
  const readers = new Map<string, Span>();
  for (let i = 0; i < tg.forwardNodes; i++) {
    const n = nodes[i];
    const l = forwardLayer[i] ?? 0;
    if (!n) continue;
    for (const x of n.inputs) {
      if (x === '') continue;
      const s = readers.get(x);
      if (s) {
        s.min = Math.min(s.min, l);
        s.max = Math.max(s.max, l);
        s.all.add(l);
      } else readers.set(x, { min: l, max: l, all: new Set([l]) });
    }
  }

  // A parameter lives with its first forward use; tied ones are reported, not split.
  const paramLayer = new Map<string, number>();
  const shared: SharedParameter[] = [];
  for (const p of tg.params) {
    const s = readers.get(p);
    paramLayer.set(p, s?.min ?? 0);
    if (s && s.all.size > 1) shared.push({ param: p, layers: [...s.all].sort((a, b) => a - b) });
  }
  const paramOf = new Map<string, string>(tg.stateOf);
  for (const [p, d] of tg.grads) paramOf.set(d, p);

  // Sums of a tied parameter's gradient parts are emitted after the whole backward
  // pass (autodiff names them grad_sum); they and the final gradient go with the parameter.
  const fixed = new Set<number>();
  for (const [p, d] of tg.grads) {
    let i = producer.get(d);
    const l = paramLayer.get(p) ?? 0;
    let first = true;
    while (i !== undefined && i >= tg.forwardNodes && i < tg.gradientNodes) {
      const n: Node | undefined = nodes[i];
      if (!n || (!first && !(n.op === 'Add' && n.name.startsWith('grad_sum')))) break;
      layerAt[i] = l;
      fixed.add(i);
      first = false;
      if (!(n.op === 'Add' && n.name.startsWith('grad_sum'))) break;
      i = producer.get(n.inputs[0] ?? '');
    }
  }

  // Backward nodes that feed nothing but one parameter's gradient (the ReduceSum of a
  // bias gradient, the MatMul of a weight gradient) are part of that gradient: they go
  // with the parameter even when they read no forward value to say so.
  const uses = new Map<string, number>();
  for (const n of nodes) for (const x of n.inputs) if (x !== '') uses.set(x, (uses.get(x) ?? 0) + 1);
  for (const o of g.outputs) uses.set(o, (uses.get(o) ?? 0) + 1);
  const feedOnly = (i: number, l: number): void => {
    for (const x of nodes[i]?.inputs ?? []) {
      const p = producer.get(x);
      const n = p === undefined ? undefined : nodes[p];
      if (p === undefined || !n || p < tg.forwardNodes || p >= tg.gradientNodes || fixed.has(p)) continue;
      if (n.outputs.some((o) => o !== '' && (uses.get(o) ?? 0) !== (o === x ? 1 : 0))) continue;
      layerAt[p] = l;
      fixed.add(p);
      feedOnly(p, l);
    }
  };
  for (const [p, d] of tg.grads) {
    const i = producer.get(d);
    const n = i === undefined ? undefined : nodes[i];
    if (i !== undefined && n && !(n.op === 'Add' && n.name.startsWith('grad_sum'))) feedOnly(i, paramLayer.get(p) ?? 0);
  }

  // Bounds from forward reads, then the latest non-increasing sequence within them.
  const order: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  for (let i = tg.forwardNodes; i < tg.gradientNodes; i++) {
    const n = nodes[i];
    if (!n || fixed.has(i)) continue;
    let lo = 0;
    let hi = last;
    for (const x of n.inputs) {
      const p = producer.get(x);
      const s = readers.get(x);
      if (p !== undefined && p < tg.forwardNodes) {
        const at = forwardLayer[p] ?? 0;
        lo = Math.max(lo, at);
        hi = Math.min(hi, Math.max(at, s?.max ?? at));
      } else if (p === undefined && s) {
        lo = Math.max(lo, s.min);
        hi = Math.min(hi, s.max);
      }
    }
    order.push(i);
    lower.push(lo);
    upper.push(hi);
  }
  const suffixLow = new Array<number>(order.length).fill(0);
  for (let k = order.length - 1, m = 0; k >= 0; k--) {
    m = Math.max(m, lower[k] ?? 0);
    suffixLow[k] = m;
  }
  for (let k = 0, m = last; k < order.length; k++) {
    m = Math.min(m, upper[k] ?? last);
    const i = order[k];
    if (i !== undefined) layerAt[i] = Math.max(suffixLow[k] ?? 0, m);
  }

  // Update nodes: with the parameter whose value, state or gradient they read, else
  // with the update values they read; the rest (step count, bias corrections) go to
  // the first layer that needs them.
  for (let i = tg.gradientNodes; i < nodes.length; i++) {
    const n = nodes[i];
    if (!n) continue;
    let l = -1;
    for (const x of n.inputs) {
      const p = paramLayer.has(x) ? x : paramOf.get(x);
      if (p !== undefined) l = Math.max(l, paramLayer.get(p) ?? 0);
    }
    if (l < 0) {
      for (const x of n.inputs) {
        const p = producer.get(x);
        if (p !== undefined && p >= tg.gradientNodes) l = Math.max(l, layerAt[p] ?? -1);
      }
    }
    layerAt[i] = l;
  }
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      if (x === '') continue;
      const list = consumers.get(x);
      if (list) list.push(i);
      else consumers.set(x, [i]);
    }
  });
  for (let i = nodes.length - 1; i >= tg.gradientNodes; i--) {
    const n = nodes[i];
    if (!n || (layerAt[i] ?? -1) >= 0) continue;
    let l = Infinity;
    for (const o of n.outputs) for (const c of consumers.get(o) ?? []) if ((layerAt[c] ?? -1) >= 0) l = Math.min(l, layerAt[c] ?? 0);
    layerAt[i] = l === Infinity ? 0 : l;
  }

  const layerOf = new Map<string, number>();
  nodes.forEach((n, i) => layerOf.set(n.name, layerAt[i] ?? 0));
  return { layerOf, paramLayer, shared };
}
