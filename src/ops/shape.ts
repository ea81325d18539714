/**
 * Shape and layout ops. Most fold on the host, which is how PyTorch's dynamic-batch
 * shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) disappears once
 * the symbolic dimensions are bound.
 */
import { type HostTensor, hostTensor, numel } from '../ir/host-tensor.js';
import type { Dim, TensorType } from '../ir/types.js';
import { hostConcat, hostExpand, hostSlice, hostTranspose } from './host.js';
import { inversePerm, reshape, sumToShape } from './grad-util.js';
import type { GraphBuilder } from '../ir/builder.js';
import { elementwiseRule, reshapeRule, type ShardingContext, type ShardingRule } from './sharding-rule.js';
import { defineOp, shapeError, type GradRule, type NodeContext, type Op } from './op.js';
import { broadcastShapes, constInts, fmtShape, input, isConcrete, movementCost, noCost, normAxis } from './util.js';

const FAMILY = 'shape';

/** Reshape-like ops: factors shared by the major dimension of each reshaped block. */
function viewRule(ctx: ShardingContext): ShardingRule {
  const x = ctx.inputs[0];
  const y = ctx.outputs[0];
  if (!x || !y) return { factors: [], inputs: [], outputs: [] };
  const r = reshapeRule(x.shape, y.shape);
  return { ...r, inputs: [r.inputs[0] ?? [], ...ctx.inputs.slice(1).map(() => [])], linear: true };
}

/** One factor per output dimension; `whole` marks the dimensions that must stay whole. */
function perDimRule(ctx: ShardingContext, whole: (dim: number) => boolean, inputDim: (input: number, dim: number) => number = (_i, d) => d): ShardingRule {
  const y = ctx.outputs[0];
  if (!y) return { factors: [], inputs: [], outputs: [] };
  const factors = y.shape.map((d) => ({ size: d, kind: 'parallel' as const }));
  const map = (d: number): number => (whole(d) ? -1 : d);
  return {
    factors,
    inputs: ctx.inputs.map((t, i) => (t && !ctx.isConstant(i) ? t.shape.map((_, k) => map(inputDim(i, k))) : [])),
    outputs: ctx.outputs.map((t) => t.shape.map((_, k) => map(k))),
  };
}

/** A view folds by inferring its output shape from the value's and keeping the data. */
function foldView(op: Op, vals: readonly (HostTensor | undefined)[], ctx: NodeContext): HostTensor[] {
  const x = vals[0];
  if (!x) return [];
  const shape = op.infer({ ...ctx, inputs: [{ dtype: x.dtype, shape: x.shape }, ...ctx.inputs.slice(1)] })[0]?.shape ?? [];
  return isConcrete(shape) ? [{ dtype: x.dtype, shape, data: x.data }] : [];
}

/** Layout-only ops: the gradient is dY reshaped to the input's shape. */
function reshapeBack<A>(): GradRule<A> {
  return (g) => {
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    return [x && dy && g.needs[0] ? reshape(g.b, dy, g.b.shape(x)) : undefined, ...g.node.inputs.slice(1).map(() => undefined)];
  };
}

function reshapeTarget(ctx: NodeContext, inShape: readonly Dim[], spec: readonly number[], allowZero: boolean): Dim[] {
  const out: Dim[] = spec.map((d, i) => (d === 0 && !allowZero ? (inShape[i] ?? 0) : d));
  const minus = out.filter((d) => d === -1).length;
  if (minus > 1) throw shapeError(ctx.node, `shape ${fmtShape(spec)} has more than one -1`);
  const total = isConcrete(inShape) ? numel(inShape) : undefined;
  if (minus === 1) {
    const known = out.filter((d): d is number => typeof d === 'number' && d !== -1);
    if (total === undefined || known.length !== out.length - 1) {
      // A symbolic input dim passes through when the rest matches exactly.
      const sym = inShape.filter((d) => typeof d === 'string');
      const rest = inShape.filter((d): d is number => typeof d === 'number');
      if (sym.length === 1 && numel(rest) === numel(known)) return out.map((d) => (d === -1 ? (sym[0] as Dim) : d));
      throw shapeError(ctx.node, `cannot infer -1 in ${fmtShape(spec)} from ${fmtShape(inShape)}; bind symbolic dimensions with --dim`);
    }
    const prod = numel(known);
    if (prod === 0 || total % prod !== 0) {
      throw shapeError(ctx.node, `cannot reshape ${fmtShape(inShape)} (${total} elements) to ${fmtShape(spec)}`);
    }
    return out.map((d) => (d === -1 ? total / prod : d));
  }
  if (total !== undefined && isConcrete(out) && numel(out) !== total) {
    throw shapeError(ctx.node, `cannot reshape ${fmtShape(inShape)} (${total} elements) to ${fmtShape(out)} (${numel(out)} elements)`);
  }
  return out;
}

export const Reshape = defineOp<{ readonly allowZero: boolean }>({
  type: 'Reshape',
  family: FAMILY,
  arity: [2, 2],
  differentiable: true,
  attrs: (r) => ({ allowZero: r.int('allowzero', 0) !== 0 }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    return [{ dtype: x.dtype, shape: reshapeTarget(ctx, x.shape, constInts(ctx, 1, 'shape'), a.allowZero) }];
  },
  fold: (vals, a, ctx) => {
    const [x, s] = vals;
    if (!x || !s) return [];
    const shape = reshapeTarget(ctx, x.shape, Array.from(s.data), a.allowZero);
    return isConcrete(shape) ? [{ dtype: x.dtype, shape, data: x.data }] : [];
  },
  cost: () => noCost(),
  gradient: reshapeBack(),
  sharding: viewRule,
});

export const Transpose = defineOp<{ readonly perm: readonly number[] | undefined }>({
  type: 'Transpose',
  family: FAMILY,
  arity: [1, 1],
  differentiable: true,
  attrs: (r) => ({ perm: r.ints('perm') }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    const perm = a.perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    if (perm.length !== x.shape.length || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw shapeError(ctx.node, `perm ${fmtShape(perm)} is not a permutation of rank ${x.shape.length}`);
    }
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p] as Dim) }];
  },
  fold: (vals, a) => {
    const x = vals[0];
    if (!x) return [];
    return [hostTranspose(x, a.perm ?? x.shape.map((_, i) => x.shape.length - 1 - i))];
  },
  cost: (ctx) => movementCost(ctx),
  gradient: (g, a) => {
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    if (!x || !dy || !g.needs[0]) return [undefined];
    const r = g.b.shape(x).length;
    const perm = a.perm ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    return [g.b.op('Transpose', [dy], { perm: inversePerm(perm) })];
  },
  // Output dim k is input dim perm[k]: the input's dims take the factors of the output.
  sharding: (ctx, a) => {
    const r = ctx.inputs[0]?.shape.length ?? 0;
    const perm = a.perm ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inv = inversePerm(perm);
    return { ...perDimRule(ctx, () => false, (_i, k) => inv[k] ?? -1), linear: true };
  },
});

export const Flatten = defineOp<{ readonly axis: number }>({
  type: 'Flatten',
  family: FAMILY,
  arity: [1, 1],
  differentiable: true,
  attrs: (r) => ({ axis: r.int('axis', 1) }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    const axis = a.axis < 0 ? a.axis + x.shape.length : a.axis;
    if (axis < 0 || axis > x.shape.length) throw shapeError(ctx.node, `axis ${a.axis} out of range for rank ${x.shape.length}`);
    const prod = (ds: readonly Dim[]): Dim => (isConcrete(ds) ? numel(ds) : ds.length === 1 ? (ds[0] as Dim) : `(${ds.join('*')})`);
    return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))] }];
  },
  cost: () => noCost(),
  gradient: reshapeBack(),
  sharding: viewRule,
});

function squeezeAxes(ctx: NodeContext, attrAxes: readonly number[] | undefined): number[] | undefined {
  if (ctx.opset >= 13) return ctx.inputs[1] ? constInts(ctx, 1, 'axes') : undefined;
  return attrAxes ? [...attrAxes] : undefined;
}

export const Squeeze: Op = defineOp<{ readonly axes: readonly number[] | undefined }>({
  type: 'Squeeze',
  family: FAMILY,
  arity: [1, 2],
  differentiable: true,
  attrs: (r) => ({ axes: r.ints('axes') }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    const axes = squeezeAxes(ctx, a.axes)?.map((ax) => normAxis(ax, x.shape.length, ctx));
    if (axes) {
      for (const ax of axes) if (x.shape[ax] !== 1) throw shapeError(ctx.node, `cannot squeeze axis ${ax} of size ${x.shape[ax]} in ${fmtShape(x.shape)}`);
    }
    return [{ dtype: x.dtype, shape: x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)) }];
  },
  fold: (vals, _a, ctx) => foldView(Squeeze, vals, ctx),
  cost: () => noCost(),
  gradient: reshapeBack(),
  sharding: viewRule,
});

export const Unsqueeze: Op = defineOp<{ readonly axes: readonly number[] | undefined }>({
  type: 'Unsqueeze',
  family: FAMILY,
  arity: [1, 2],
  differentiable: true,
  attrs: (r) => ({ axes: r.ints('axes') }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    const raw = squeezeAxes(ctx, a.axes);
    if (!raw) throw shapeError(ctx.node, 'Unsqueeze needs axes');
    const rank = x.shape.length + raw.length;
    const axes = raw.map((ax) => normAxis(ax, rank, ctx));
    if (new Set(axes).size !== axes.length) throw shapeError(ctx.node, `repeated axes ${fmtShape(raw)}`);
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : (x.shape[j++] as Dim));
    return [{ dtype: x.dtype, shape: out }];
  },
  fold: (vals, _a, ctx) => foldView(Unsqueeze, vals, ctx),
  cost: () => noCost(),
  gradient: reshapeBack(),
  sharding: viewRule,
});

export const Expand = defineOp<null>({
  type: 'Expand',
  family: FAMILY,
  arity: [2, 2],
  differentiable: true,
  attrs: () => null,
  infer: (ctx) => {
    const x = input(ctx, 0);
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx, [x.shape, constInts(ctx, 1, 'shape')]) }];
  },
  fold: (vals, _a, ctx) => {
    const [x, s] = vals;
    if (!x || !s) return [];
    const shape = broadcastShapes(ctx, [x.shape, Array.from(s.data)]);
    if (!isConcrete(shape)) return [];
    return [hostExpand(x, shape)];
  },
  cost: (ctx) => movementCost(ctx),
  gradient: (g) => {
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    return [x && dy && g.needs[0] ? sumToShape(g.b, dy, g.b.shape(x)) : undefined, undefined];
  },
  sharding: elementwiseRule,
});

export const Concat = defineOp<{ readonly axis: number }>({
  type: 'Concat',
  family: FAMILY,
  arity: [1, 2147483647],
  differentiable: true,
  attrs: (r) => ({ axis: r.int('axis', 0) }),
  infer: (ctx, a) => {
    const ins = ctx.inputs.map((_, i) => input(ctx, i));
    const first = ins[0] as TensorType;
    const axis = normAxis(a.axis, first.shape.length, ctx);
    let total: Dim = 0;
    for (const t of ins) {
      if (t.shape.length !== first.shape.length || t.dtype !== first.dtype) {
        throw shapeError(ctx.node, `inputs ${ins.map((x) => `${x.dtype}${fmtShape(x.shape)}`).join(', ')} differ in rank or dtype`);
      }
      t.shape.forEach((d, k) => {
        if (k !== axis && d !== first.shape[k]) throw shapeError(ctx.node, `inputs ${ins.map((x) => fmtShape(x.shape)).join(', ')} differ outside axis ${axis}`);
      });
      const d = t.shape[axis] as Dim;
      total = typeof total === 'number' && typeof d === 'number' ? total + d : `${total}+${d}`;
    }
    const shape = [...first.shape];
    shape[axis] = total;
    return [{ dtype: first.dtype, shape }];
  },
  fold: (vals, a, ctx) => {
    const xs = vals.filter((v): v is HostTensor => v !== undefined);
    const first = xs[0];
    if (!first || xs.length !== vals.length) return [];
    const axis = normAxis(a.axis, first.shape.length, ctx);
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + (x.shape[axis] ?? 0), 0);
    return [hostConcat(xs, axis, shape)];
  },
  cost: (ctx) => movementCost(ctx),
  // The gradient of a concatenation is a split of dY at the same boundaries.
  gradient: (g, a) => {
    const dy = g.dy[0];
    if (!dy || !g.needs.some((n) => n)) return g.node.inputs.map(() => undefined);
    const rank = g.b.shape(dy).length;
    const axis = a.axis < 0 ? a.axis + rank : a.axis;
    const sizes = g.node.inputs.map((x) => g.b.shape(x)[axis] ?? 0);
    if (sizes.length === 1) return [dy];
    const parts = g.b.add('Split', [dy, g.b.ints(sizes)], { axis }, { outputs: sizes.length });
    return parts.map((p, i) => (g.needs[i] ? p : undefined));
  },
  sharding: (ctx, a) => {
    const r = ctx.outputs[0]?.shape.length ?? 0;
    return perDimRule(ctx, (d) => d === (a.axis < 0 ? a.axis + r : a.axis));
  },
});

export interface SplitAttrs {
  readonly axis: number;
  readonly split: readonly number[] | undefined;
  readonly numOutputs: number | undefined;
}

function splitSizes(ctx: NodeContext, a: SplitAttrs, dim: Dim): Dim[] {
  const n = ctx.node.outputs.length;
  const given = ctx.opset >= 13 ? (ctx.inputs[1] ? constInts(ctx, 1, 'split') : undefined) : a.split;
  if (given) {
    if (given.length !== n) throw shapeError(ctx.node, `split ${fmtShape(given)} has ${given.length} parts but the node has ${n} outputs`);
    if (given.some((v) => v < 0)) throw shapeError(ctx.node, `split ${fmtShape(given)} has a negative part`);
    if (typeof dim === 'number' && given.reduce((s, v) => s + v, 0) !== dim) {
      throw shapeError(ctx.node, `split ${fmtShape(given)} does not add up to the axis size ${dim}`);
    }
    return [...given];
  }
  if (typeof dim !== 'number') throw shapeError(ctx.node, `cannot split symbolic dimension ${dim}; bind it with --dim`);
  // Opset 18 num_outputs: ceil-sized chunks, the last smaller.
  if (a.numOutputs !== undefined && a.numOutputs !== n) throw shapeError(ctx.node, `num_outputs is ${a.numOutputs} but the node has ${n} outputs`);
  const parts = a.numOutputs ?? n;
  const chunk = Math.ceil(dim / parts);
  if (a.numOutputs === undefined && dim % parts !== 0) throw shapeError(ctx.node, `axis size ${dim} does not split evenly into ${parts}`);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

export const Split = defineOp<SplitAttrs>({
  type: 'Split',
  family: FAMILY,
  arity: [1, 2],
  differentiable: true,
  attrs: (r) => ({ axis: r.int('axis', 0), split: r.ints('split'), numOutputs: r.intOpt('num_outputs') }),
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    const axis = normAxis(a.axis, x.shape.length, ctx);
    return splitSizes(ctx, a, x.shape[axis] as Dim).map((s) => {
      const shape = [...x.shape];
      shape[axis] = s;
      return { dtype: x.dtype, shape };
    });
  },
  fold: (vals, a, ctx) => {
    const x = vals[0];
    if (!x) return [];
    const axis = normAxis(a.axis, x.shape.length, ctx);
    const sizes = splitSizes(ctx, a, x.shape[axis] ?? 0);
    let off = 0;
    return sizes.map((s) => {
      const size = typeof s === 'number' ? s : 0;
      const starts = x.shape.map((_, k) => (k === axis ? off : 0));
      const shape = x.shape.map((d, k) => (k === axis ? size : d));
      off += size;
      return hostSlice(x, starts, x.shape.map(() => 1), shape);
    });
  },
  cost: (ctx) => movementCost(ctx),
  // Concatenate the output gradients, zeros where an output got none.
  gradient: (g, a) => {
    const x = g.node.inputs[0];
    if (!x || !g.needs[0] || g.dy.every((d) => d === undefined)) return [undefined, undefined];
    const rank = g.b.shape(x).length;
    const axis = a.axis < 0 ? a.axis + rank : a.axis;
    const parts = g.node.outputs.map((o, i) => g.dy[i] ?? zerosOf(g.b, g.b.shape(o), g.b.type(o).dtype));
    return [parts.length === 1 ? parts[0] : g.b.op('Concat', parts, { axis }), undefined];
  },
  sharding: (ctx, a) => {
    const r = ctx.inputs[0]?.shape.length ?? 0;
    return perDimRule(ctx, (d) => d === (a.axis < 0 ? a.axis + r : a.axis));
  },
});

/** A zero tensor of a static shape (ConstantOfShape, so it costs no host memory). */
export function zerosOf(b: GraphBuilder, shape: readonly number[], dtype: TensorType['dtype']): string {
  return b.op('ConstantOfShape', [b.ints(shape)], { value: hostTensor(dtype, [1], [0]) });
}

export interface SliceParams {
  readonly starts: number[];
  readonly steps: number[];
  readonly shape: Dim[];
}

/** ONNX Slice semantics (opset 10+): clamping per axis, negative steps. */
export function sliceParams(ctx: NodeContext, shape: readonly Dim[]): SliceParams {
  const starts = constInts(ctx, 1, 'starts');
  const ends = constInts(ctx, 2, 'ends');
  const axes = ctx.inputs[3] ? constInts(ctx, 3, 'axes') : starts.map((_, i) => i);
  const steps = ctx.inputs[4] ? constInts(ctx, 4, 'steps') : starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw shapeError(ctx.node, 'starts, ends, axes and steps must have the same length');
  }
  const outStarts = shape.map(() => 0);
  const outSteps = shape.map(() => 1);
  const outShape = [...shape];
  axes.forEach((ax0, i) => {
    const ax = normAxis(ax0, shape.length, ctx);
    const dim = shape[ax];
    const step = steps[i] ?? 1;
    if (step === 0) throw shapeError(ctx.node, 'slice step cannot be 0');
    if (typeof dim !== 'number') throw shapeError(ctx.node, `cannot slice symbolic dimension ${dim}; bind it with --dim`);
    let s = starts[i] ?? 0;
    let e = ends[i] ?? 0;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    outStarts[ax] = s;
    outSteps[ax] = step;
    outShape[ax] = Math.max(0, Math.ceil((e - s) / step));
  });
  return { starts: outStarts, steps: outSteps, shape: outShape };
}

export const Slice = defineOp<null>({
  type: 'Slice',
  family: FAMILY,
  arity: [3, 5],
  differentiable: true,
  attrs: (r) => {
    r.unsupported('starts', 'Slice-1 attributes; opset 10+ passes starts/ends as inputs');
    return null;
  },
  infer: (ctx) => {
    const x = input(ctx, 0);
    return [{ dtype: x.dtype, shape: sliceParams(ctx, x.shape).shape }];
  },
  fold: (vals, _a, ctx) => {
    const x = vals[0];
    if (!x) return [];
    const p = sliceParams(ctx, x.shape);
    return isConcrete(p.shape) ? [hostSlice(x, p.starts, p.steps, p.shape)] : [];
  },
  cost: (ctx) => movementCost(ctx),
  // Unit steps: surround dY with zero blocks along each sliced axis.
  gradient: (g) => {
    const { b } = g;
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    const none = g.node.inputs.map(() => undefined);
    if (!x || !dy || !g.needs[0]) return none;
    const xs = b.shape(x);
    const ctx = b.nodeContext(g.node);
    const p = sliceParams(ctx, xs);
    if (p.steps.some((s) => s !== 1)) throw shapeError(g.node, 'gradients of strided or reversed slices are not supported');
    let cur = dy;
    xs.forEach((dim, ax) => {
      const size = b.shape(cur)[ax] ?? 0;
      const before = p.starts[ax] ?? 0;
      const after = dim - before - size;
      if (before === 0 && after === 0) return;
      const block = (n: number): string => {
        const s = [...b.shape(cur)];
        s[ax] = n;
        return zerosOf(b, s, b.type(dy).dtype);
      };
      const pieces = [...(before > 0 ? [block(before)] : []), cur, ...(after > 0 ? [block(after)] : [])];
      cur = b.op('Concat', pieces, { axis: ax });
    });
    return [cur, ...none.slice(1)];
  },
  // Dimensions the slice shortens stay whole; the others are parallel.
  sharding: (ctx) => {
    const x = ctx.inputs[0];
    const y = ctx.outputs[0];
    return perDimRule(ctx, (d) => (x?.shape[d] ?? 0) !== (y?.shape[d] ?? 0));
  },
});

export const ShapeOp = defineOp<{ readonly start: number; readonly end: number | undefined }>({
  type: 'Shape',
  family: FAMILY,
  arity: [1, 1],
  differentiable: false,
  attrs: (r) => ({ start: r.int('start', 0), end: r.intOpt('end') }),
  infer: (ctx, a) => {
    const rank = input(ctx, 0).shape.length;
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    return [{ dtype: 'int64', shape: [Math.max(0, clamp(a.end ?? rank) - clamp(a.start))] }];
  },
  // Shape folds from the input's type alone: its data need not be known.
  foldsFromTypes: true,
  fold: (_vals, a, ctx) => {
    const t = input(ctx, 0);
    const rank = t.shape.length;
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const dims = t.shape.slice(clamp(a.start), clamp(a.end ?? rank));
    return isConcrete(dims) ? [hostTensor('int64', [dims.length], dims)] : [];
  },
  cost: () => noCost(),
});

export const Range = defineOp<null>({
  type: 'Range',
  family: FAMILY,
  arity: [3, 3],
  differentiable: false,
  attrs: () => null,
  infer: (ctx) => {
    const [s, l, d] = [0, 1, 2].map((i) => ctx.constant(i)?.data[0]);
    const dtype = input(ctx, 0).dtype;
    if (s === undefined || l === undefined || d === undefined) {
      throw shapeError(ctx.node, 'Range needs constant start, limit and delta to infer its length; bind symbolic dimensions with --dim');
    }
    if (d === 0) throw shapeError(ctx.node, 'Range delta is 0');
    return [{ dtype, shape: [Math.max(Math.ceil((l - s) / d), 0)] }];
  },
  fold: (vals) => {
    const [s, l, d] = vals.map((v) => v?.data[0]);
    const dt = vals[0]?.dtype;
    if (s === undefined || l === undefined || d === undefined || !dt || d === 0) return [];
    const n = Math.max(Math.ceil((l - s) / d), 0);
    return [hostTensor(dt, [n], Array.from({ length: n }, (_, i) => s + i * d))];
  },
  cost: (ctx) => movementCost(ctx),
});

export const ConstantOfShape = defineOp<{ readonly value: HostTensor }>({
  type: 'ConstantOfShape',
  family: FAMILY,
  arity: [1, 1],
  differentiable: false,
  attrs: (r) => ({ value: r.tensor('value') ?? hostTensor('float32', [1], [0]) }),
  infer: (ctx, a) => [{ dtype: a.value.dtype, shape: constInts(ctx, 0, 'shape') }],
  fold: (vals, a) => {
    const s = vals[0];
    if (!s) return [];
    const shape = Array.from(s.data);
    const v = a.value.data[0] ?? 0;
    return [hostTensor(a.value.dtype, shape, new Array<number>(numel(shape)).fill(v))];
  },
  cost: (ctx) => movementCost(ctx),
});

export const Tile = defineOp<null>({
  type: 'Tile',
  family: FAMILY,
  arity: [2, 2],
  differentiable: true,
  attrs: () => null,
  infer: (ctx) => {
    const x = input(ctx, 0);
    const reps = constInts(ctx, 1, 'repeats');
    if (reps.length !== x.shape.length) throw shapeError(ctx.node, `repeats ${fmtShape(reps)} must have one entry per dimension of ${fmtShape(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d * (reps[i] ?? 1) : (reps[i] ?? 1) === 1 ? d : `${d}*${reps[i]}`)) }];
  },
  cost: (ctx) => movementCost(ctx),
  // View dY as [r0, d0, r1, d1, ...] and sum the repeat axes.
  gradient: (g) => {
    const { b } = g;
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    if (!x || !dy || !g.needs[0]) return [undefined, undefined];
    const xs = b.shape(x);
    const reps = b.shape(dy).map((d, i) => d / (xs[i] ?? 1));
    const split = reshape(b, dy, xs.flatMap((d, i) => [reps[i] ?? 1, d]));
    const summed = b.op('ReduceSum', [split, b.ints(xs.map((_, i) => 2 * i))], { keepdims: 0 });
    return [reshape(b, summed, xs), undefined];
  },
  sharding: (ctx) => {
    const x = ctx.inputs[0];
    const y = ctx.outputs[0];
    return perDimRule(ctx, (d) => (x?.shape[d] ?? 0) !== (y?.shape[d] ?? 0));
  },
});

export const shapeOps: readonly Op[] = [Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Expand, Concat, Split, Slice, ShapeOp, Range, ConstantOfShape, Tile];
