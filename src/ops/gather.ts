/** Indexing: Gather (embedding lookups, picking shape entries). */
import { numel } from '../ir/host-tensor.js';
import type { Dim } from '../ir/types.js';
import { hostRemap } from './host.js';
import { defineOp, shapeError, type Op } from './op.js';
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
});

export const gatherOps: readonly Op[] = [Gather];
