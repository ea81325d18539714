/** Indexing: Gather (embedding lookups, picking shape entries). */
import { hostTensor, numel } from '../ir/host-tensor.js';
import type { Dim } from '../ir/types.js';
import { hostRemap } from './host.js';
import { AutoparError } from '../errors.js';
import { reshape } from './grad-util.js';
import { defineOp, shapeError, type Op } from './op.js';
import { RuleBuilder } from './sharding-rule.js';
import { zerosOf } from './shape.js';
import { input, normAxis } from './util.js';
import { dtypeBytes } from '../ir/dtype.js';

export const Gather = defineOp<{ readonly axis: number }>({
  type: 'Gather',
  family: 'gather',
  arity: [2, 2],
  differentiable: true,
  attrs: (r) => ({ axis: r.int('axis', 0) }),
  infer: (ctx, a) => {
    const [x, idx] = [input(ctx, 0), input(ctx, 1)];
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw shapeError(ctx.node, `indices must be int32 or int64, got ${idx.dtype}`);
    const axis = normAxis(a.axis, x.shape.length, ctx);
    const shape: Dim[] = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    return [{ dtype: x.dtype, shape }];
  },
  fold: (vals, a, ctx) => {
    const [x, idx] = vals;
    if (!x || !idx) return [];
    const axis = normAxis(a.axis, x.shape.length, ctx);
    const dim = x.shape[axis] ?? 0;
    const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    const inner = numel(x.shape.slice(axis + 1));
    const ir = idx.shape.length;
    return [
      hostRemap(x, shape, (o) => {
        const outerIdx = o.slice(0, axis);
        const flatIdx = o.slice(axis, axis + ir).reduce((acc, v, k) => acc * (idx.shape[k] ?? 1) + v, 0);
        let i = idx.data[flatIdx] ?? 0;
        if (i < 0) i += dim;
        if (i < 0 || i >= dim) throw shapeError(ctx.node, `index ${idx.data[flatIdx]} out of range for axis of size ${dim}`);
        const outer = outerIdx.reduce((acc, v, k) => acc * (x.shape[k] ?? 1) + v, 0);
        const innerIdx = o.slice(axis + ir).reduce((acc, v, k) => acc * (x.shape[axis + 1 + k] ?? 1) + v, 0);
        return (outer * dim + i) * inner + innerIdx;
      }),
    ];
  },
  cost: (ctx) => {
    // Reads only the gathered rows, not the whole table.
    const out = ctx.outputs[0];
    const idx = ctx.inputs[1];
    const outBytes = out ? numel(out.shape) * dtypeBytes(out.dtype) : 0;
    return { flops: 0, bytes: 2 * outBytes + (idx ? numel(idx.shape) * dtypeBytes(idx.dtype) : 0), kind: 'data-movement' };
  },
  // Index dims and the table's other dims are parallel; the gathered axis is a
  // contraction: with the table split there, each device looks up the rows it holds
  // (zeros elsewhere) and the results sum (Megatron's vocabulary-parallel embedding).
  sharding: (ctx, a) => {
    const [x, idx] = [ctx.inputs[0], ctx.inputs[1]];
    const rb = new RuleBuilder();
    if (!x || !idx) return rb.build([], []);
    const axis = a.axis < 0 ? a.axis + x.shape.length : a.axis;
    const xDims = x.shape.map((d, i) => (i === axis ? rb.factor('v', d, 'contract') : rb.factor(`x${i}`, d)));
    const iDims = idx.shape.map((d, i) => rb.factor(`i${i}`, d));
    const out = [...xDims.slice(0, axis), ...iDims, ...xDims.slice(axis + 1)];
    return rb.build([xDims, ctx.isConstant(1) ? [] : iDims], [out]);
  },
  // Scatter-add dY's rows back into a zero table (repeated indices accumulate).
  gradient: (g, a) => {
    const { b } = g;
    const [x, idx] = g.node.inputs;
    const dy = g.dy[0];
    if (!x || !idx || !dy || !g.needs[0]) return [undefined, undefined];
    const xs = b.shape(x);
    const axis = a.axis < 0 ? a.axis + xs.length : a.axis;
    const dim = xs[axis] ?? 0;
    const n = numel(b.shape(idx));
    // Move the indexed axis to the front: dY [pre.., idx.., post..] -> [idx.., pre.., post..].
    const ir = b.shape(idx).length;
    const dyRank = b.shape(dy).length;
    const perm = [...Array.from({ length: ir }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: dyRank - axis - ir }, (_, i) => axis + ir + i)];
    const moved = perm.every((p, i) => p === i) ? dy : b.op('Transpose', [dy], { perm });
    const rest = [...xs.slice(0, axis), ...xs.slice(axis + 1)];
    const updates = reshape(b, moved, [n, ...rest]);
    const flat = reshape(b, idx, [n, 1]);
    const wrapped = b.op('Where', [b.op('Less', [flat, b.scalar(0, b.type(idx).dtype)]), b.op('Add', [flat, b.scalar(dim, b.type(idx).dtype)]), flat]);
    const table = b.op('ScatterND', [zerosOf(b, [dim, ...rest], b.type(dy).dtype), wrapped, updates], { reduction: 'add' });
    if (axis === 0) return [table, undefined];
    const back = [...Array.from({ length: axis }, (_, i) => i + 1), 0, ...Array.from({ length: xs.length - axis - 1 }, (_, i) => axis + 1 + i)];
    return [b.op('Transpose', [table], { perm: back }), undefined];
  },
});

export interface ScatterNDAttrs {
  readonly reduction: 'none' | 'add' | 'mul' | 'max' | 'min';
}

/** ScatterND; reduction 'add' is what Gather's gradient needs (accepted at any opset internally). */
export const ScatterND = defineOp<ScatterNDAttrs>({
  type: 'ScatterND',
  family: 'gather',
  arity: [3, 3],
  // The data and the updates carry gradients (the indices do not): marked
  // non-differentiable, a ScatterND on a trained path silently gave them zero.
  differentiable: true,
  attrs: (r) => {
    const reduction = r.string('reduction', 'none');
    if (reduction !== 'none' && reduction !== 'add' && reduction !== 'mul' && reduction !== 'max' && reduction !== 'min') {
      throw new AutoparError('E_GRAPH', `node '${r.node.name}' (ScatterND): unknown reduction '${reduction}'`);
    }
    return { reduction };
  },
  infer: (ctx) => {
    const [data, idx, upd] = [input(ctx, 0), input(ctx, 1), input(ctx, 2)];
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw shapeError(ctx.node, `indices must be int32 or int64, got ${idx.dtype}`);
    if (idx.shape.length === 0) throw shapeError(ctx.node, 'indices must have rank >= 1, got a scalar');
    const k = idx.shape[idx.shape.length - 1];
    if (typeof k !== 'number' || k > data.shape.length) throw shapeError(ctx.node, `indices last dimension ${String(k)} exceeds data rank ${data.shape.length}`);
    const want: Dim[] = [...idx.shape.slice(0, -1), ...data.shape.slice(k)];
    if (want.length !== upd.shape.length || want.some((d, i) => d !== upd.shape[i])) {
      throw shapeError(ctx.node, `updates shape [${upd.shape.join(',')}] should be [${want.join(',')}]`);
    }
    return [data];
  },
  // Scatter-add: update rows split over devices each scatter into a full table and the
  // tables sum (the indexed rows are a contraction); trailing dims are parallel.
  sharding: (ctx, a) => {
    const [data, idx, upd] = [ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]];
    const rb = new RuleBuilder();
    if (!data || !idx || !upd || a.reduction !== 'add') return rb.build(ctx.inputs.map((t) => (t ? t.shape.map(() => '') : [])), ctx.outputs.map((t) => t.shape.map(() => '')));
    const k = idx.shape[idx.shape.length - 1] ?? 1;
    const rows = idx.shape.slice(0, -1).map((d, i) => rb.factor(`n${i}`, d, 'contract'));
    const tail = data.shape.slice(k).map((d, i) => rb.factor(`t${i}`, d));
    const dataDims = [...data.shape.slice(0, k).map(() => ''), ...tail];
    return rb.build([dataDims, [...rows, ''], [...rows, ...tail]], [dataDims]);
  },
  // 'none': the written positions of data lose their gradient, and each update gets the
  // gradient at the position it went to (GatherND of dY, spelt as a Gather over the
  // first k axes flattened); 'add': data passes dY through and the updates get the same
  // GatherND. mul, max and min are refused, not given a wrong gradient.
  gradient: (g, a) => {
    const { b } = g;
    const [data, idx, upd] = g.node.inputs;
    const dy = g.dy[0];
    if (!data || !idx || !upd || !dy) return [undefined, undefined, undefined];
    switch (a.reduction) {
      case 'none':
      case 'add':
        break;
      case 'mul':
      case 'max':
      case 'min':
        throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (ScatterND): no gradient rule for reduction '${a.reduction}'`);
    }
    const dData = !g.needs[0] ? undefined : a.reduction === 'add' ? dy : b.op('ScatterND', [dy, idx, zerosOf(b, b.shape(upd), b.type(upd).dtype)]);
    if (!g.needs[2]) return [dData, undefined, undefined];
    const ds = b.shape(data);
    const is = b.shape(idx);
    const k = is[is.length - 1] ?? 1;
    const it = b.type(idx).dtype;
    const lead = ds.slice(0, k);
    // Row-major linear index over the first k axes, negative indices wrapped per axis.
    const dims = b.constant(hostTensor(it, [lead.length], lead));
    const wrapped = b.op('Where', [b.op('Less', [idx, b.scalar(0, it)]), b.op('Add', [idx, dims]), idx]);
    const strides = lead.map((_, j) => numel(lead.slice(j + 1)));
    const linear = k === 1 ? b.op('Squeeze', [wrapped, b.ints([-1])]) : b.op('ReduceSum', [b.op('Mul', [wrapped, b.constant(hostTensor(it, [strides.length], strides))]), b.ints([-1])], { keepdims: 0 });
    const table = reshape(b, dy, [numel(lead), ...ds.slice(k)]);
    return [dData, undefined, b.op('Gather', [table, linear], { axis: 0 })];
  },
  cost: (ctx) => {
    const upd = ctx.inputs[2];
    const data = ctx.inputs[0];
    const u = upd ? numel(upd.shape) : 0;
    return { flops: u, bytes: (data ? 2 * numel(data.shape) * dtypeBytes(data.dtype) : 0) + (upd ? u * dtypeBytes(upd.dtype) : 0), kind: 'data-movement' };
  },
});

export const gatherOps: readonly Op[] = [Gather, ScatterND];
