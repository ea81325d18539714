/** tfjs lowering of Gather and ScatterND: negative indices wrap, as ONNX allows. */
import { Gather, ScatterND } from '../../ops/gather.js';
import { tf } from '../backend.js';
import { type Kernel, need } from './kernel.js';

/**
 * ScatterND reductions tfjs has no scatter for, applied in index order on the host, as
 * ONNX specifies for duplicate indices (rare ops: never on a gradient path).
 */
function scatterOnHost(data: tf.Tensor, idx: tf.Tensor, upd: tf.Tensor, f: (a: number, b: number) => number): tf.Tensor {
  const out = Float64Array.from(data.dataSync());
  const ix = idx.dataSync();
  const u = upd.dataSync();
  const k = idx.shape[idx.rank - 1] ?? 0;
  const inner = data.shape.slice(k).reduce((p, d) => p * d, 1);
  const rows = idx.shape.slice(0, -1).reduce((p, d) => p * d, 1);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    for (let j = 0; j < k; j++) {
      const dim = data.shape[j] ?? 1;
      const v = ix[r * k + j] ?? 0;
      off = off * dim + (v < 0 ? v + dim : v);
    }
    for (let t = 0; t < inner; t++) out[off * inner + t] = f(out[off * inner + t] ?? 0, u[r * inner + t] ?? 0);
  }
  return tf.tensor(Array.from(out), data.shape, data.dtype);
}

export const gatherKernels: Readonly<Record<string, Kernel>> = {
  Gather: (x, k) => {
    const X = need(x, 0, k);
    const I = need(x, 1, k);
    const a = Gather.attrsOf(k.node, k.opset);
    const axis = a.axis < 0 ? a.axis + X.rank : a.axis;
    const dim = X.shape[axis] ?? 0;
    return [
      tf.tidy(() => {
        const idx = tf.cast(I, 'int32');
        const wrapped = tf.where(tf.less(idx, tf.scalar(0, 'int32')), tf.add(idx, tf.scalar(dim, 'int32')), idx);
        return tf.gather(X, wrapped, axis);
      }),
    ];
  },
  ScatterND: (x, k) => {
    const { reduction } = ScatterND.attrsOf(k.node, k.opset);
    const data = need(x, 0, k);
    const I = need(x, 1, k);
    const upd = need(x, 2, k);
    return [
      tf.tidy(() => {
        // Negative indices count from the end of their dimension (ONNX); tf.scatterND
        // reads them as addresses out of bounds.
        const raw = tf.cast(I, 'int32');
        const dims = tf.tensor1d(data.shape.slice(0, I.shape[I.rank - 1] ?? 0), 'int32');
        const idx = tf.where(tf.less(raw, tf.scalar(0, 'int32')), tf.add(raw, dims), raw);
        // tf.scatterND sums duplicate indices, which is exactly reduction 'add'.
        const scattered = tf.scatterND(idx, upd, data.shape);
        switch (reduction) {
          case 'add':
            return tf.add(data, scattered);
          case 'none': {
            const hit = tf.greater(tf.scatterND(idx, tf.onesLike(upd), data.shape), tf.scalar(0, upd.dtype));
            return tf.where(hit, scattered, data);
          }
          case 'mul':
            return scatterOnHost(data, idx, upd, (a, b) => a * b);
          case 'max':
            return scatterOnHost(data, idx, upd, Math.max);
          case 'min':
            return scatterOnHost(data, idx, upd, Math.min);
        }
      }),
    ];
  },
};
