/** Helpers shared by the op families: broadcasting, axes, input access, byte counts. */
import { type DType, dtypeBytes } from '../ir/dtype.js';
import { type HostTensor, numel } from '../ir/host-tensor.js';
import type { Dim, TensorType } from '../ir/types.js';
import type { ConcreteType, CostContext, NodeContext, OpCost } from './op.js';
import { shapeError } from './op.js';

export function fmtShape(shape: readonly Dim[]): string {
  return `[${shape.join(',')}]`;
}

export function input(ctx: NodeContext, i: number): TensorType {
  const t = ctx.inputs[i];
  if (!t) throw shapeError(ctx.node, `input ${i} is required but missing`);
  return t;
}

export function constInput(ctx: NodeContext, i: number, what: string): HostTensor {
  const c = ctx.constant(i);
  if (!c) {
    throw shapeError(
      ctx.node,
      `input ${i} (${what}, '${ctx.node.inputs[i] ?? ''}') must be a constant to infer shapes; bind every symbolic dimension with --dim NAME=VALUE`,
    );
  }
  return c;
}

export function constInts(ctx: NodeContext, i: number, what: string): number[] {
  return Array.from(constInput(ctx, i, what).data);
}

export function normAxis(axis: number, rank: number, ctx: NodeContext): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw shapeError(ctx.node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Numpy broadcasting; symbolic dims broadcast only against 1 or the same symbol. */
export function broadcastShapes(ctx: NodeContext, shapes: readonly (readonly Dim[])[]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let k = 0; k < rank; k++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + k] ?? 1;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (!dimEq(d, e)) {
        throw shapeError(ctx.node, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together`);
      }
    }
    out.push(d);
  }
  return out;
}

export function isConcrete(shape: readonly Dim[]): shape is readonly number[] {
  // A counted loop: shapes of small integers, doubles and strings all pass through here,
  // and an inlined every() deoptimised its callers on each new array kind.
  for (let i = 0; i < shape.length; i++) if (typeof shape[i] !== 'number') return false;
  return true;
}

export function sizeOf(shape: readonly Dim[]): number | undefined {
  return isConcrete(shape) ? numel(shape) : undefined;
}

export function bytesOf(t: ConcreteType | undefined): number {
  return t ? numel(t.shape) * dtypeBytes(t.dtype) : 0;
}

export function ioBytes(ctx: CostContext): number {
  let b = 0;
  for (const t of ctx.inputs) b += bytesOf(t);
  for (const t of ctx.outputs) b += bytesOf(t);
  return b;
}

export function outElems(ctx: CostContext, i = 0): number {
  const t = ctx.outputs[i];
  return t ? numel(t.shape) : 0;
}

export function elementwiseCost(ctx: CostContext, flopsPerElem: number): OpCost {
  return { flops: flopsPerElem * outElems(ctx), bytes: ioBytes(ctx), kind: 'elementwise' };
}

export function movementCost(ctx: CostContext): OpCost {
  return { flops: 0, bytes: ioBytes(ctx), kind: 'data-movement' };
}

export const noCost = (): OpCost => ({ flops: 0, bytes: 0, kind: 'none' });

export function sameType(t: TensorType, dtype?: DType): TensorType {
  return { dtype: dtype ?? t.dtype, shape: t.shape };
}

/** Row-major strides. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] ?? 1) * (shape[i + 1] ?? 1);
  return s;
}

/**
 * Host broadcasting of an n-ary elementwise function (constant folding only). Walks
 * the output with an odometer, moving each input's offset by its broadcast stride, so
 * a million-element causal mask folds in milliseconds.
 */
export function hostBroadcast(
  dtype: DType,
  inputs: readonly HostTensor[],
  outShape: readonly number[],
  f: (xs: readonly number[]) => number,
): HostTensor {
  const n = numel(outShape);
  const rank = outShape.length;
  const inStrides = inputs.map((t) => {
    const st = strides(t.shape);
    return outShape.map((_, k) => {
      const j = k - (rank - t.shape.length);
      return j < 0 || t.shape[j] === 1 ? 0 : (st[j] ?? 0);
    });
  });
  const data = dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' ? new Float32Array(n) : new Float64Array(n);
  const xs = new Array<number>(inputs.length).fill(0);
  // Fast path: every input is full-sized or a single element (no index arithmetic).
  if (inputs.every((t) => t.data.length === n || t.data.length === 1)) {
    const full = inputs.map((t) => t.data.length === n && n !== 1);
    for (let t = 0; t < inputs.length; t++) xs[t] = inputs[t]?.data[0] ?? 0;
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < inputs.length; t++) if (full[t]) xs[t] = inputs[t]?.data[i] ?? 0;
      data[i] = f(xs);
    }
    return { dtype, shape: [...outShape], data };
  }
  const offs = new Array<number>(inputs.length).fill(0);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < inputs.length; t++) xs[t] = inputs[t]?.data[offs[t] ?? 0] ?? 0;
    data[i] = f(xs);
    for (let k = rank - 1; k >= 0; k--) {
      const size = outShape[k] ?? 1;
      idx[k] = (idx[k] ?? 0) + 1;
      for (let t = 0; t < inputs.length; t++) offs[t] = (offs[t] ?? 0) + (inStrides[t]?.[k] ?? 0);
      if ((idx[k] ?? 0) < size) break;
      idx[k] = 0;
      for (let t = 0; t < inputs.length; t++) offs[t] = (offs[t] ?? 0) - (inStrides[t]?.[k] ?? 0) * size;
    }
  }
  return { dtype, shape: [...outShape], data };
}
