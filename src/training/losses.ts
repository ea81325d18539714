/**
 * Losses as graph fragments, defined as the reference folders define them:
 * cross-entropy over integer class targets (logits on the last axis, mean over all
 * other positions) and mean squared error (mean over all elements).
 */
import type { GraphBuilder } from '../ir/builder.js';
import { hostTensor, numel } from '../ir/host-tensor.js';
import type { TensorType } from '../ir/types.js';
import { reduceMean, reduceSum, reshape } from '../ops/grad-util.js';

/** Builds the scalar loss from the model output and the target value; returns its name. */
export type LossBuilder = (b: GraphBuilder, output: string, target: string) => string;

export interface LossSpec {
  readonly kind: 'mse' | 'cross_entropy' | 'custom';
  /** The target's type, given the model output's type. */
  readonly targetType: (output: TensorType) => TensorType;
  readonly build: LossBuilder;
}

export const mse: LossSpec = {
  kind: 'mse',
  targetType: (o) => o,
  build: (b, output, target) => {
    const diff = b.op('Sub', [output, target], {}, 'mse_diff');
    const sq = b.op('Mul', [diff, diff], {}, 'mse_sq');
    return reduceMean(b, sq, b.shape(sq).map((_, i) => i), false);
  },
};

export const crossEntropy: LossSpec = {
  kind: 'cross_entropy',
  targetType: (o) => ({ dtype: 'int64', shape: o.shape.slice(0, -1) }),
  build: (b, output, target) => {
    const shape = b.shape(output);
    const classes = shape[shape.length - 1] ?? 1;
    const n = numel(shape.slice(0, -1));
    const logits = reshape(b, output, [n, classes]);
    const logp = b.op('LogSoftmax', [logits], { axis: -1 }, 'ce_logp');
    // One-hot by comparison with [0..C): no integer-index gradient paths are needed.
    const ids = b.constant(hostTensor('int64', [1, classes], Array.from({ length: classes }, (_, i) => i)), 'ce_classes');
    const tgt = reshape(b, target, [n, 1]);
    const onehot = b.op('Cast', [b.op('Equal', [tgt, ids])], { to: 1 }, 'ce_onehot');
    const picked = reduceSum(b, b.op('Mul', [logp, onehot]), [1], false);
    return b.op('Neg', [reduceMean(b, picked, [0], false)], {}, 'ce_loss');
  },
};

export function lossByName(name: string): LossSpec | undefined {
  switch (name) {
    case 'mse':
      return mse;
    case 'cross_entropy':
    case 'cross-entropy':
      return crossEntropy;
    default:
      return undefined;
  }
}

/** A user's own loss: a small graph from (output, target) to a scalar. */
export function customLoss(targetType: (output: TensorType) => TensorType, build: LossBuilder): LossSpec {
  return { kind: 'custom', targetType, build };
}
