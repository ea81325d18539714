/** Elementwise ops: unary math, binary arithmetic with broadcasting, comparisons, Where, Cast. */
import { AutoparError } from '../errors.js';
import { type DType, dtypeFromOnnx, isFloat } from '../ir/dtype.js';
import { type HostTensor } from '../ir/host-tensor.js';
import { defineOp, type Op, type TypedOp } from './op.js';
import { broadcastShapes, elementwiseCost, hostBroadcast, input, isConcrete, movementCost } from './util.js';

const FAMILY = 'elementwise';

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for folding checks; use a series/continued fraction.
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 60; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
  return Math.sign(x) * (1 - erfc);
}

interface UnaryDef {
  readonly type: string;
  readonly flops: number;
  readonly f: (x: number, a: UnaryAttrs) => number;
  readonly differentiable: boolean;
  readonly outDtype?: DType;
}

export interface UnaryAttrs {
  readonly alpha: number;
  readonly approximate: 'none' | 'tanh';
}

const UNARY: readonly UnaryDef[] = [
  { type: 'Identity', flops: 0, f: (x) => x, differentiable: true },
  { type: 'Neg', flops: 1, f: (x) => -x, differentiable: true },
  { type: 'Abs', flops: 1, f: (x) => Math.abs(x), differentiable: true },
  { type: 'Sqrt', flops: 1, f: (x) => Math.sqrt(x), differentiable: true },
  { type: 'Reciprocal', flops: 1, f: (x) => 1 / x, differentiable: true },
  { type: 'Exp', flops: 1, f: (x) => Math.exp(x), differentiable: true },
  { type: 'Log', flops: 1, f: (x) => Math.log(x), differentiable: true },
  { type: 'Erf', flops: 1, f: (x) => erf(x), differentiable: true },
  { type: 'Tanh', flops: 1, f: (x) => Math.tanh(x), differentiable: true },
  { type: 'Sigmoid', flops: 4, f: (x) => 1 / (1 + Math.exp(-x)), differentiable: true },
  { type: 'Relu', flops: 1, f: (x) => Math.max(x, 0), differentiable: true },
  { type: 'LeakyRelu', flops: 2, f: (x, a) => (x >= 0 ? x : a.alpha * x), differentiable: true },
  {
    type: 'Gelu',
    flops: 8,
    f: (x, a) =>
      a.approximate === 'tanh'
        ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
        : 0.5 * x * (1 + erf(x / Math.SQRT2)),
    differentiable: true,
  },
  { type: 'Floor', flops: 1, f: (x) => Math.floor(x), differentiable: false },
  { type: 'Ceil', flops: 1, f: (x) => Math.ceil(x), differentiable: false },
  { type: 'Sin', flops: 1, f: (x) => Math.sin(x), differentiable: true },
  { type: 'Cos', flops: 1, f: (x) => Math.cos(x), differentiable: true },
  { type: 'Not', flops: 1, f: (x) => (x ? 0 : 1), differentiable: false, outDtype: 'bool' },
];

function unaryOp(d: UnaryDef): TypedOp<UnaryAttrs> {
  return defineOp<UnaryAttrs>({
    type: d.type,
    family: FAMILY,
    arity: [1, 1],
    differentiable: d.differentiable,
    attrs: (r) => {
      const approximate = r.string('approximate', 'none');
      if (approximate !== 'none' && approximate !== 'tanh') {
        throw new AutoparError('E_GRAPH', `node '${r.node.name}' (Gelu): approximate must be 'none' or 'tanh', got '${approximate}'`);
      }
      return { alpha: r.float('alpha', 0.01), approximate };
    },
    infer: (ctx) => {
      const x = input(ctx, 0);
      return [{ dtype: d.outDtype ?? x.dtype, shape: x.shape }];
    },
    fold: (vals, a) => {
      const x = vals[0];
      if (!x) return [];
      return [hostBroadcast(d.outDtype ?? x.dtype, [x], x.shape, ([v]) => d.f(v ?? 0, a))];
    },
    cost: (ctx) => (d.flops === 0 ? movementCost(ctx) : elementwiseCost(ctx, d.flops)),
  });
}

interface BinaryDef {
  readonly type: string;
  readonly f: (a: number, b: number, dtype: DType) => number;
  readonly compare: boolean;
  readonly differentiable: boolean;
}

const intDiv = (a: number, b: number): number => Math.trunc(a / b);

const BINARY: readonly BinaryDef[] = [
  { type: 'Add', f: (a, b) => a + b, compare: false, differentiable: true },
  { type: 'Sub', f: (a, b) => a - b, compare: false, differentiable: true },
  { type: 'Mul', f: (a, b) => a * b, compare: false, differentiable: true },
  { type: 'Div', f: (a, b, dt) => (isFloat(dt) ? a / b : intDiv(a, b)), compare: false, differentiable: true },
  { type: 'Pow', f: (a, b) => a ** b, compare: false, differentiable: true },
  { type: 'Equal', f: (a, b) => (a === b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Less', f: (a, b) => (a < b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Greater', f: (a, b) => (a > b ? 1 : 0), compare: true, differentiable: false },
  { type: 'LessOrEqual', f: (a, b) => (a <= b ? 1 : 0), compare: true, differentiable: false },
  { type: 'GreaterOrEqual', f: (a, b) => (a >= b ? 1 : 0), compare: true, differentiable: false },
  { type: 'And', f: (a, b) => (a && b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Or', f: (a, b) => (a || b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Max', f: (a, b) => Math.max(a, b), compare: false, differentiable: true },
  { type: 'Min', f: (a, b) => Math.min(a, b), compare: false, differentiable: true },
];

function binaryOp(d: BinaryDef): TypedOp<null> {
  // Max and Min are variadic in ONNX; the rest take exactly two inputs.
  const variadic = d.type === 'Max' || d.type === 'Min';
  return defineOp<null>({
    type: d.type,
    family: FAMILY,
    arity: variadic ? [1, 2147483647] : [2, 2],
    differentiable: d.differentiable,
    attrs: () => null,
    infer: (ctx) => {
      const ins = ctx.inputs.map((_, i) => input(ctx, i));
      const first = ins[0];
      if (!first) return [];
      // Pow may mix dtypes (float base, int exponent); every other op needs one dtype.
      if (d.type !== 'Pow') {
        for (const t of ins) {
          if (t.dtype !== first.dtype) {
            throw new AutoparError('E_SHAPE', `node '${ctx.node.name}' (${d.type}): input dtypes differ (${ins.map((x) => x.dtype).join(', ')})`);
          }
        }
      }
      const shape = broadcastShapes(ctx, ins.map((t) => t.shape));
      return [{ dtype: d.compare ? 'bool' : first.dtype, shape }];
    },
    fold: (vals, _a, ctx) => {
      const xs = vals.filter((v): v is HostTensor => v !== undefined);
      const first = xs[0];
      if (!first || xs.length !== vals.length) return [];
      const shape = broadcastShapes(ctx, xs.map((x) => x.shape));
      if (!isConcrete(shape)) return [];
      const dt = first.dtype;
      return [hostBroadcast(d.compare ? 'bool' : dt, xs, shape, (v) => v.slice(1).reduce((acc, b) => d.f(acc, b, dt), v[0] ?? 0))];
    },
    cost: (ctx) => elementwiseCost(ctx, d.type === 'Pow' ? 4 : Math.max(1, ctx.inputs.length - 1)),
  });
}

export const Where = defineOp<null>({
  type: 'Where',
  family: FAMILY,
  arity: [3, 3],
  differentiable: true,
  attrs: () => null,
  infer: (ctx) => {
    const [c, x, y] = [input(ctx, 0), input(ctx, 1), input(ctx, 2)];
    if (c.dtype !== 'bool') throw new AutoparError('E_SHAPE', `node '${ctx.node.name}' (Where): condition must be bool, got ${c.dtype}`);
    if (x.dtype !== y.dtype) throw new AutoparError('E_SHAPE', `node '${ctx.node.name}' (Where): X is ${x.dtype} but Y is ${y.dtype}`);
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx, [c.shape, x.shape, y.shape]) }];
  },
  fold: (vals, _a, ctx) => {
    const [c, x, y] = vals;
    if (!c || !x || !y) return [];
    const shape = broadcastShapes(ctx, [c.shape, x.shape, y.shape]);
    if (!isConcrete(shape)) return [];
    return [hostBroadcast(x.dtype, [c, x, y], shape, ([cv, xv, yv]) => (cv ? (xv ?? 0) : (yv ?? 0)))];
  },
  cost: (ctx) => elementwiseCost(ctx, 1),
});

export interface CastAttrs {
  readonly to: DType;
}

export const Cast = defineOp<CastAttrs>({
  type: 'Cast',
  family: FAMILY,
  arity: [1, 1],
  differentiable: true,
  attrs: (r) => {
    const code = r.int('to', -1);
    const to = dtypeFromOnnx(code);
    if (!to) throw new AutoparError('E_GRAPH', `node '${r.node.name}' (Cast): unknown target type code ${code}`);
    return { to };
  },
  infer: (ctx, a) => [{ dtype: a.to, shape: input(ctx, 0).shape }],
  fold: (vals, a) => {
    const x = vals[0];
    if (!x) return [];
    const conv = (v: number): number => (a.to === 'bool' ? (v ? 1 : 0) : isFloat(a.to) ? v : Math.trunc(v));
    return [hostBroadcast(a.to, [x], x.shape, ([v]) => conv(v ?? 0))];
  },
  cost: (ctx) => elementwiseCost(ctx, 0),
});

export const Clip = defineOp<null>({
  type: 'Clip',
  family: FAMILY,
  arity: [1, 3],
  differentiable: true,
  attrs: (r) => {
    r.unsupported('min', 'Clip-6 attributes; opset 11+ passes min/max as inputs');
    return null;
  },
  infer: (ctx) => [input(ctx, 0)],
  cost: (ctx) => elementwiseCost(ctx, 2),
});

export interface DropoutAttrs {
  readonly seed: number | undefined;
}

/** Inference-mode Dropout: identity (training_mode, if given, must be a false constant). */
export const Dropout = defineOp<DropoutAttrs>({
  type: 'Dropout',
  family: FAMILY,
  arity: [1, 3],
  differentiable: true,
  attrs: (r) => ({ seed: r.intOpt('seed') }),
  infer: (ctx) => {
    const x = input(ctx, 0);
    if (ctx.inputs[2]) {
      const mode = ctx.constant(2);
      if (!mode || (mode.data[0] ?? 0) !== 0) {
        throw new AutoparError('E_UNSUPPORTED_OP', `node '${ctx.node.name}' (Dropout): only inference mode is supported (training_mode must be a false constant)`);
      }
    }
    const outs = [x];
    if (ctx.node.outputs.length > 1) outs.push({ dtype: 'bool', shape: x.shape });
    return outs;
  },
  cost: (ctx) => movementCost(ctx),
});

export const UNARY_OPS: ReadonlyMap<string, TypedOp<UnaryAttrs>> = new Map(UNARY.map((d) => [d.type, unaryOp(d)]));
export const BINARY_OPS: ReadonlyMap<string, TypedOp<null>> = new Map(BINARY.map((d) => [d.type, binaryOp(d)]));

export const elementwiseOps: readonly Op[] = [...UNARY_OPS.values(), ...BINARY_OPS.values(), Where, Cast, Clip, Dropout];
