/** Reductions over axes, and the softmax family (a reduction plus elementwise work). */
import type { Dim } from '../ir/types.js';
import { defineOp, type NodeContext, type Op, type TypedOp } from './op.js';
import { constInts, elementwiseCost, input, ioBytes, normAxis } from './util.js';

export interface ReduceAttrs {
  readonly keepDims: boolean;
  readonly axes: readonly number[] | undefined;
  readonly noopWithEmptyAxes: boolean;
}

/** The opset from which each reduction takes its axes as an input instead of an attribute. */
const AXES_AS_INPUT_SINCE: Readonly<Record<string, number>> = {
  ReduceSum: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
};

/** Normalised, sorted axes a reduction runs over (all of them when none are given). */
export function reduceAxes(ctx: NodeContext, a: ReduceAttrs, rank: number): number[] {
  const since = AXES_AS_INPUT_SINCE[ctx.node.op] ?? 18;
  const raw = ctx.opset >= since ? (ctx.inputs[1] ? constInts(ctx, 1, 'axes') : undefined) : a.axes;
  if (!raw || raw.length === 0) {
    return a.noopWithEmptyAxes ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return [...new Set(raw.map((ax) => normAxis(ax, rank, ctx)))].sort((p, q) => p - q);
}

function reduceOp(type: string, differentiable: boolean): TypedOp<ReduceAttrs> {
  return defineOp<ReduceAttrs>({
    type,
    family: 'reduce',
    arity: [1, 2],
    differentiable,
    attrs: (r) => ({ keepDims: r.int('keepdims', 1) !== 0, axes: r.ints('axes'), noopWithEmptyAxes: r.int('noop_with_empty_axes', 0) !== 0 }),
    infer: (ctx, a) => {
      const x = input(ctx, 0);
      const axes = reduceAxes(ctx, a, x.shape.length);
      const shape: Dim[] = [];
      x.shape.forEach((d, i) => {
        if (!axes.includes(i)) shape.push(d);
        else if (a.keepDims) shape.push(1);
      });
      return [{ dtype: x.dtype, shape }];
    },
    cost: (ctx) => ({ flops: ctx.inputs[0] ? ctx.inputs[0].shape.reduce((p, d) => p * d, 1) : 0, bytes: ioBytes(ctx), kind: 'reduce' }),
  });
}

function softmaxOp(type: 'Softmax' | 'LogSoftmax'): TypedOp<{ readonly axis: number }> {
  return defineOp<{ readonly axis: number }>({
    type,
    family: 'reduce',
    arity: [1, 1],
    differentiable: true,
    attrs: (r) => ({ axis: r.int('axis', -1) }),
    infer: (ctx, a) => {
      const x = input(ctx, 0);
      normAxis(a.axis, x.shape.length, ctx);
      return [x];
    },
    // max, subtract, exp, sum, divide (or log): about five operations per element.
    cost: (ctx) => elementwiseCost(ctx, 5),
  });
}

export const REDUCE_OPS: ReadonlyMap<string, TypedOp<ReduceAttrs>> = new Map(
  ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd'].map((t) => [t, reduceOp(t, true)]),
);
export const Softmax = softmaxOp('Softmax');
export const LogSoftmax = softmaxOp('LogSoftmax');

export const reduceOps: readonly Op[] = [...REDUCE_OPS.values(), Softmax, LogSoftmax];
