/** tfjs lowering of Gather: negative indices wrap, as ONNX allows. */
import { Gather } from '../../ops/gather.js';
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
};
