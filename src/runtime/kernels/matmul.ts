/** tfjs lowering of contractions. Einsum becomes transposes, reshapes and batched matmuls (wasm has no Einsum kernel). */
import { numel } from '../../ir/host-tensor.js';
import { Einsum, Gemm } from '../../ops/matmul.js';
import { tf } from '../backend.js';
import { type Kernel, need, outShape } from './kernel.js';

function matmul(a: tf.Tensor, b: tf.Tensor, out: number[]): tf.Tensor {
  return tf.tidy(() => {
    const a2 = a.rank === 1 ? tf.reshape(a, [1, a.shape[0] ?? 1]) : a;
    const b2 = b.rank === 1 ? tf.reshape(b, [b.shape[0] ?? 1, 1]) : b;
    // Broadcast batch dimensions explicitly: then a plain batched matmul suffices.
    const batch = out.slice(0, Math.max(a2.rank, b2.rank) - 2);
    const aFull = a2.rank - 2 < batch.length || !batch.every((d, i) => a2.shape[i] === d) ? tf.broadcastTo(a2, [...batch, ...a2.shape.slice(-2)]) : a2;
    const bFull = b2.rank - 2 < batch.length || !batch.every((d, i) => b2.shape[i] === d) ? tf.broadcastTo(b2, [...batch, ...b2.shape.slice(-2)]) : b2;
    const [m, k] = aFull.shape.slice(-2) as [number, number];
    const n = bFull.shape[bFull.rank - 1] ?? 1;
    const bs = numel(batch);
    const r = tf.matMul(tf.reshape(aFull, [bs, m, k]), tf.reshape(bFull, [bs, k, n]));
    return tf.reshape(r, out);
  });
}

/** Contracts two operands by subscripts into `out` letters (all others summed). */
function contract(a: tf.Tensor, sa: string, b: tf.Tensor, sb: string, out: string): tf.Tensor {
  return tf.tidy(() => {
    const size = new Map<string, number>();
    [...sa].forEach((c, i) => size.set(c, Math.max(size.get(c) ?? 1, a.shape[i] ?? 1)));
    [...sb].forEach((c, i) => size.set(c, Math.max(size.get(c) ?? 1, b.shape[i] ?? 1)));
    const batch = [...out].filter((c) => sa.includes(c) && sb.includes(c));
    const aFree = [...out].filter((c) => sa.includes(c) && !sb.includes(c));
    const bFree = [...out].filter((c) => sb.includes(c) && !sa.includes(c));
    const contracted = [...sa].filter((c) => sb.includes(c) && !out.includes(c));
    const arrange = (t: tf.Tensor, s: string, order: string[]): tf.Tensor => {
      const perm = order.map((c) => s.indexOf(c));
      const tt = perm.every((p, i) => p === i) ? t : tf.transpose(t, perm);
      return tf.broadcastTo(tt, order.map((c) => size.get(c) ?? 1));
    };
    const dims = (ls: string[]): number => numel(ls.map((c) => size.get(c) ?? 1));
    const A = tf.reshape(arrange(a, sa, [...batch, ...aFree, ...contracted]), [dims(batch), dims(aFree), dims(contracted)]);
    const B = tf.reshape(arrange(b, sb, [...batch, ...contracted, ...bFree]), [dims(batch), dims(contracted), dims(bFree)]);
    const got = [...batch, ...aFree, ...bFree];
    const r = tf.reshape(tf.matMul(A, B), got.map((c) => size.get(c) ?? 1));
    const perm = [...out].map((c) => got.indexOf(c));
    return perm.every((p, i) => p === i) ? r : tf.transpose(r, perm);
  });
}

/** Sums away letters of one operand that nothing else needs; returns the reduced subscript. */
function reduceUnused(t: tf.Tensor, s: string, keep: string): [tf.Tensor, string] {
  if (new Set(s).size !== s.length) throw new Error(`einsum: repeated letter in '${s}' (diagonals) is not supported`);
  const axes = [...s].map((c, i) => (keep.includes(c) ? -1 : i)).filter((i) => i >= 0);
  if (axes.length === 0) return [t, s];
  return [tf.sum(t, axes), [...s].filter((c) => keep.includes(c)).join('')];
}

export const matmulKernels: Readonly<Record<string, Kernel>> = {
  MatMul: (x, k) => [matmul(need(x, 0, k), need(x, 1, k), outShape(k))],
  Gemm: (x, k) => {
    const g = Gemm.attrsOf(k.node, k.opset);
    return [
      tf.tidy(() => {
        let y = tf.matMul(need(x, 0, k), need(x, 1, k), g.transA, g.transB);
        if (g.alpha !== 1) y = tf.mul(y, g.alpha);
        const c = x[2];
        if (c && g.beta !== 0) y = tf.add(y, g.beta === 1 ? c : tf.mul(c, g.beta));
        return y;
      }),
    ];
  },
  Einsum: (x, k) => {
    const e = Einsum.attrsOf(k.node, k.opset);
    return [
      tf.tidy(() => {
        const subs = [...e.inputs];
        const ts = x.map((_, i) => need(x, i, k));
        // Left fold: keep the letters that later operands or the output still need.
        let acc = ts[0] as tf.Tensor;
        let sacc = subs[0] ?? '';
        const later = (from: number): string => subs.slice(from).join('') + e.output;
        [acc, sacc] = reduceUnused(acc, sacc, later(1));
        for (let i = 1; i < ts.length; i++) {
          const [t, s] = reduceUnused(ts[i] as tf.Tensor, subs[i] ?? '', sacc + later(i + 1));
          const keep = [...new Set([...sacc, ...s])].filter((c) => later(i + 1).includes(c)).join('');
          acc = contract(acc, sacc, t, s, keep);
          sacc = keep;
        }
        const perm = [...e.output].map((c) => sacc.indexOf(c));
        return perm.every((p, i) => p === i) ? tf.clone(acc) : tf.transpose(acc, perm);
      }),
    ];
  },
};
