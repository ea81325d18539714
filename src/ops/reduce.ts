/** Reductions over axes, and the softmax family (a reduction plus elementwise work). */
import type { Dim } from '../ir/types.js';
import { defineOp, type NodeContext, type Op, type TypedOp } from './op.js';
import { numel } from '../ir/host-tensor.js';
import { reduceSum, reshape } from './grad-util.js';
import { constInts, elementwiseCost, input, ioBytes, normAxis } from './util.js';
import { elementwiseRule, RuleBuilder } from './sharding-rule.js';

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
    // Kept dims parallel; reduced dims a contraction for sums and means (partial sums,
    // a mean's partials already divided by the full count), whole for max/min/prod.
    sharding: (ctx, a) => {
      const x = ctx.inputs[0];
      const rb = new RuleBuilder();
      if (!x) return rb.build([], []);
      const axes = reduceAxes({ node: ctx.node, opset: ctx.opset, inputs: ctx.inputs, constant: ctx.constant }, a, x.shape.length);
      const linear = type === 'ReduceSum' || type === 'ReduceMean';
      const dims = x.shape.map((d, i) => (axes.includes(i) ? (linear ? rb.factor(`r${i}`, d, 'contract') : '') : rb.factor(`k${i}`, d)));
      const out = a.keepDims ? dims.map((f, i) => (axes.includes(i) ? '' : f)) : dims.filter((_, i) => !axes.includes(i));
      return rb.build([dims, []], [out]);
    },
    // Broadcast dY back over the reduced axes; Mean divides by the count, Max/Min pick
    // the extremal elements (ties share), Prod multiplies by y/x.
    gradient: (g, a) => {
      const { b } = g;
      const x = g.node.inputs[0];
      const y = g.node.outputs[0];
      const dy = g.dy[0];
      if (!x || !y || !dy || !g.needs[0]) return g.node.inputs.map(() => undefined);
      const xs = b.shape(x);
      const ctx = b.nodeContext(g.node);
      const axes = reduceAxes(ctx, a, xs.length);
      const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
      const spread = (v: string): string => b.op('Expand', [reshape(b, v, kept), b.ints(xs)]);
      let dx: string;
      switch (type) {
        case 'ReduceSum':
          dx = spread(dy);
          break;
        case 'ReduceMean':
          dx = b.op('Div', [spread(dy), b.scalar(numel(axes.map((i) => xs[i] ?? 1)), b.type(dy).dtype)]);
          break;
        case 'ReduceMax':
        case 'ReduceMin': {
          const mask = b.op('Cast', [b.op('Equal', [x, spread(y)])], { to: 1 });
          const count = spread(reduceSum(b, mask, axes, true));
          dx = b.op('Div', [b.op('Mul', [spread(dy), mask]), count]);
          break;
        }
        case 'ReduceProd':
          dx = b.op('Div', [b.op('Mul', [spread(dy), spread(y)]), x]);
          break;
        default:
          throw new Error(`no gradient for ${type}`);
      }
      return [dx, ...g.node.inputs.slice(1).map(() => undefined)];
    },
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
    sharding: (ctx, a) => {
      const r = ctx.inputs[0]?.shape.length ?? 0;
      const axis = a.axis < 0 ? a.axis + r : a.axis;
      const rule = elementwiseRule(ctx);
      const cut = (dims: readonly number[]): number[] => dims.map((f) => (f === axis ? -1 : f));
      return { ...rule, inputs: rule.inputs.map(cut), outputs: rule.outputs.map(cut) };
    },
    // softmax: dx = y·(dy - Σ dy·y); log-softmax: dx = dy - exp(y)·Σ dy (sums over the axis).
    gradient: (g, a) => {
      const { b } = g;
      const y = g.node.outputs[0];
      const dy = g.dy[0];
      if (!y || !dy || !g.needs[0]) return [undefined];
      const rank = b.shape(y).length;
      const axis = a.axis < 0 ? a.axis + rank : a.axis;
      if (type === 'Softmax') {
        const s = reduceSum(b, b.op('Mul', [dy, y]), [axis], true);
        return [b.op('Mul', [y, b.op('Sub', [dy, s])])];
      }
      return [b.op('Sub', [dy, b.op('Mul', [b.op('Exp', [y]), reduceSum(b, dy, [axis], true)])])];
    },
  });
}

export const REDUCE_OPS: ReadonlyMap<string, TypedOp<ReduceAttrs>> = new Map(
  ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd'].map((t) => [t, reduceOp(t, true)]),
);
export const Softmax = softmaxOp('Softmax');
export const LogSoftmax = softmaxOp('LogSoftmax');

export const reduceOps: readonly Op[] = [...REDUCE_OPS.values(), Softmax, LogSoftmax];
