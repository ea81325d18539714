/** Convolutions and pooling: shared window arithmetic (pads, strides, dilations, auto_pad). */
import { AutoparError } from '../errors.js';
import { numel } from '../ir/host-tensor.js';
import type { Dim, TensorType } from '../ir/types.js';
import type { AttrReader } from './attrs.js';
import { defineOp, shapeError, type NodeContext, type Op, type TypedOp } from './op.js';
import { elementwiseCost, fmtShape, input, ioBytes } from './util.js';

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

export interface WindowAttrs {
  readonly autoPad: AutoPad;
  readonly kernelShape: readonly number[] | undefined;
  readonly strides: readonly number[] | undefined;
  readonly dilations: readonly number[] | undefined;
  readonly pads: readonly number[] | undefined;
  readonly ceilMode: boolean;
}

function readWindow(r: AttrReader): WindowAttrs {
  const autoPad = r.string('auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER' && autoPad !== 'VALID') {
    throw new AutoparError('E_GRAPH', `node '${r.node.name}' (${r.node.op}): unknown auto_pad '${autoPad}'`);
  }
  return {
    autoPad,
    kernelShape: r.ints('kernel_shape'),
    strides: r.ints('strides'),
    dilations: r.ints('dilations'),
    pads: r.ints('pads'),
    ceilMode: r.int('ceil_mode', 0) !== 0,
  };
}

export interface Window {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** [begin_0, ..., begin_n, end_0, ..., end_n] as ONNX writes them. */
  readonly pads: readonly number[];
  readonly out: readonly number[];
}

/** Resolves a window over concrete spatial dims into explicit pads and output sizes. */
export function resolveWindow(ctx: NodeContext, w: WindowAttrs, spatial: readonly Dim[], kernel: readonly number[]): Window {
  const n = spatial.length;
  const sp = spatial.map((d) => {
    if (typeof d !== 'number') throw shapeError(ctx.node, `spatial dimension ${d} is symbolic; bind it with --dim`);
    return d;
  });
  const strides = w.strides ?? sp.map(() => 1);
  const dilations = w.dilations ?? sp.map(() => 1);
  if (kernel.length !== n || strides.length !== n || dilations.length !== n) {
    throw shapeError(ctx.node, `kernel ${fmtShape(kernel)}, strides ${fmtShape(strides)} and dilations ${fmtShape(dilations)} must each have ${n} entries`);
  }
  const pads = new Array<number>(2 * n).fill(0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x, k, s, d] = [sp[i] ?? 0, kernel[i] ?? 1, strides[i] ?? 1, dilations[i] ?? 1];
    const ek = (k - 1) * d + 1;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') {
      const o = Math.ceil(x / s);
      const total = Math.max((o - 1) * s + ek - x, 0);
      const small = Math.floor(total / 2);
      pads[i] = w.autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - (pads[i] ?? 0);
      out.push(o);
    } else {
      if (w.autoPad === 'NOTSET' && w.pads) {
        pads[i] = w.pads[i] ?? 0;
        pads[i + n] = w.pads[i + n] ?? 0;
      }
      const span = x + (pads[i] ?? 0) + (pads[i + n] ?? 0) - ek;
      let o = (w.ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      // ceil_mode: the last window must start inside the input or left padding.
      if (w.ceilMode && (o - 1) * s >= x + (pads[i] ?? 0)) o -= 1;
      if (o <= 0) throw shapeError(ctx.node, `window ${fmtShape(kernel)} does not fit input ${fmtShape(spatial)}`);
      out.push(o);
    }
  }
  return { kernel, strides, dilations, pads, out };
}

export interface ConvAttrs extends WindowAttrs {
  readonly group: number;
}

export const Conv = defineOp<ConvAttrs>({
  type: 'Conv',
  family: 'conv',
  arity: [2, 3],
  differentiable: true,
  attrs: (r) => ({ ...readWindow(r), group: r.int('group', 1) }),
  infer: (ctx, a) => {
    const [x, w] = [input(ctx, 0), input(ctx, 1)];
    if (x.shape.length < 3 || w.shape.length !== x.shape.length) {
      throw shapeError(ctx.node, `input ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} must both be N-C-spatial of the same rank`);
    }
    const cin = x.shape[1];
    const wc = w.shape[1];
    if (typeof cin === 'number' && typeof wc === 'number' && cin !== wc * a.group) {
      throw shapeError(ctx.node, `input has ${cin} channels but weight ${fmtShape(w.shape)} with group ${a.group} expects ${wc * a.group}`);
    }
    const kernel = a.kernelShape ?? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : 1));
    const win = resolveWindow(ctx, a, x.shape.slice(2), kernel);
    return [{ dtype: x.dtype, shape: [x.shape[0] as Dim, w.shape[0] as Dim, ...win.out] }];
  },
  cost: (ctx) => {
    const w = ctx.inputs[1];
    const out = ctx.outputs[0];
    // Each output element: Cin/group x kernel multiply-adds.
    const perOut = w ? numel(w.shape.slice(1)) : 0;
    const outN = out ? numel(out.shape) : 0;
    return { flops: 2 * perOut * outN + (ctx.inputs[2] ? outN : 0), bytes: ioBytes(ctx), kind: 'conv' };
  },
});

export interface ConvTransposeAttrs extends ConvAttrs {
  readonly outputPadding: readonly number[] | undefined;
  readonly outputShape: readonly number[] | undefined;
}

export const ConvTranspose = defineOp<ConvTransposeAttrs>({
  type: 'ConvTranspose',
  family: 'conv',
  arity: [2, 3],
  differentiable: true,
  attrs: (r) => ({ ...readWindow(r), group: r.int('group', 1), outputPadding: r.ints('output_padding'), outputShape: r.ints('output_shape') }),
  infer: (ctx, a) => {
    const [x, w] = [input(ctx, 0), input(ctx, 1)];
    if (x.shape.length < 3 || w.shape.length !== x.shape.length) {
      throw shapeError(ctx.node, `input ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} must both be N-C-spatial of the same rank`);
    }
    const cout = typeof w.shape[1] === 'number' ? w.shape[1] * a.group : w.shape[1];
    const out = convTransposeSpatial(ctx, a, x.shape.slice(2), w.shape.slice(2)).out;
    return [{ dtype: x.dtype, shape: [x.shape[0] as Dim, cout as Dim, ...out] }];
  },
  cost: (ctx) => {
    const [x, w] = [ctx.inputs[0], ctx.inputs[1]];
    // Each input element scatters Cout/group x kernel multiply-adds.
    const perIn = w ? numel(w.shape.slice(1)) : 0;
    return { flops: 2 * perIn * (x ? numel(x.shape) : 0), bytes: ioBytes(ctx), kind: 'conv' };
  },
});

/** Output sizes and explicit pads of a transposed convolution (ONNX ConvTranspose rules). */
export function convTransposeSpatial(ctx: NodeContext, a: ConvTransposeAttrs, spatial: readonly Dim[], wSpatial: readonly Dim[]): Window {
  const n = spatial.length;
  const sp = spatial.map((d) => (typeof d === 'number' ? d : Number.NaN));
  if (sp.some((d) => Number.isNaN(d))) throw shapeError(ctx.node, 'symbolic spatial dimension; bind it with --dim');
  const kernel = a.kernelShape ?? wSpatial.map((d) => (typeof d === 'number' ? d : 1));
  const strides = a.strides ?? sp.map(() => 1);
  const dilations = a.dilations ?? sp.map(() => 1);
  const outPad = a.outputPadding ?? sp.map(() => 0);
  const pads = new Array<number>(2 * n).fill(0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x, k, s, d, op] = [sp[i] ?? 0, kernel[i] ?? 1, strides[i] ?? 1, dilations[i] ?? 1, outPad[i] ?? 0];
    const full = s * (x - 1) + op + (k - 1) * d + 1;
    if (a.outputShape) {
      const o = a.outputShape[a.outputShape.length - n + i] ?? full;
      const total = full - o;
      const half = Math.floor(total / 2);
      pads[i] = a.autoPad === 'SAME_UPPER' ? half : total - half;
      pads[i + n] = total - (pads[i] ?? 0);
      out.push(o);
    } else if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
      const o = x * s;
      const total = Math.max(full - o, 0);
      const half = Math.floor(total / 2);
      pads[i] = a.autoPad === 'SAME_UPPER' ? half : total - half;
      pads[i + n] = total - (pads[i] ?? 0);
      out.push(o);
    } else {
      if (a.autoPad === 'NOTSET' && a.pads) {
        pads[i] = a.pads[i] ?? 0;
        pads[i + n] = a.pads[i + n] ?? 0;
      }
      out.push(full - (pads[i] ?? 0) - (pads[i + n] ?? 0));
    }
  }
  return { kernel, strides, dilations, pads, out };
}

export interface PoolAttrs extends WindowAttrs {
  readonly countIncludePad: boolean;
  readonly storageOrder: number;
}

function poolOp(type: 'MaxPool' | 'AveragePool'): TypedOp<PoolAttrs> {
  return defineOp<PoolAttrs>({
    type,
    family: 'conv',
    arity: [1, 1],
    differentiable: true,
    attrs: (r) => {
      const w = readWindow(r);
      if (!w.kernelShape) throw new AutoparError('E_GRAPH', `node '${r.node.name}' (${type}): kernel_shape is required`);
      return { ...w, countIncludePad: r.int('count_include_pad', 0) !== 0, storageOrder: r.int('storage_order', 0) };
    },
    infer: (ctx, a) => {
      const x = input(ctx, 0);
      if (x.shape.length < 3) throw shapeError(ctx.node, `input ${fmtShape(x.shape)} must be N-C-spatial`);
      const win = resolveWindow(ctx, a, x.shape.slice(2), a.kernelShape ?? []);
      const y: TensorType = { dtype: x.dtype, shape: [x.shape[0] as Dim, x.shape[1] as Dim, ...win.out] };
      if (ctx.node.outputs.length < 2) return [y];
      // Indices: flat positions of the maxima in the input (what MaxUnpool consumes); the
      // tfjs lowering has them for 1-D and 2-D windows.
      if (type !== 'MaxPool' || x.shape.length > 4) {
        throw new AutoparError('E_UNSUPPORTED_OP', `node '${ctx.node.name}' (${type}): the Indices output is supported for 1-D and 2-D MaxPool only`);
      }
      return [y, { dtype: 'int64', shape: y.shape }];
    },
    cost: (ctx, a) => elementwiseCost(ctx, numel(a.kernelShape ?? [1])),
  });
}

export const GlobalAveragePool = defineOp<null>({
  type: 'GlobalAveragePool',
  family: 'conv',
  arity: [1, 1],
  differentiable: true,
  attrs: () => null,
  infer: (ctx) => {
    const x = input(ctx, 0);
    if (x.shape.length < 3) throw shapeError(ctx.node, `input ${fmtShape(x.shape)} must be N-C-spatial`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i < 2 ? d : 1)) }];
  },
  cost: (ctx) => ({ flops: ctx.inputs[0] ? numel(ctx.inputs[0].shape) : 0, bytes: ioBytes(ctx), kind: 'reduce' }),
});

export const MaxPool = poolOp('MaxPool');
export const AveragePool = poolOp('AveragePool');

export const convOps: readonly Op[] = [Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool];
