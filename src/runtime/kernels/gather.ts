/** tfjs lowering of Gather: negative indices wrap, as ONNX allows. */
import { Gather, ScatterND } from '../../ops/gather.js';
import { tf } from '../backend.js';
import { type Kernel, need } from './kernel.js';

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
    const idx = tf.cast(need(x, 1, k), 'int32');
    const upd = need(x, 2, k);
    return [
      tf.tidy(() => {
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
          case 'max':
          case 'min':
            throw new Error(`ScatterND reduction '${reduction}' has no tfjs lowering`);
        }
      }),
    ];
  },
};
