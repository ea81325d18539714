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

/**
 * The buffer of a tensor, `width` words per element: an int64 (or float64) tensor is
 * held as int32 (float32) by tfjs, but plans count 8 bytes per element, so it travels
 * as its value and a zero word, and the counts are what a 64-bit runtime would move.
 */
function flat(t: tf.Tensor, width = 1): Flat {
  const d = t.dataSync();
  const src: Flat = d instanceof Float32Array ? d : d instanceof Int32Array ? d : Int32Array.from(d as ArrayLike<number>);
  if (width === 1) return src.slice();
  const out = src instanceof Float32Array ? new Float32Array(src.length * width) : new Int32Array(src.length * width);
  for (let i = 0; i < src.length; i++) out[i * width] = src[i] ?? 0;
  return out;
}

/** The values of a buffer `flat` widened (the first word of each element). */
function narrow(buf: Flat, width: number): Flat {
  if (width === 1) return buf;
  const out = buf instanceof Float32Array ? new Float32Array(buf.length / width) : new Int32Array(buf.length / width);
  for (let i = 0; i < out.length; i++) out[i] = buf[i * width] ?? 0;
  return out;
}

/** TensorComm with the element width (words per element) as a last, optional argument. */
export interface WideTensorComm extends TensorComm<tf.Tensor> {
  allReduce(t: tf.Tensor, group: readonly number[], label: string, width?: number): Promise<tf.Tensor>;
  allGather(t: tf.Tensor, group: readonly number[], axis: number, label: string, width?: number): Promise<tf.Tensor>;
  reduceScatter(t: tf.Tensor, group: readonly number[], axis: number, label: string, width?: number): Promise<tf.Tensor>;
  allToAll(t: tf.Tensor, group: readonly number[], splitAxis: number, concatAxis: number, label: string, width?: number): Promise<tf.Tensor>;
  broadcast(t: tf.Tensor, root: number, group: readonly number[], label: string, width?: number): Promise<tf.Tensor>;
  send(t: tf.Tensor, peer: number, tag: number, label: string, width?: number): Promise<void>;
  recv(peer: number, tag: number, shape: readonly number[], dtype: string, label: string, width?: number): Promise<tf.Tensor>;
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

export function tensorComm(comm: Communicator): WideTensorComm {
  return {
    async allReduce(t, group, label, width = 1) {
      const buf = narrow(await comm.allReduce(flat(t, width), group, label), width);
      return tf.tensor(buf, t.shape, dtypeOf(t));
    },
    async allGather(t, group, axis, label, width = 1) {
      const { x, perm } = moved(t, axis);
      const buf = narrow(await comm.allGather(flat(x, width), group, label), width);
      if (x !== t) x.dispose();
      const shape = [...x.shape];
      shape[0] = (shape[0] ?? 0) * group.length;
      const y = tf.tensor(buf, shape, dtypeOf(t));
      if (axis === 0) return y;
      const out = tf.transpose(y, inverse(perm));
      y.dispose();
      return out;
    },
    async reduceScatter(t, group, axis, label, width = 1) {
      const { x, perm } = moved(t, axis);
      const buf = narrow(await comm.reduceScatter(flat(x, width), group, label), width);
      if (x !== t) x.dispose();
      const shape = [...x.shape];
      shape[0] = (shape[0] ?? 0) / group.length;
      const y = tf.tensor(buf, shape, dtypeOf(t));
      if (axis === 0) return y;
      const out = tf.transpose(y, inverse(perm));
      y.dispose();
      return out;
    },
    async allToAll(t, group, splitAxis, concatAxis, label, width = 1) {
      const { x, perm } = moved(t, splitAxis);
      const buf = narrow(await comm.allToAll(flat(x, width), group, label), width);
      if (x !== t) x.dispose();
      const n = group.length;
      const piece = [(x.shape[0] ?? 0) / n, ...x.shape.slice(1)];
      return tf.tidy(() => {
        const all = tf.tensor(buf, [n, ...piece], dtypeOf(t));
        const parts = tf.unstack(all, 0).map((p) => (splitAxis === 0 ? p : tf.transpose(p, inverse(perm))));
        return tf.concat(parts, concatAxis);
      });
    },
    async broadcast(t, root, group, label, width = 1) {
      const buf = narrow(await comm.broadcast(flat(t, width), root, group, label), width);
      return tf.tensor(buf, t.shape, dtypeOf(t));
    },
    async send(t, peer, tag, label, width = 1) {
      await comm.send(flat(t, width), peer, tag, label);
    },
    async recv(peer, tag, shape, dtype, label, width = 1) {
      const n = shape.reduce((p, d) => p * d, 1) * width;
      const buf = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
      await comm.recvInto(buf, peer, tag, label);
      return tf.tensor(narrow(buf, width), [...shape], dtype === 'float32' ? 'float32' : 'int32');
    },
  };
}
