/** Convolutions and pooling: shared window arithmetic (pads, strides, dilations, auto_pad). */
import { AutoparError } from '../errors.js';
import { numel } from '../ir/host-tensor.js';
import type { Dim, TensorType } from '../ir/types.js';
import type { AttrReader } from './attrs.js';
import type { AttrInit } from '../ir/builder.js';
import { hostTensor } from '../ir/host-tensor.js';
import { defineOp, shapeError, type GradRule, type NodeContext, type Op, type TypedOp } from './op.js';
import { zerosOf } from './shape.js';
import { RuleBuilder, type ShardingContext, type ShardingRule } from './sharding-rule.js';
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

/** SAME padding: the total split in two, the odd one at the end (UPPER) or the start (LOWER). */
function samePads(total: number, mode: 'SAME_UPPER' | 'SAME_LOWER'): [number, number] {
  const small = Math.floor(total / 2);
  return mode === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
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
  checkWindow(ctx, kernel, strides, dilations);
  const pads = new Array<number>(2 * n).fill(0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x, k, s, d] = [sp[i] ?? 0, kernel[i] ?? 1, strides[i] ?? 1, dilations[i] ?? 1];
    const ek = (k - 1) * d + 1;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') {
      const o = Math.ceil(x / s);
      [pads[i], pads[i + n]] = samePads(Math.max((o - 1) * s + ek - x, 0), w.autoPad);
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

/** Kernel sizes, strides and dilations must be positive integers (a corrupt model may say otherwise). */
function checkWindow(ctx: NodeContext, kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): void {
  const bad = (v: number): boolean => !Number.isSafeInteger(v) || v < 1;
  if (kernel.some(bad) || strides.some(bad) || dilations.some(bad)) {
    throw shapeError(ctx.node, `kernel ${fmtShape(kernel)}, strides ${fmtShape(strides)} and dilations ${fmtShape(dilations)} must be positive`);
  }
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
  // Batch and output channels parallel, input channels contracted (group 1), spatial whole.
  sharding: (ctx, a) => {
    const [x, w] = [ctx.inputs[0], ctx.inputs[1]];
    const rb = new RuleBuilder();
    if (!x || !w) return rb.build([], []);
    rb.factor('n', x.shape[0] ?? 1);
    rb.factor('o', w.shape[0] ?? 1);
    if (a.group === 1) rb.factor('c', x.shape[1] ?? 1, 'contract');
    const c = a.group === 1 ? 'c' : '';
    const sp = x.shape.slice(2).map(() => '');
    return rb.buildWithBias([['n', c, ...sp], ['o', c, ...sp], ['o']], [['n', 'o', ...sp]], [2]);
  },
  // dX: the transposed convolution of dY with the same weights; dW: a convolution of the
  // input (channels as batch) with dY as the filter, strides and dilations swapped.
  gradient: (g, a) => {
    const { b } = g;
    const [x, w, bias] = g.node.inputs;
    const dy = g.dy[0];
    if (!x || !w || !dy) return [undefined, undefined, undefined];
    const xs = b.shape(x);
    const ws = b.shape(w);
    const ys = b.shape(dy);
    const ctx = b.nodeContext(g.node);
    const win = resolveWindow(ctx, a, xs.slice(2), a.kernelShape ?? ws.slice(2));
    const n = win.kernel.length;
    let dx: string | undefined;
    if (g.needs[0]) {
      const outputPadding = win.kernel.map((k, i) => {
        const full = ((ys[i + 2] ?? 1) - 1) * (win.strides[i] ?? 1) - (win.pads[i] ?? 0) - (win.pads[i + n] ?? 0) + (k - 1) * (win.dilations[i] ?? 1) + 1;
        return (xs[i + 2] ?? 0) - full;
      });
      dx = b.op('ConvTranspose', [dy, w], { strides: [...win.strides], pads: [...win.pads], dilations: [...win.dilations], group: a.group, output_padding: outputPadding });
    }
    let dw: string | undefined;
    if (g.needs[1]) {
      const groups = a.group;
      const xg = groups === 1 ? [x] : b.add('Split', [x, b.ints(new Array<number>(groups).fill((xs[1] ?? 0) / groups))], { axis: 1 }, { outputs: groups });
      const yg = groups === 1 ? [dy] : b.add('Split', [dy, b.ints(new Array<number>(groups).fill((ys[1] ?? 0) / groups))], { axis: 1 }, { outputs: groups });
      const perm = [1, 0, ...win.kernel.map((_, i) => i + 2)];
      const parts = xg.map((xi, gi) => {
        const yi = yg[gi] ?? dy;
        const full = b.op('Conv', [b.op('Transpose', [xi], { perm }), b.op('Transpose', [yi], { perm })], {
          strides: [...win.dilations],
          dilations: [...win.strides],
          pads: [...win.pads],
        });
        // The result may run past the kernel where the padding left room: keep kernel taps.
        const cropped = b.op('Slice', [full, b.ints(win.kernel.map(() => 0)), b.ints([...win.kernel]), b.ints(win.kernel.map((_, i) => i + 2))]);
        return b.op('Transpose', [cropped], { perm });
      });
      dw = parts.length === 1 ? parts[0] : b.op('Concat', parts, { axis: 0 });
    }
    const db = bias && g.needs[2] ? b.op('ReduceSum', [dy, b.ints([0, ...win.kernel.map((_, i) => i + 2)])], { keepdims: 0 }) : undefined;
    return [dx, dw, db];
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
  sharding: (ctx, a) => {
    const [x, w] = [ctx.inputs[0], ctx.inputs[1]];
    const rb = new RuleBuilder();
    if (!x || !w) return rb.build([], []);
    rb.factor('n', x.shape[0] ?? 1);
    if (a.group === 1) {
      rb.factor('c', x.shape[1] ?? 1, 'contract');
      rb.factor('o', w.shape[1] ?? 1);
    }
    const [c, o] = a.group === 1 ? ['c', 'o'] : ['', ''];
    const sp = x.shape.slice(2).map(() => '');
    return rb.buildWithBias([['n', c, ...sp], [c, o, ...sp], [o]], [['n', o, ...sp]], [2]);
  },
  // The adjoint of a transposed convolution is a convolution: dX = conv(dY, W); dW is a
  // convolution of dY (channels as batch) with the input as the filter.
  gradient: (g, a) => {
    const { b } = g;
    const [x, w, bias] = g.node.inputs;
    const dy = g.dy[0];
    if (!x || !w || !dy) return [undefined, undefined, undefined];
    const xs = b.shape(x);
    const ys = b.shape(dy);
    const win = convTransposeSpatial(b.nodeContext(g.node), a, xs.slice(2), b.shape(w).slice(2));
    const n = win.kernel.length;
    const spatial = win.kernel.map((_, i) => i + 2);
    const dx = g.needs[0]
      ? b.op('Conv', [dy, w], { strides: [...win.strides], pads: [...win.pads], dilations: [...win.dilations], group: a.group })
      : undefined;
    let dw: string | undefined;
    if (g.needs[1]) {
      if (a.group !== 1) throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (ConvTranspose): weight gradients with group ${a.group} are not supported`);
      const perm = [1, 0, ...spatial];
      // End padding so that the result covers every kernel tap.
      const pads = [...win.pads.slice(0, n), ...win.kernel.map((k, i) => Math.max(0, (k - 1) * (win.dilations[i] ?? 1) + ((xs[i + 2] ?? 1) - 1) * (win.strides[i] ?? 1) + 1 - (ys[i + 2] ?? 0) - (win.pads[i] ?? 0)))];
      const full = b.op('Conv', [b.op('Transpose', [dy], { perm }), b.op('Transpose', [x], { perm })], { strides: [...win.dilations], dilations: [...win.strides], pads });
      const cropped = b.op('Slice', [full, b.ints(win.kernel.map(() => 0)), b.ints([...win.kernel]), b.ints(spatial)]);
      dw = b.op('Transpose', [cropped], { perm });
    }
    const db = bias && g.needs[2] ? b.op('ReduceSum', [dy, b.ints([0, ...spatial])], { keepdims: 0 }) : undefined;
    return [dx, dw, db];
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
  checkWindow(ctx, kernel, strides, dilations);
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
      [pads[i], pads[i + n]] = samePads(Math.max(full - o, 0), a.autoPad);
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
    gradient: type === 'MaxPool' ? maxPoolGradient : averagePoolGradient,
    sharding: (ctx) => batchChannelRule(ctx),
  });
}

/** Pools: batch and channels parallel, spatial dims whole. */
function batchChannelRule(ctx: ShardingContext): ShardingRule {
  const x = ctx.inputs[0];
  const rb = new RuleBuilder();
  if (!x) return rb.build([], []);
  rb.factor('n', x.shape[0] ?? 1);
  rb.factor('c', x.shape[1] ?? 1);
  const dims = ['n', 'c', ...x.shape.slice(2).map(() => '')];
  return rb.build([dims], ctx.outputs.map(() => dims));
}

/** Routes each output gradient to its maximum: recompute the argmax, then scatter-add. */
const maxPoolGradient: GradRule<PoolAttrs> = (g, a) => {
  const { b } = g;
  const x = g.node.inputs[0];
  const dy = g.dy[0];
  if (!x || !dy || !g.needs[0]) return [undefined];
  const xs = b.shape(x);
  const attrs = poolAttrInit(a);
  const [, idx] = b.add('MaxPool', [x], attrs, { outputs: 2 });
  const flat = b.op('ScatterND', [zerosOf(b, [numel(xs)], b.type(dy).dtype), b.op('Reshape', [idx ?? '', b.ints([-1, 1])]), b.op('Reshape', [dy, b.ints([-1])])], { reduction: 'add' });
  return [b.op('Reshape', [flat, b.ints(xs)])];
};

/** Spreads each output gradient evenly over its window: a transposed convolution with ones. */
const averagePoolGradient: GradRule<PoolAttrs> = (g, a) => {
  const { b } = g;
  const x = g.node.inputs[0];
  const dy = g.dy[0];
  if (!x || !dy || !g.needs[0]) return [undefined];
  if (a.ceilMode) throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (AveragePool): gradients with ceil_mode=1 are not supported`);
  const xs = b.shape(x);
  const ys = b.shape(dy);
  const win = resolveWindow(b.nodeContext(g.node), a, xs.slice(2), a.kernelShape ?? []);
  const n = win.kernel.length;
  const dt = b.type(dy).dtype;
  const ones = b.constant(hostTensor(dt, [1, 1, ...win.kernel], new Array<number>(numel(win.kernel)).fill(1)), 'pool_ones');
  // Divisor per output position: the window size, or the count of real inputs in it.
  let scaled: string;
  if (a.countIncludePad) {
    scaled = b.op('Div', [dy, b.scalar(numel(win.kernel), dt)]);
  } else {
    const plane = b.constant(hostTensor(dt, [1, 1, ...xs.slice(2)], new Array<number>(numel(xs.slice(2))).fill(1)), 'pool_plane');
    const counts = b.op('Conv', [plane, ones], { strides: [...win.strides], pads: [...win.pads], dilations: [...win.dilations] });
    scaled = b.op('Div', [dy, counts]);
  }
  const nc = (xs[0] ?? 1) * (xs[1] ?? 1);
  const outputPadding = win.kernel.map((k, i) => (xs[i + 2] ?? 0) - (((ys[i + 2] ?? 1) - 1) * (win.strides[i] ?? 1) - (win.pads[i] ?? 0) - (win.pads[i + n] ?? 0) + (k - 1) * (win.dilations[i] ?? 1) + 1));
  const spread = b.op('ConvTranspose', [b.op('Reshape', [scaled, b.ints([nc, 1, ...ys.slice(2)])]), ones], {
    strides: [...win.strides],
    pads: [...win.pads],
    dilations: [...win.dilations],
    output_padding: outputPadding,
  });
  return [b.op('Reshape', [spread, b.ints(xs)])];
};

function poolAttrInit(a: PoolAttrs): Record<string, AttrInit> {
  const out: Record<string, AttrInit> = { kernel_shape: [...(a.kernelShape ?? [])], auto_pad: a.autoPad, ceil_mode: a.ceilMode ? 1 : 0 };
  if (a.strides) out['strides'] = [...a.strides];
  if (a.dilations) out['dilations'] = [...a.dilations];
  if (a.pads) out['pads'] = [...a.pads];
  return out;
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
  sharding: (ctx) => batchChannelRule(ctx),
  gradient: (g) => {
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    if (!x || !dy || !g.needs[0]) return [undefined];
    const xs = g.b.shape(x);
    const area = numel(xs.slice(2));
    return [g.b.op('Div', [g.b.op('Expand', [dy, g.b.ints(xs)]), g.b.scalar(area, g.b.type(dy).dtype)])];
  },
});

export const MaxPool = poolOp('MaxPool');
export const AveragePool = poolOp('AveragePool');

export const convOps: readonly Op[] = [Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool];
