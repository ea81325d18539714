/** Normalisations: BatchNormalization (inference form) and LayerNormalization. */
import { AutoparError } from '../errors.js';
import type { TensorType } from '../ir/types.js';
import { defineOp, shapeError, type Op } from './op.js';
import { elementwiseCost, fmtShape, input, normAxis } from './util.js';

export interface BatchNormAttrs {
  readonly epsilon: number;
}

export const BatchNormalization = defineOp<BatchNormAttrs>({
  type: 'BatchNormalization',
  family: 'norm',
  arity: [5, 5],
  differentiable: true,
  attrs: (r) => {
    if (r.int('training_mode', 0) !== 0) {
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${r.node.name}' (BatchNormalization): training_mode=1 is not supported; export the model in eval mode`);
    }
    return { epsilon: r.float('epsilon', 1e-5) };
  },
  infer: (ctx) => {
    const x = input(ctx, 0);
    if (x.shape.length < 2) throw shapeError(ctx.node, `input must have rank >= 2, got ${fmtShape(x.shape)}`);
    const c = x.shape[1];
    for (let i = 1; i < 5; i++) {
      const p = input(ctx, i);
      if (p.shape.length !== 1 || p.shape[0] !== c) throw shapeError(ctx.node, `input ${i} must have shape [${c}], got ${fmtShape(p.shape)}`);
    }
    if (ctx.node.outputs.length > 1) {
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${ctx.node.name}' (BatchNormalization): running-statistics outputs (training mode) are not supported`);
    }
    return [x];
  },
  cost: (ctx) => elementwiseCost(ctx, 2),
});

export interface LayerNormAttrs {
  readonly axis: number;
  readonly epsilon: number;
}

export const LayerNormalization = defineOp<LayerNormAttrs>({
  type: 'LayerNormalization',
  family: 'norm',
  arity: [2, 3],
  differentiable: true,
  attrs: (r) => ({ axis: r.int('axis', -1), epsilon: r.float('epsilon', 1e-5) }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    const axis = normAxis(a.axis, x.shape.length, ctx);
    const norm = x.shape.slice(axis);
    const scale = input(ctx, 1);
    if (scale.shape.length > norm.length) throw shapeError(ctx.node, `scale ${fmtShape(scale.shape)} does not broadcast to ${fmtShape(norm)}`);
    const stat: TensorType = { dtype: 'float32', shape: x.shape.map((d, i) => (i < axis ? d : 1)) };
    const outs: TensorType[] = [x];
    if (ctx.node.outputs.length > 1) outs.push(stat);
    if (ctx.node.outputs.length > 2) outs.push(stat);
    return outs;
  },
  // mean, variance, normalise, scale, shift: about eight operations per element.
  cost: (ctx) => elementwiseCost(ctx, 8),
});

export const normOps: readonly Op[] = [BatchNormalization, LayerNormalization];
