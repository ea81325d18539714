/** tfjs lowering of normalisations, written out in primitive ops (channels-first layout). */
import { BatchNormalization, LayerNormalization } from '../../ops/norm.js';
import { tf } from '../backend.js';
import { type Kernel, need } from './kernel.js';

export const normKernels: Readonly<Record<string, Kernel>> = {
  BatchNormalization: (x, k) => {
    const { epsilon } = BatchNormalization.attrsOf(k.node, k.opset);
    const X = need(x, 0, k);
    return [
      tf.tidy(() => {
        // Per-channel parameters broadcast over N and the spatial axes.
        const shape = [X.shape[1] ?? 1, ...X.shape.slice(2).map(() => 1)];
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => tf.reshape(need(x, i, k), shape)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.add(tf.mul(tf.div(tf.sub(X, mean), tf.sqrt(tf.add(variance, epsilon))), scale), bias);
      }),
    ];
  },
  LayerNormalization: (x, k) => {
    const a = LayerNormalization.attrsOf(k.node, k.opset);
    const X = need(x, 0, k);
    const axis = a.axis < 0 ? a.axis + X.rank : a.axis;
    const axes = Array.from({ length: X.rank - axis }, (_, i) => axis + i);
    return tf.tidy(() => {
      const mean = tf.mean(X, axes, true);
      const centered = tf.sub(X, mean);
      const variance = tf.mean(tf.square(centered), axes, true);
      const inv = tf.rsqrt(tf.add(variance, a.epsilon));
      let y = tf.mul(tf.mul(centered, inv), need(x, 1, k));
      const B = x[2];
      if (B) y = tf.add(y, B);
      const outs = [y];
      if (k.node.outputs.length > 1) outs.push(mean);
      if (k.node.outputs.length > 2) outs.push(inv);
      return outs;
    });
  },
};
