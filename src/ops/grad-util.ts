/** Building blocks shared by gradient rules: broadcasting reductions, opset-aware axes. */
import type { GraphBuilder } from '../ir/builder.js';

/** ReduceSum over `axes` (ReduceSum takes axes as an input from opset 13). */
export function reduceSum(b: GraphBuilder, x: string, axes: readonly number[], keepDims: boolean): string {
  if (axes.length === 0) return x;
  return b.op('ReduceSum', [x, b.ints(axes)], { keepdims: keepDims ? 1 : 0 });
}

/** ReduceMean over `axes` (axes became an input in opset 18). */
export function reduceMean(b: GraphBuilder, x: string, axes: readonly number[], keepDims: boolean): string {
  if (b.opset >= 18) return b.op('ReduceMean', [x, b.ints(axes)], { keepdims: keepDims ? 1 : 0 });
  return b.op('ReduceMean', [x], { axes, keepdims: keepDims ? 1 : 0 });
}

export function reshape(b: GraphBuilder, x: string, shape: readonly number[]): string {
  const cur = b.shape(x);
  if (cur.length === shape.length && cur.every((d, i) => d === shape[i])) return x;
  return b.op('Reshape', [x, b.ints(shape)]);
}

/** Sums a broadcast gradient back down to the shape of the operand it came from. */
export function sumToShape(b: GraphBuilder, grad: string, target: readonly number[]): string {
  const g = b.shape(grad);
  if (g.length === target.length && g.every((d, i) => d === target[i])) return grad;
  const lead = g.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < g.length; i++) {
    const t = i < lead ? undefined : target[i - lead];
    if (t === undefined || (t === 1 && g[i] !== 1)) axes.push(i);
  }
  return reshape(b, reduceSum(b, grad, axes, true), target);
}

export function neg(b: GraphBuilder, x: string): string {
  return b.op('Neg', [x]);
}

/** Zeros shaped and typed like `like`. */
export function zerosLike(b: GraphBuilder, like: string): string {
  const t = b.type(like);
  return b.op('Mul', [like, b.scalar(0, t.dtype)]);
}

/** Inverse of a permutation. */
export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length).fill(0);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}
