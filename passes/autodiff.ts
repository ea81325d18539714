/**
 * Reverse-mode automatic differentiation as a graph pass. The backward nodes are
 * ordinary ops emitted by each op's gradient rule, so the training graph is verified,
 * planned, sharded and executed exactly like a forward graph.
 */
import { AutoparError } from '../src/errors.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { hostTensor } from '../src/ir/host-tensor.js';
import type { Graph } from '../src/ir/types.js';
import { opFor } from '../src/ops/registry.js';
import { zerosOf } from '../src/ops/shape.js';

export interface Differentiated {
  readonly graph: Graph;
  /** Trainable initializer -> the value holding d(loss)/d(initializer). */
  readonly grads: ReadonlyMap<string, string>;
}

/**
 * Adds d(loss)/d(w) for every w in `wrt` to a graph that computes the scalar `loss`.
 * Gradients of a value used several times are summed; nodes that neither depend on a
 * trained value nor lead to the loss get no backward nodes. `outputs` become the new
 * graph's outputs, followed by the gradients.
 */
export function differentiate(g: Graph, loss: string, wrt: readonly string[], outputs: readonly string[] = [loss]): Differentiated {
  const lossType = g.types.get(loss);
  if (!lossType) throw new AutoparError('E_GRAPH', `autodiff: loss '${loss}' is not a value of the graph`);
  if (lossType.shape.length !== 0 && !(lossType.shape.length === 1 && lossType.shape[0] === 1)) {
    throw new AutoparError('E_GRAPH', `autodiff: loss '${loss}' must be a scalar, got shape [${lossType.shape.join(',')}]`);
  }
  for (const w of wrt) if (!g.initializers.has(w)) throw new AutoparError('E_GRAPH', `autodiff: '${w}' is not an initializer of the graph`);

  // Values that depend on a trained value (forward), and nodes the loss depends on (backward).
  const varying = new Set(wrt);
  for (const n of g.nodes) if (n.inputs.some((i) => varying.has(i))) for (const o of n.outputs) if (o !== '') varying.add(o);
  const needed = new Set([loss]);
  const onPath = new Set<number>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n || !n.outputs.some((o) => needed.has(o))) continue;
    if (!n.inputs.some((x) => varying.has(x))) continue;
    onPath.add(i);
    for (const x of n.inputs) if (varying.has(x)) needed.add(x);
  }

  const b = new GraphBuilder(g);
  const parts = new Map<string, string[]>();
  const contribute = (v: string, d: string): void => {
    const list = parts.get(v) ?? [];
    list.push(d);
    parts.set(v, list);
  };
  const total = (v: string): string | undefined => {
    const list = parts.get(v);
    if (!list || list.length === 0) return undefined;
    let acc = list[0] as string;
    for (const d of list.slice(1)) acc = b.op('Add', [acc, d], {}, 'grad_sum');
    parts.set(v, [acc]);
    return acc;
  };
  contribute(loss, b.constant(hostTensor(lossType.dtype, lossType.shape.map(Number), [1]), 'dloss'));

  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i];
    if (!node || !onPath.has(i)) continue;
    const dy = node.outputs.map((o) => (o === '' ? undefined : total(o)));
    if (dy.every((d) => d === undefined)) continue;
    const op = opFor(node, g.opset);
    const needs = node.inputs.map((x) => x !== '' && varying.has(x) && needed.has(x));
    if (!needs.some((n) => n)) continue;
    if (!op.differentiable) continue; // comparisons, shapes, indices: zero gradient
    const grads = op.gradient({ b, node, dy, needs }, g.opset);
    node.inputs.forEach((x, k) => {
      const d = grads[k];
      if (d !== undefined && needs[k]) contribute(x, d);
    });
  }

  const grads = new Map<string, string>();
  for (const w of wrt) {
    const d = total(w);
    const shape = g.initializers.get(w)?.type.shape.map(Number) ?? [];
    // A parameter the loss does not depend on still gets a (zero) gradient.
    grads.set(w, d ?? zerosOf(b, shape, g.initializers.get(w)?.type.dtype ?? 'float32'));
  }
  const graph = b.build([...outputs, ...grads.values()]);
  return { graph, grads };
}
