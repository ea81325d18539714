/**
 * tfjs lowering of convolutions and pooling. ONNX is channels-first; tfjs kernels are
 * channels-last, so inputs are transposed in and out. Padding is applied explicitly
 * (then 'valid' windows), which covers every auto_pad and ceil_mode case the same way.
 */
import { AveragePool, Conv, ConvTranspose, convTransposeSpatial, MaxPool, resolveWindow, type Window } from '../../ops/conv.js';
import type { NodeContext } from '../../ops/op.js';
import { tf } from '../backend.js';
import { type Kernel, type KernelContext, need } from './kernel.js';

function nodeCtx(k: KernelContext): NodeContext {
  return { node: k.node, opset: k.opset, inputs: k.inputs, constant: (i) => k.constant(i) };
}

function unsupportedRank(k: KernelContext, rank: number): never {
  throw new Error(`node '${k.node.name}' (${k.node.op}): ${rank - 2}-D spatial inputs are not supported by the tfjs lowering (1-D and 2-D are)`);
}

/** NC[H]W -> NHWC, treating 1-D as H=1. */
function toNHWC(x: tf.Tensor): tf.Tensor4D {
  const x4 = x.rank === 3 ? tf.expandDims(x, 2) : x;
  return tf.transpose(x4, [0, 2, 3, 1]) as tf.Tensor4D;
}

function fromNHWC(y: tf.Tensor, rank: number): tf.Tensor {
  const t = tf.transpose(y, [0, 3, 1, 2]);
  return rank === 3 ? tf.squeeze(t, [2]) : t;
}

/** Per-axis pads/strides/dilations lifted to two spatial axes (1-D gets an H of 1). */
function as2d(win: Window, rank: number): { pads: [[number, number], [number, number]]; strides: [number, number]; dil: [number, number]; kernel: [number, number] } {
  const n = win.kernel.length;
  const pick = (arr: readonly number[], i: number, d: number): number => arr[i] ?? d;
  if (rank === 3) {
    return {
      pads: [[0, 0], [pick(win.pads, 0, 0), pick(win.pads, n, 0)]],
      strides: [1, pick(win.strides, 0, 1)],
      dil: [1, pick(win.dilations, 0, 1)],
      kernel: [1, pick(win.kernel, 0, 1)],
    };
  }
  return {
    pads: [[pick(win.pads, 0, 0), pick(win.pads, n, 0)], [pick(win.pads, 1, 0), pick(win.pads, n + 1, 0)]],
    strides: [pick(win.strides, 0, 1), pick(win.strides, 1, 1)],
    dil: [pick(win.dilations, 0, 1), pick(win.dilations, 1, 1)],
    kernel: [pick(win.kernel, 0, 1), pick(win.kernel, 1, 1)],
  };
}

/** ONNX weight [O, C/g, (kh,) kw] -> tfjs filter [kh, kw, C/g, O]. */
function filterHWIO(w: tf.Tensor): tf.Tensor4D {
  const w4 = w.rank === 3 ? tf.expandDims(w, 2) : w;
  return tf.transpose(w4, [2, 3, 1, 0]) as tf.Tensor4D;
}

function conv(x: readonly (tf.Tensor | undefined)[], k: KernelContext): tf.Tensor {
  const a = Conv.attrsOf(k.node, k.opset);
  const X = need(x, 0, k);
  const W = need(x, 1, k);
  if (X.rank !== 3 && X.rank !== 4) unsupportedRank(k, X.rank);
  const kernel = a.kernelShape ?? W.shape.slice(2);
  const win = resolveWindow(nodeCtx(k), a, X.shape.slice(2), kernel);
  const p = as2d(win, X.rank);
  return tf.tidy(() => {
    const xp = tf.pad(toNHWC(X), [[0, 0], p.pads[0], p.pads[1], [0, 0]]);
    const groups = a.group;
    const xs = groups === 1 ? [xp] : tf.split(xp, groups, 3);
    const ws = groups === 1 ? [W] : tf.split(W, groups, 0);
    const ys = xs.map((xg, g) => tf.conv2d(xg as tf.Tensor4D, filterHWIO(ws[g] as tf.Tensor), p.strides, 'valid', 'NHWC', p.dil));
    let y: tf.Tensor = ys.length === 1 ? (ys[0] as tf.Tensor) : tf.concat(ys, 3);
    const B = x[2];
    if (B) y = tf.add(y, B);
    return fromNHWC(y, X.rank);
  });
}

/** Inserts (d-1) zeros between kernel taps along both spatial axes: a dilated kernel. */
function dilateFilter(f: tf.Tensor4D, dil: [number, number]): tf.Tensor4D {
  if (dil[0] === 1 && dil[1] === 1) return f;
  const [kh, kw, i, o] = f.shape;
  const H = (kh - 1) * dil[0] + 1;
  const W = (kw - 1) * dil[1] + 1;
  const buf = tf.buffer([H, W, i, o], 'float32');
  const src = f.arraySync();
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) for (let c = 0; c < i; c++) for (let d = 0; d < o; d++) buf.set(src[a]?.[b]?.[c]?.[d] ?? 0, a * dil[0], b * dil[1], c, d);
  return buf.toTensor() as tf.Tensor4D;
}

function convTranspose(x: readonly (tf.Tensor | undefined)[], k: KernelContext): tf.Tensor {
  const a = ConvTranspose.attrsOf(k.node, k.opset);
  const X = need(x, 0, k);
  const W = need(x, 1, k);
  if (X.rank !== 3 && X.rank !== 4) unsupportedRank(k, X.rank);
  const win = convTransposeSpatial(nodeCtx(k), a, X.shape.slice(2), W.shape.slice(2));
  const p = as2d(win, X.rank);
  const outSpatial = X.rank === 3 ? [1, win.out[0] ?? 1] : [win.out[0] ?? 1, win.out[1] ?? 1];
  return tf.tidy(() => {
    const xh = toNHWC(X);
    const groups = a.group;
    const xs = groups === 1 ? [xh] : tf.split(xh, groups, 3);
    const ws = groups === 1 ? [W] : tf.split(W, groups, 0);
    const ys = xs.map((xg, g) => {
      // ONNX weight [C/g, O/g, kh, kw] -> tfjs transposed-conv filter [kh, kw, O/g, C/g].
      const w = ws[g] as tf.Tensor;
      const f = dilateFilter(tf.transpose(w.rank === 3 ? tf.expandDims(w, 2) : w, [2, 3, 1, 0]) as tf.Tensor4D, p.dil);
      const [n, h, wd] = xg.shape as [number, number, number, number];
      const full: [number, number, number, number] = [n, (h - 1) * p.strides[0] + (f.shape[0] ?? 1), (wd - 1) * p.strides[1] + (f.shape[1] ?? 1), f.shape[2] ?? 1];
      return tf.conv2dTranspose(xg as tf.Tensor4D, f, full, p.strides, 'valid');
    });
    let y: tf.Tensor = ys.length === 1 ? (ys[0] as tf.Tensor) : tf.concat(ys, 3);
    // Crop the begin pads; grow with zeros where output_padding reaches past the full result.
    const [, fh, fw] = y.shape as [number, number, number, number];
    const needH = p.pads[0][0] + (outSpatial[0] ?? 1);
    const needW = p.pads[1][0] + (outSpatial[1] ?? 1);
    if (needH > fh || needW > fw) y = tf.pad(y, [[0, 0], [0, Math.max(0, needH - fh)], [0, Math.max(0, needW - fw)], [0, 0]]);
    y = tf.slice(y, [0, p.pads[0][0], p.pads[1][0], 0], [-1, outSpatial[0] ?? 1, outSpatial[1] ?? 1, -1]);
    const B = x[2];
    if (B) y = tf.add(y, B);
    return fromNHWC(y, X.rank);
  });
}

function pool(x: readonly (tf.Tensor | undefined)[], k: KernelContext, kind: 'max' | 'avg'): tf.Tensor {
  const a = (kind === 'max' ? MaxPool : AveragePool).attrsOf(k.node, k.opset);
  const X = need(x, 0, k);
  if (X.rank !== 3 && X.rank !== 4) unsupportedRank(k, X.rank);
  const win = resolveWindow(nodeCtx(k), a, X.shape.slice(2), a.kernelShape ?? []);
  const p = as2d(win, X.rank);
  return tf.tidy(() => {
    const xh = toNHWC(X);
    const [, H, W] = xh.shape as [number, number, number, number];
    const outs = X.rank === 3 ? [1, win.out[0] ?? 1] : [win.out[0] ?? 1, win.out[1] ?? 1];
    // ceil_mode: windows may run past the end padding; extend with neutral values.
    const extra = [0, 1].map((i) => {
      const ek = ((p.kernel[i] ?? 1) - 1) * (p.dil[i] ?? 1) + 1;
      const len = [H, W][i] ?? 0;
      return Math.max(0, ((outs[i] ?? 1) - 1) * (p.strides[i] ?? 1) + ek - (len + (p.pads[i]?.[0] ?? 0) + (p.pads[i]?.[1] ?? 0)));
    }) as [number, number];
    const padSpec: [number, number][] = [[0, 0], [p.pads[0][0], p.pads[0][1] + extra[0]], [p.pads[1][0], p.pads[1][1] + extra[1]], [0, 0]];
    const dil = p.dil[0] === 1 && p.dil[1] === 1 ? undefined : p.dil;
    let y: tf.Tensor;
    if (kind === 'max') {
      const xp = tf.pad(xh, padSpec, -3.4e38);
      y = tf.pool(xp, p.kernel, 'max', 'valid', dil, p.strides);
    } else {
      const xp = tf.pad(xh, padSpec, 0);
      // Divide by how many taps count: real inputs, plus explicit pads if count_include_pad.
      const ones = tf.onesLike(xh);
      const mask = a.countIncludePad
        ? tf.pad(tf.pad(ones, [[0, 0], p.pads[0], p.pads[1], [0, 0]], 1), [[0, 0], [0, extra[0]], [0, extra[1]], [0, 0]], 0)
        : tf.pad(ones, padSpec, 0);
      y = tf.div(tf.pool(xp, p.kernel, 'avg', 'valid', dil, p.strides), tf.pool(mask, p.kernel, 'avg', 'valid', dil, p.strides));
    }
    return fromNHWC(y, X.rank);
  });
}

export const convKernels: Readonly<Record<string, Kernel>> = {
  Conv: (x, k) => [conv(x, k)],
  ConvTranspose: (x, k) => [convTranspose(x, k)],
  MaxPool: (x, k) => [pool(x, k, 'max')],
  AveragePool: (x, k) => [pool(x, k, 'avg')],
  GlobalAveragePool: (x, k) => {
    const X = need(x, 0, k);
    return [tf.mean(X, Array.from({ length: X.rank - 2 }, (_, i) => i + 2), true)];
  },
};
