/**
 * tfjs lowering of shape and layout ops. Shapes come from inference (the output
 * types), so Reshape, Squeeze, Unsqueeze and Flatten are one reshape each.
 */
import { numel } from '../../ir/host-tensor.js';
import { Concat, ConstantOfShape, ShapeOp, sliceParams, Split, Transpose } from '../../ops/shape.js';
import { tfDtype } from '../tensors.js';
import { tf } from '../backend.js';
import { type Kernel, need, outShape } from './kernel.js';

const reshapeToOutput: Kernel = (x, k) => [tf.reshape(need(x, 0, k), outShape(k))];



function hostInts(x: tf.Tensor | undefined): number[] {
  return x ? Array.from(x.dataSync()) : [];
}

export const shapeKernels: Readonly<Record<string, Kernel>> = {
  Reshape: reshapeToOutput,
  Flatten: reshapeToOutput,
  Squeeze: reshapeToOutput,
  Unsqueeze: reshapeToOutput,
  Transpose: (x, k) => {
    const X = need(x, 0, k);
    const perm = Transpose.attrsOf(k.node, k.opset).perm ?? X.shape.map((_, i) => X.rank - 1 - i);
    return [tf.transpose(X, [...perm])];
  },
  Expand: (x, k) => {
    const X = need(x, 0, k);
    const out = outShape(k);
    const lifted = X.rank < out.length ? tf.reshape(X, [...new Array<number>(out.length - X.rank).fill(1), ...X.shape]) : X;
    return [tf.broadcastTo(lifted, out)];
  },
  Concat: (x, k) => {
    const { axis } = Concat.attrsOf(k.node, k.opset);
    const xs = x.map((_, i) => need(x, i, k)).filter((t) => numel(t.shape) > 0 || x.length === 1);
    if (xs.length === 0) return [tf.zeros(outShape(k), need(x, 0, k).dtype)];
    return [xs.length === 1 ? tf.clone(xs[0] as tf.Tensor) : tf.concat(xs, axis < 0 ? axis + (xs[0]?.rank ?? 0) : axis)];
  },
  Split: (x, k) => {
    const X = need(x, 0, k);
    const a = Split.attrsOf(k.node, k.opset);
    const axis = a.axis < 0 ? a.axis + X.rank : a.axis;
    const sizes = k.outputs.map((t) => t.shape[axis] ?? 0);
    return tf.split(X, sizes, axis);
  },
  Slice: (x, k) => {
    const X = need(x, 0, k);
    const p = sliceParams(k, X.shape);
    const size = p.shape.map((d) => (typeof d === 'number' ? d : 0));
    if (p.steps.every((s) => s === 1)) return [tf.slice(X, p.starts, size)];
    // Strided or reversed: gather the chosen indices axis by axis.
    return [
      tf.tidy(() => {
        let y = X;
        p.steps.forEach((step, ax) => {
          const n = size[ax] ?? 0;
          const start = p.starts[ax] ?? 0;
          if (step === 1 && start === 0 && n === X.shape[ax]) return;
          const idx = tf.tensor1d(Array.from({ length: n }, (_, i) => start + i * step), 'int32');
          y = tf.gather(y, idx, ax);
        });
        return y;
      }),
    ];
  },
  Shape: (x, k) => {
    const X = need(x, 0, k);
    const a = ShapeOp.attrsOf(k.node, k.opset);
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + X.rank : v, 0), X.rank);
    return [tf.tensor1d(X.shape.slice(clamp(a.start), clamp(a.end ?? X.rank)), 'int32')];
  },
  Range: (x, k) => {
    const s = hostInts(x[0])[0] ?? 0;
    const d = hostInts(x[2])[0] ?? 1;
    const n = outShape(k)[0] ?? 0;
    return [tf.tensor1d(Array.from({ length: n }, (_, i) => s + i * d), tfDtype(k.outputs[0]?.dtype ?? 'float32'))];
  },
  ConstantOfShape: (_x, k) => {
    const { value } = ConstantOfShape.attrsOf(k.node, k.opset);
    return [tf.fill(outShape(k), value.data[0] ?? 0, tfDtype(value.dtype))];
  },
  Tile: (x, k) => [tf.tile(need(x, 0, k), hostInts(x[1]))],
};
