/** Normalisations: BatchNormalization (inference form) and LayerNormalization. */
import { AutoparError } from '../errors.js';
import type { TensorType } from '../ir/types.js';
import { defineOp, shapeError, type Op } from './op.js';
import { reduceMean, reduceSum, sumToShape } from './grad-util.js';
import { elementwiseCost, fmtShape, input, normAxis } from './util.js';
import { RuleBuilder } from './sharding-rule.js';

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
  // Inference form is a per-channel affine map: every dim parallel, parameters on C.
  sharding: (ctx) => {
    const x = ctx.inputs[0];
    const rb = new RuleBuilder();
    if (!x) return rb.build([], []);
    const dims = x.shape.map((d, i) => rb.factor(`d${i}`, d));
    return rb.build([dims, ['d1'], ['d1'], ['d1'], ['d1']], [dims]);
  },
  // Inference form: per-channel affine map. Running mean/var are buffers, not trained.
  gradient: (g, a) => {
    const { b } = g;
    const [x, scale, bias, mean, variance] = g.node.inputs;
    const dy = g.dy[0];
    if (!x || !scale || !bias || !mean || !variance || !dy) return [undefined, undefined, undefined, undefined, undefined];
    const xs = b.shape(x);
    const chan = [xs[1] ?? 1, ...xs.slice(2).map(() => 1)];
    const r = (v: string): string => b.op('Reshape', [v, b.ints(chan)]);
    const inv = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [r(variance), b.scalar(a.epsilon)])])]);
    const dx = g.needs[0] ? b.op('Mul', [dy, b.op('Mul', [r(scale), inv])]) : undefined;
    const xhat = g.needs[1] ? b.op('Mul', [b.op('Sub', [x, r(mean)]), inv]) : undefined;
    // Parameters are per channel (axis 1), so sum over every other axis.
    const others = xs.map((_, i) => i).filter((i) => i !== 1);
    const dscale = xhat ? reduceSum(b, b.op('Mul', [dy, xhat]), others, false) : undefined;
    const dbias = g.needs[2] ? reduceSum(b, dy, others, false) : undefined;
    return [dx, dscale, dbias, undefined, undefined];
  },
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
  // Leading dims parallel; the normalised dims stay whole (as do scale and bias).
  sharding: (ctx, a) => {
    const x = ctx.inputs[0];
    const rb = new RuleBuilder();
    if (!x) return rb.build([], []);
    const axis = a.axis < 0 ? a.axis + x.shape.length : a.axis;
    const dims = x.shape.map((d, i) => (i < axis ? rb.factor(`d${i}`, d) : ''));
    const param = (t: (typeof ctx.inputs)[number]): string[] => (t ? t.shape.map(() => '') : []);
    return rb.build([dims, param(ctx.inputs[1]), param(ctx.inputs[2])], ctx.outputs.map((t, o) => (o === 0 ? dims : t.shape.map((_, i) => dims[i] ?? ''))));
  },
  // With x̂ = (x-μ)·r and g = dy·γ: dx = r·(g - mean(g) - x̂·mean(g·x̂)); dγ = Σ dy·x̂; dβ = Σ dy.
  gradient: (g, a) => {
    const { b } = g;
    const [x, scale, bias] = g.node.inputs;
    const dy = g.dy[0];
    if (!x || !scale || !dy) return [undefined, undefined, undefined];
    if (g.node.outputs.length > 1 && g.dy.slice(1).some((d) => d !== undefined)) {
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (LayerNormalization): gradients through the Mean/InvStdDev outputs are not supported`);
    }
    const rank = b.shape(x).length;
    const axis = a.axis < 0 ? a.axis + rank : a.axis;
    const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const mu = reduceMean(b, x, axes, true);
    const centered = b.op('Sub', [x, mu]);
    const variance = reduceMean(b, b.op('Mul', [centered, centered]), axes, true);
    const rstd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, b.scalar(a.epsilon)])])]);
    const xhat = b.op('Mul', [centered, rstd]);
    let dx: string | undefined;
    if (g.needs[0]) {
      const gg = b.op('Mul', [dy, scale]);
      const m1 = reduceMean(b, gg, axes, true);
      const m2 = reduceMean(b, b.op('Mul', [gg, xhat]), axes, true);
      dx = b.op('Mul', [rstd, b.op('Sub', [b.op('Sub', [gg, m1]), b.op('Mul', [xhat, m2])])]);
    }
    const dscale = g.needs[1] ? sumToShape(b, b.op('Mul', [dy, xhat]), b.shape(scale)) : undefined;
    const dbias = bias && g.needs[2] ? sumToShape(b, dy, b.shape(bias)) : undefined;
    return [dx, dscale, dbias];
  },
});

export const normOps: readonly Op[] = [BatchNormalization, LayerNormalization];
