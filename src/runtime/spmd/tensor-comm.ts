/**
 * Collectives on tfjs tensors along an axis, over the collective library's flat
 * buffers: the axis is moved to the front (so chunks are contiguous), the buffer is
 * exchanged, and the result is moved back. Implements step-api.ts's TensorComm, the
 * interface printed device programs call.
 */
import type { Communicator } from '../collectives/communicator.js';
import type { TensorComm } from '../../emit/step-api.js';
import { tf } from '../backend.js';

type Flat = Float32Array | Int32Array;

function flat(t: tf.Tensor): Flat {
  const d = t.dataSync();
  if (d instanceof Float32Array) return d.slice();
  if (d instanceof Int32Array) return d.slice();
  return Int32Array.from(d as ArrayLike<number>);
}

const front = (rank: number, axis: number): number[] => [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
const inverse = (perm: readonly number[]): number[] => {
  const inv = perm.map(() => 0);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
};
const dtypeOf = (t: tf.Tensor): 'float32' | 'int32' => (t.dtype === 'float32' ? 'float32' : 'int32');

function moved(t: tf.Tensor, axis: number): { x: tf.Tensor; perm: number[] } {
  const perm = front(t.rank, axis);
  return { x: axis === 0 ? t : tf.transpose(t, perm), perm };
}

export function tensorComm(comm: Communicator): TensorComm<tf.Tensor> {
  return {
    async allReduce(t, group, label) {
      const buf = await comm.allReduce(flat(t), group, label);
      return tf.tensor(buf, t.shape, dtypeOf(t));
    },
    async allGather(t, group, axis, label) {
      const { x, perm } = moved(t, axis);
      const buf = await comm.allGather(flat(x), group, label);
      if (x !== t) x.dispose();
      const shape = [...x.shape];
      shape[0] = (shape[0] ?? 0) * group.length;
      const y = tf.tensor(buf, shape, dtypeOf(t));
      if (axis === 0) return y;
      const out = tf.transpose(y, inverse(perm));
      y.dispose();
      return out;
    },
    async reduceScatter(t, group, axis, label) {
      const { x, perm } = moved(t, axis);
      const buf = await comm.reduceScatter(flat(x), group, label);
      if (x !== t) x.dispose();
      const shape = [...x.shape];
      shape[0] = (shape[0] ?? 0) / group.length;
      const y = tf.tensor(buf, shape, dtypeOf(t));
      if (axis === 0) return y;
      const out = tf.transpose(y, inverse(perm));
      y.dispose();
      return out;
    },
    async allToAll(t, group, splitAxis, concatAxis, label) {
      const { x, perm } = moved(t, splitAxis);
      const buf = await comm.allToAll(flat(x), group, label);
      if (x !== t) x.dispose();
      const n = group.length;
      const piece = [(x.shape[0] ?? 0) / n, ...x.shape.slice(1)];
      return tf.tidy(() => {
        const all = tf.tensor(buf, [n, ...piece], dtypeOf(t));
        const parts = tf.unstack(all, 0).map((p) => (splitAxis === 0 ? p : tf.transpose(p, inverse(perm))));
        return tf.concat(parts, concatAxis);
      });
    },
    async broadcast(t, root, group, label) {
      const buf = await comm.broadcast(flat(t), root, group, label);
      return tf.tensor(buf, t.shape, dtypeOf(t));
    },
    async send(t, peer, tag, label) {
      await comm.send(flat(t), peer, tag, label);
    },
    async recv(peer, tag, shape, dtype, label) {
      const n = shape.reduce((p, d) => p * d, 1);
      const buf = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
      await comm.recvInto(buf, peer, tag, label);
      return tf.tensor(buf, [...shape], dtype === 'float32' ? 'float32' : 'int32');
    },
  };
}
