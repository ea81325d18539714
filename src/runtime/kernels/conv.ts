/**
 * tfjs lowering of convolutions and pooling. ONNX is channels-first; tfjs kernels are
 * channels-last, so inputs are transposed in and out. Padding is applied explicitly
 * (then 'valid' windows), which covers every auto_pad and ceil_mode case the same way.
 */
import { AutoparError } from '../../errors.js';
import { AveragePool, Conv, type ConvAttrs, ConvTranspose, type ConvTransposeAttrs, convTransposeSpatial, MaxPool, type PoolAttrs, resolveWindow, type Window } from '../../ops/conv.js';
import { tf } from '../backend.js';
import { type Kernel, type KernelContext, need } from './kernel.js';



function unsupportedRank(k: KernelContext, rank: number): never {
  throw new AutoparError('E_UNSUPPORTED_OP', `node '${k.node.name}' (${k.node.op}): ${rank - 2}-D spatial inputs are not supported by the tfjs lowering (1-D, 2-D and 3-D are)`);
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
  if (X.rank === 5) return conv3d(X, W, x[2], a, k);
  if (X.rank !== 3 && X.rank !== 4) unsupportedRank(k, X.rank);
  const kernel = a.kernelShape ?? W.shape.slice(2);
  const win = resolveWindow(k, a, X.shape.slice(2), kernel);
  const p = as2d(win, X.rank);
  return tf.tidy(() => {
    const xp = tf.pad(toNHWC(X), [[0, 0], p.pads[0], p.pads[1], [0, 0]]);
    const groups = a.group;
    const xs = groups === 1 ? [xp] : tf.split(xp, groups, 3);
    const ws = groups === 1 ? [W] : tf.split(W, groups, 0);
    // tfjs takes strides or dilations, not both: then dilate the filter itself.
    const both = p.strides.some((v) => v !== 1) && p.dil.some((v) => v !== 1);
    const ys = xs.map((xg, g) => {
      const f = filterHWIO(ws[g] as tf.Tensor);
      return both ? tf.conv2d(xg as tf.Tensor4D, dilateFilter(f, p.dil), p.strides, 'valid') : tf.conv2d(xg as tf.Tensor4D, f, p.strides, 'valid', 'NHWC', p.dil);
    });
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
  if (X.rank === 5) return convTranspose3d(X, W, x[2], a, k);
  if (X.rank !== 3 && X.rank !== 4) unsupportedRank(k, X.rank);
  const win = convTransposeSpatial(k, a, X.shape.slice(2), W.shape.slice(2));
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
  const X0 = need(x, 0, k);
  // tfjs pools float32 only; integer inputs (uint8 images) pool exactly as floats.
  if (X0.dtype !== 'float32') return tf.tidy(() => tf.cast(pool([tf.cast(X0, 'float32')], k, kind), X0.dtype));
  const X = X0;
  if (X.rank === 5) return pool3d(X, a, k, kind);
  if (X.rank !== 3 && X.rank !== 4) unsupportedRank(k, X.rank);
  const win = resolveWindow(k, a, X.shape.slice(2), a.kernelShape ?? []);
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

/**
 * MaxPool with its Indices output (1-D and 2-D: inference checked that). The wasm
 * backend's maxPoolWithArgmax gives wrong maxima for some shapes, so the indices come
 * from comparing each kernel tap with the pooled maximum, taps in row-major order: the
 * first tap holding the maximum wins, as in ONNX's reference and onnxruntime.
 */
function maxPoolWithIndices(x: readonly (tf.Tensor | undefined)[], k: KernelContext): tf.Tensor[] {
  const a = MaxPool.attrsOf(k.node, k.opset);
  const X0 = need(x, 0, k);
  const win = resolveWindow(k, a, X0.shape.slice(2), a.kernelShape ?? []);
  const p = as2d(win, X0.rank);
  const y = pool(x, k, 'max');
  const indices = tf.tidy(() => {
    const xh = toNHWC(X0.dtype === 'float32' ? X0 : tf.cast(X0, 'float32'));
    const yh = toNHWC(y.dtype === 'float32' ? y : tf.cast(y, 'float32'));
    const [n, H, W, C] = xh.shape as [number, number, number, number];
    const [, OH, OW] = yh.shape as [number, number, number, number];
    const [s0, s1] = p.strides;
    const [d0, d1] = p.dil;
    const [pt, pl] = [p.pads[0][0], p.pads[1][0]];
    // Pad so that every tap of every window reads inside; pads never equal a real maximum.
    const needH = (OH - 1) * s0 + (p.kernel[0] - 1) * d0 + 1;
    const needW = (OW - 1) * s1 + (p.kernel[1] - 1) * d1 + 1;
    const xp = tf.pad(xh, [[0, 0], [pt, Math.max(0, needH - H - pt)], [pl, Math.max(0, needW - W - pl)], [0, 0]], -3.4e38);
    const full = [n, OH, OW, C];
    // Where window (oh, ow) starts in the unpadded input, and the (image, channel) plane offset.
    const rows = tf.tensor(Array.from({ length: OH }, (_, o) => o * s0 - pt), [1, OH, 1, 1], 'int32');
    const cols = tf.tensor(Array.from({ length: OW }, (_, o) => o * s1 - pl), [1, 1, OW, 1], 'int32');
    const plane = tf.tensor(Array.from({ length: n * C }, (_, i) => i * H * W), [n, 1, 1, C], 'int32');
    let found: tf.Tensor = tf.zeros(full, 'bool');
    let best: tf.Tensor = tf.zeros(full, 'int32');
    for (let i = 0; i < p.kernel[0]; i++) {
      for (let j = 0; j < p.kernel[1]; j++) {
        const tap = tf.stridedSlice(xp, [0, i * d0, j * d1, 0], [n, i * d0 + (OH - 1) * s0 + 1, j * d1 + (OW - 1) * s1 + 1, C], [1, s0, s1, 1]);
        const hit = tf.logicalAnd(tf.equal(tap, yh), tf.logicalNot(found));
        const row = tf.add(rows, tf.scalar(i * d0, 'int32'));
        const col = tf.add(cols, tf.scalar(j * d1, 'int32'));
        // Rows first (storage_order 0) or columns first (1) within an (image, channel) plane.
        const inPlane = a.storageOrder === 0 ? tf.add(tf.mul(row, tf.scalar(W, 'int32')), col) : tf.add(tf.mul(col, tf.scalar(H, 'int32')), row);
        best = tf.where(hit, tf.broadcastTo(tf.add(plane, inPlane), full), best);
        found = tf.logicalOr(found, hit);
      }
    }
    return fromNHWC(best, X0.rank);
  });
  return [y, indices];
}

// --- 3-D spatial (NCDHW): tfjs's conv3d, conv3dTranspose and 3-D pools, channels-last.

function toNDHWC(x: tf.Tensor): tf.Tensor5D {
  return tf.transpose(x, [0, 2, 3, 4, 1]) as tf.Tensor5D;
}

function fromNDHWC(y: tf.Tensor): tf.Tensor {
  return tf.transpose(y, [0, 4, 1, 2, 3]);
}

type Triple = [number, number, number];

function triple(arr: readonly number[], d: number): Triple {
  return [arr[0] ?? d, arr[1] ?? d, arr[2] ?? d];
}

/** [[begin, end] x 3] from ONNX's [b0, b1, b2, e0, e1, e2]. */
function pads3(win: Window): [[number, number], [number, number], [number, number]] {
  const p = win.pads;
  return [
    [p[0] ?? 0, p[3] ?? 0],
    [p[1] ?? 0, p[4] ?? 0],
    [p[2] ?? 0, p[5] ?? 0],
  ];
}

function conv3d(X: tf.Tensor, W: tf.Tensor, B: tf.Tensor | undefined, a: ConvAttrs, k: KernelContext): tf.Tensor {
  const win = resolveWindow(k, a, X.shape.slice(2), a.kernelShape ?? W.shape.slice(2));
  const p = pads3(win);
  return tf.tidy(() => {
    const xp = tf.pad(toNDHWC(X), [[0, 0], ...p, [0, 0]]);
    const xs = a.group === 1 ? [xp] : tf.split(xp, a.group, 4);
    const ws = a.group === 1 ? [W] : tf.split(W, a.group, 0);
    // ONNX weight [O, C/g, kd, kh, kw] -> tfjs filter [kd, kh, kw, C/g, O].
    const ys = xs.map((xg, g) =>
      // tfjs takes strides or dilations, not both: dilate the filter itself instead.
      tf.conv3d(xg as tf.Tensor5D, dilateFilter3d(tf.transpose(ws[g] as tf.Tensor, [2, 3, 4, 1, 0]) as tf.Tensor5D, triple(win.dilations, 1)), triple(win.strides, 1), 'valid'),
    );
    let y: tf.Tensor = ys.length === 1 ? (ys[0] as tf.Tensor) : tf.concat(ys, 4);
    if (B) y = tf.add(y, B);
    return fromNDHWC(y);
  });
}

/** Zeros between kernel taps along the three spatial axes of [kd, kh, kw, ., .]. */
function dilateFilter3d(f: tf.Tensor5D, dil: Triple): tf.Tensor5D {
  if (dil.every((d) => d === 1)) return f;
  const [kd, kh, kw, i, o] = f.shape;
  const buf = tf.buffer([(kd - 1) * dil[0] + 1, (kh - 1) * dil[1] + 1, (kw - 1) * dil[2] + 1, i, o], 'float32');
  const src = f.arraySync();
  for (let a = 0; a < kd; a++)
    for (let b = 0; b < kh; b++)
      for (let c = 0; c < kw; c++)
        for (let d = 0; d < i; d++) for (let e = 0; e < o; e++) buf.set(src[a]?.[b]?.[c]?.[d]?.[e] ?? 0, a * dil[0], b * dil[1], c * dil[2], d, e);
  return buf.toTensor() as tf.Tensor5D;
}

/** Inserts (s-1) zeros between elements along `axis` (the input of a strided transposed conv). */
function zeroInsert(x: tf.Tensor, axis: number, s: number): tf.Tensor {
  const n = x.shape[axis] ?? 1;
  if (s === 1 || n <= 1) return x;
  const expanded = tf.expandDims(x, axis + 1);
  const zerosShape = [...expanded.shape];
  zerosShape[axis + 1] = s - 1;
  const interleaved = tf.concat([expanded, tf.zeros(zerosShape, x.dtype)], axis + 1);
  const merged = [...x.shape];
  merged[axis] = n * s;
  const begin = x.shape.map(() => 0);
  const size = [...x.shape];
  size[axis] = (n - 1) * s + 1;
  return tf.slice(tf.reshape(interleaved, merged), begin, size);
}

/**
 * Transposed 3-D convolution as a plain conv3d (the wasm backend's conv3dTranspose gives
 * wrong results): zeros inserted between input elements by the stride, padded by the
 * dilated kernel's extent less one, convolved with the flipped kernel.
 */
function convTranspose3d(X: tf.Tensor, W: tf.Tensor, B: tf.Tensor | undefined, a: ConvTransposeAttrs, k: KernelContext): tf.Tensor {
  const win = convTransposeSpatial(k, a, X.shape.slice(2), W.shape.slice(2));
  const p = pads3(win);
  const strides = triple(win.strides, 1);
  const out = triple(win.out, 1);
  return tf.tidy(() => {
    let xh: tf.Tensor = toNDHWC(X);
    for (let i = 0; i < 3; i++) xh = zeroInsert(xh, i + 1, strides[i as 0 | 1 | 2]);
    const xs = a.group === 1 ? [xh] : tf.split(xh, a.group, 4);
    const ws = a.group === 1 ? [W] : tf.split(W, a.group, 0);
    const ys = xs.map((xg, g) => {
      // ONNX weight [C/g, O/g, kd, kh, kw] -> conv filter [kd, kh, kw, C/g, O/g], dilated, flipped.
      const f = tf.reverse(dilateFilter3d(tf.transpose(ws[g] as tf.Tensor, [2, 3, 4, 0, 1]) as tf.Tensor5D, triple(win.dilations, 1)), [0, 1, 2]);
      const xp = tf.pad(xg, [[0, 0], [f.shape[0] - 1, f.shape[0] - 1], [f.shape[1] - 1, f.shape[1] - 1], [f.shape[2] - 1, f.shape[2] - 1], [0, 0]]);
      return tf.conv3d(xp as tf.Tensor5D, f, [1, 1, 1], 'valid');
    });
    let y: tf.Tensor = ys.length === 1 ? (ys[0] as tf.Tensor) : tf.concat(ys, 4);
    // Crop the begin pads; grow with zeros where output_padding reaches past the full result.
    const grow = [0, 1, 2].map((i) => Math.max(0, p[i as 0 | 1 | 2][0] + out[i as 0 | 1 | 2] - (y.shape[i + 1] ?? 0)));
    if (grow.some((g) => g > 0)) y = tf.pad(y, [[0, 0], [0, grow[0] ?? 0], [0, grow[1] ?? 0], [0, grow[2] ?? 0], [0, 0]]);
    y = tf.slice(y, [0, p[0][0], p[1][0], p[2][0], 0], [-1, ...out, -1]);
    if (B) y = tf.add(y, B);
    return fromNDHWC(y);
  });
}

/**
 * 3-D pooling as two 2-D pools (max and mean are separable over a box window): first
 * over H and W for every depth slice, then over D. The wasm backend's maxPool3d gives
 * wrong results on larger inputs, and this also allows dilations.
 */
function pool3d(X: tf.Tensor, a: PoolAttrs, k: KernelContext, kind: 'max' | 'avg'): tf.Tensor {
  const win = resolveWindow(k, a, X.shape.slice(2), a.kernelShape ?? []);
  const p = pads3(win);
  const kernel = triple(win.kernel, 1);
  const strides = triple(win.strides, 1);
  const dil = triple(win.dilations, 1);
  return tf.tidy(() => {
    const xh = toNDHWC(X);
    // ceil_mode: windows may run past the end padding; extend with neutral values.
    const extra = [0, 1, 2].map((i) => {
      const len = xh.shape[i + 1] ?? 0;
      const [b, e] = p[i as 0 | 1 | 2];
      const ek = (kernel[i as 0 | 1 | 2] - 1) * dil[i as 0 | 1 | 2] + 1;
      return Math.max(0, ((win.out[i] ?? 1) - 1) * strides[i as 0 | 1 | 2] + ek - (len + b + e));
    });
    const padSpec: [number, number][] = [[0, 0], ...p.map(([b, e], i): [number, number] => [b, e + (extra[i] ?? 0)]), [0, 0]];
    const type = kind === 'max' ? 'max' : 'avg';
    const pool2 = (t: tf.Tensor, kk: [number, number], ss: [number, number], dd: [number, number]): tf.Tensor =>
      tf.pool(t as tf.Tensor4D, kk, type, 'valid', dd[0] === 1 && dd[1] === 1 ? undefined : dd, ss);
    const pool = (t: tf.Tensor): tf.Tensor => {
      const [n, d, h, w, c] = t.shape as [number, number, number, number, number];
      const hw = pool2(tf.reshape(t, [n * d, h, w, c]), [kernel[1], kernel[2]], [strides[1], strides[2]], [dil[1], dil[2]]);
      const [, oh, ow] = hw.shape as [number, number, number, number];
      const dd = pool2(tf.reshape(hw, [n, d, oh * ow, c]), [kernel[0], 1], [strides[0], 1], [dil[0], 1]);
      return tf.reshape(dd, [n, dd.shape[1] ?? 1, oh, ow, c]);
    };
    let y: tf.Tensor;
    if (kind === 'max') {
      y = pool(tf.pad(xh, padSpec, -3.4e38));
    } else {
      // Divide by how many taps count: real inputs, plus explicit pads if count_include_pad.
      const ones = tf.onesLike(xh);
      const mask = a.countIncludePad
        ? tf.pad(tf.pad(ones, [[0, 0], ...p, [0, 0]], 1), [[0, 0], [0, extra[0] ?? 0], [0, extra[1] ?? 0], [0, extra[2] ?? 0], [0, 0]], 0)
        : tf.pad(ones, padSpec, 0);
      y = tf.div(pool(tf.pad(xh, padSpec, 0)), pool(mask));
    }
    return fromNDHWC(y);
  });
}

export const convKernels: Readonly<Record<string, Kernel>> = {
  Conv: (x, k) => [conv(x, k)],
  ConvTranspose: (x, k) => [convTranspose(x, k)],
  MaxPool: (x, k) => (k.node.outputs.length > 1 ? maxPoolWithIndices(x, k) : [pool(x, k, 'max')]),
  AveragePool: (x, k) => [pool(x, k, 'avg')],
  GlobalAveragePool: (x, k) => {
    const X = need(x, 0, k);
    return [tf.mean(X, Array.from({ length: X.rank - 2 }, (_, i) => i + 2), true)];
  },
};
