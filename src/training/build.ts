/**
 * The training graph: forward + loss + gradients (autodiff pass) + optimizer update,
 * as one graph whose outputs are the loss, the model outputs, the gradients, the new
 * parameters and the new optimizer states.
 */
import { AutoparError } from '../errors.js';
import { isFloat } from '../ir/dtype.js';
import { GraphBuilder } from '../ir/builder.js';
import type { Graph } from '../ir/types.js';
import { differentiate } from '../../passes/autodiff.js';
import { lossByName, type LossSpec } from './losses.js';
import { applyOptimizer, type OptimizerConfig } from './optimizers.js';

export interface TrainingOptions {
  readonly loss: LossSpec | 'mse' | 'cross_entropy' | 'cross-entropy';
  /** The model output the loss reads (default: the first output). */
  readonly output?: string;
  /** Trainable initializers (default: every floating-point initializer). */
  readonly trainable?: readonly string[];
  /** Without an optimizer the graph stops at the gradients. */
  readonly optimizer?: OptimizerConfig;
  /** Name of the target input (default 'target'). */
  readonly targetName?: string;
}

export interface TrainingGraph {
  readonly graph: Graph;
  readonly forward: Graph;
  readonly loss: string;
  readonly lossKind: LossSpec['kind'];
  readonly target: string;
  readonly output: string;
  readonly params: readonly string[];
  readonly grads: ReadonlyMap<string, string>;
  readonly updates: ReadonlyMap<string, string>;
  readonly states: ReadonlyMap<string, string>;
  /** Per-parameter optimizer state -> its parameter. */
  readonly stateOf: ReadonlyMap<string, string>;
  readonly optimizer: OptimizerConfig | undefined;
  /** graph.nodes[0 .. forwardNodes) are the forward pass and the loss; the rest is backward and update. */
  readonly forwardNodes: number;
  /** graph.nodes[forwardNodes .. gradientNodes) are the backward pass; the rest the optimizer update. */
  readonly gradientNodes: number;
}

export function buildTrainingGraph(fwd: Graph, opts: TrainingOptions): TrainingGraph {
  const spec = typeof opts.loss === 'string' ? lossByName(opts.loss) : opts.loss;
  if (!spec) throw new AutoparError('E_USAGE', `unknown loss '${String(opts.loss)}' (use mse or cross-entropy)`);
  const output = opts.output ?? fwd.outputs[0];
  if (!output || !fwd.types.has(output)) throw new AutoparError('E_GRAPH', `training: output '${output ?? ''}' is not a value of the model (outputs: ${fwd.outputs.join(', ')})`);
  const params = opts.trainable ? [...opts.trainable] : [...fwd.initializers.values()].filter((i) => isFloat(i.type.dtype)).map((i) => i.name);
  for (const p of params) {
    const init = fwd.initializers.get(p);
    if (!init) throw new AutoparError('E_GRAPH', `training: '${p}' is not an initializer of the model`);
    if (!isFloat(init.type.dtype)) throw new AutoparError('E_GRAPH', `training: initializer '${p}' is ${init.type.dtype}; only floating-point initializers can be trained`);
  }

  const b = new GraphBuilder(fwd);
  const outType = b.type(output);
  const target = b.input(opts.targetName ?? 'target', spec.targetType(outType));
  const loss = spec.build(b, output, target);
  const withLoss = b.build([loss, ...fwd.outputs]);
  const d = differentiate(withLoss, loss, params, [loss, ...fwd.outputs]);

  if (!opts.optimizer) {
    return { graph: d.graph, forward: fwd, loss, lossKind: spec.kind, target, output, params, grads: d.grads, updates: new Map(), states: new Map(), stateOf: new Map(), optimizer: undefined, forwardNodes: withLoss.nodes.length, gradientNodes: d.graph.nodes.length };
  }
  const ob = new GraphBuilder(d.graph);
  const { updates, states, stateOf } = applyOptimizer(ob, opts.optimizer, d.grads);
  const graph = ob.build([...d.graph.outputs, ...updates.values(), ...states.values()]);
  return { graph, forward: fwd, loss, lossKind: spec.kind, target, output, params, grads: d.grads, updates, states, stateOf, optimizer: opts.optimizer, forwardNodes: withLoss.nodes.length, gradientNodes: d.graph.nodes.length };
}
