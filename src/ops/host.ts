/** Host-side index arithmetic for constant folding of data-movement ops. */
import type { DType } from '../ir/dtype.js';
import { type HostTensor, numel, usesFloat32Storage } from '../ir/host-tensor.js';
import { strides } from './util.js';

/** Builds a tensor whose element at multi-index `o` is `src.data[at(o)]`. */
export function hostRemap(src: HostTensor, outShape: readonly number[], at: (o: readonly number[]) => number, dtype: DType = src.dtype): HostTensor {
  const n = numel(outShape);
  const data = usesFloat32Storage(dtype) ? new Float32Array(n) : new Float64Array(n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < n; i++) {
    data[i] = src.data[at(idx)] ?? 0;
    for (let k = outShape.length - 1; k >= 0; k--) {
      idx[k] = (idx[k] ?? 0) + 1;
      if ((idx[k] ?? 0) < (outShape[k] ?? 1)) break;
      idx[k] = 0;
    }
  }
  return { dtype, shape: [...outShape], data };
}

export function hostTranspose(src: HostTensor, perm: readonly number[]): HostTensor {
  const st = strides(src.shape);
  const outShape = perm.map((p) => src.shape[p] ?? 1);
  return hostRemap(src, outShape, (o) => o.reduce((acc, v, k) => acc + v * (st[perm[k] ?? 0] ?? 0), 0));
}

export function hostSlice(src: HostTensor, starts: readonly number[], steps: readonly number[], outShape: readonly number[]): HostTensor {
  const st = strides(src.shape);
  return hostRemap(src, outShape, (o) => o.reduce((acc, v, k) => acc + ((starts[k] ?? 0) + v * (steps[k] ?? 1)) * (st[k] ?? 0), 0));
}

export function hostConcat(parts: readonly HostTensor[], axis: number, outShape: readonly number[]): HostTensor {
  const first = parts[0];
  if (!first) throw new Error('concat of nothing');
  const n = numel(outShape);
  const data = usesFloat32Storage(first.dtype) ? new Float32Array(n) : new Float64Array(n);
  const outer = numel(outShape.slice(0, axis));
  const inner = numel(outShape.slice(axis + 1));
  let off = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const len = (p.shape[axis] ?? 0) * inner;
      data.set(p.data.subarray(o * len, (o + 1) * len), off);
      off += len;
    }
  }
  return { dtype: first.dtype, shape: [...outShape], data };
}
