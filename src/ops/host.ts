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

/** Element o of the result is src[offset + Σ o[k]·stride[k]]: transpose, slice and expand in one walk. */
export function hostStrided(src: HostTensor, outShape: readonly number[], offset: number, stride: readonly number[]): HostTensor {
  const n = numel(outShape);
  const rank = outShape.length;
  const data = usesFloat32Storage(src.dtype) ? new Float32Array(n) : new Float64Array(n);
  const idx = new Array<number>(rank).fill(0);
  let off = offset;
  for (let i = 0; i < n; i++) {
    data[i] = src.data[off] ?? 0;
    for (let k = rank - 1; k >= 0; k--) {
      const size = outShape[k] ?? 1;
      idx[k] = (idx[k] ?? 0) + 1;
      off += stride[k] ?? 0;
      if ((idx[k] ?? 0) < size) break;
      idx[k] = 0;
      off -= (stride[k] ?? 0) * size;
    }
  }
  return { dtype: src.dtype, shape: [...outShape], data };
}

export function hostTranspose(src: HostTensor, perm: readonly number[]): HostTensor {
  const st = strides(src.shape);
  return hostStrided(src, perm.map((p) => src.shape[p] ?? 1), 0, perm.map((p) => st[p] ?? 0));
}

export function hostSlice(src: HostTensor, starts: readonly number[], steps: readonly number[], outShape: readonly number[]): HostTensor {
  const st = strides(src.shape);
  const offset = starts.reduce((acc, s, k) => acc + s * (st[k] ?? 0), 0);
  return hostStrided(src, outShape, offset, st.map((v, k) => v * (steps[k] ?? 1)));
}

/** Numpy broadcast of src to outShape (stride 0 along broadcast axes). */
export function hostExpand(src: HostTensor, outShape: readonly number[]): HostTensor {
  const st = strides(src.shape);
  const lead = outShape.length - src.shape.length;
  return hostStrided(src, outShape, 0, outShape.map((_, k) => (k < lead || src.shape[k - lead] === 1 ? 0 : (st[k - lead] ?? 0))));
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
