/** Elementwise ops: unary math, binary arithmetic with broadcasting, comparisons, Where, Cast. */
import { AutoparError } from '../errors.js';
import { type DType, dtypeFromOnnx, isFloat } from '../ir/dtype.js';
import { type HostTensor } from '../ir/host-tensor.js';
import { roundToBfloat16, roundToFloat16 } from '../ir/float-round.js';
import type { GraphBuilder } from '../ir/builder.js';
import { dtypeToOnnx } from '../ir/dtype.js';
import { sumToShape } from './grad-util.js';
import { defineOp, type GradRule, type Op, type TypedOp } from './op.js';
import { elementwiseRule, linearRule } from './sharding-rule.js';
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

/** A unary op's gradient: from the builder, attributes, input x, output y and dy, the dx. */
type UnaryGrad = (b: GraphBuilder, a: UnaryAttrs, x: string, y: string, dy: string) => string;

interface UnaryDef {
  readonly type: string;
  readonly flops: number;
  readonly f: (x: number, a: UnaryAttrs) => number;
  readonly differentiable: boolean;
  readonly outDtype?: DType;
  readonly grad?: UnaryGrad;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** d/dx of GELU: exact Φ(x) + x·φ(x), or the derivative of the tanh approximation. */
const geluGrad: UnaryGrad = (b, a, x, _y, dy) => {
  const half = b.scalar(0.5);
  const one = b.scalar(1);
  if (a.approximate === 'tanh') {
    const x2 = b.op('Mul', [x, x]);
    const inner = b.op('Mul', [b.scalar(SQRT_2_OVER_PI), b.op('Add', [x, b.op('Mul', [b.scalar(0.044715), b.op('Mul', [x2, x])])])]);
    const t = b.op('Tanh', [inner]);
    const sech2 = b.op('Sub', [one, b.op('Mul', [t, t])]);
    const dinner = b.op('Mul', [b.scalar(SQRT_2_OVER_PI), b.op('Add', [one, b.op('Mul', [b.scalar(3 * 0.044715), x2])])]);
    const d = b.op('Add', [b.op('Mul', [half, b.op('Add', [one, t])]), b.op('Mul', [b.op('Mul', [half, x]), b.op('Mul', [sech2, dinner])])]);
    return b.op('Mul', [dy, d]);
  }
  const cdf = b.op('Mul', [half, b.op('Add', [one, b.op('Erf', [b.op('Mul', [x, b.scalar(Math.SQRT1_2)])])])]);
  const pdf = b.op('Mul', [b.scalar(1 / Math.sqrt(2 * Math.PI)), b.op('Exp', [b.op('Mul', [b.scalar(-0.5), b.op('Mul', [x, x])])])]);
  return b.op('Mul', [dy, b.op('Add', [cdf, b.op('Mul', [x, pdf])])]);
};

const zero = (b: GraphBuilder): string => b.scalar(0);

export interface UnaryAttrs {
  readonly alpha: number;
  readonly approximate: 'none' | 'tanh';
}

const UNARY: readonly UnaryDef[] = [
  { type: 'Identity', flops: 0, f: (x) => x, differentiable: true, grad: (_b, _a, _x, _y, dy) => dy },
  { type: 'Neg', flops: 1, f: (x) => -x, differentiable: true, grad: (b, _a, _x, _y, dy) => b.op('Neg', [dy]) },
  {
    type: 'Abs',
    flops: 1,
    f: (x) => Math.abs(x),
    differentiable: true,
    grad: (b, _a, x, _y, dy) => b.op('Where', [b.op('GreaterOrEqual', [x, zero(b)]), dy, b.op('Neg', [dy])]),
  },
  { type: 'Sqrt', flops: 1, f: (x) => Math.sqrt(x), differentiable: true, grad: (b, _a, _x, y, dy) => b.op('Div', [b.op('Mul', [dy, b.scalar(0.5)]), y]) },
  {
    type: 'Reciprocal',
    flops: 1,
    f: (x) => 1 / x,
    differentiable: true,
    grad: (b, _a, _x, y, dy) => b.op('Neg', [b.op('Mul', [dy, b.op('Mul', [y, y])])]),
  },
  { type: 'Exp', flops: 1, f: (x) => Math.exp(x), differentiable: true, grad: (b, _a, _x, y, dy) => b.op('Mul', [dy, y]) },
  { type: 'Log', flops: 1, f: (x) => Math.log(x), differentiable: true, grad: (b, _a, x, _y, dy) => b.op('Div', [dy, x]) },
  {
    type: 'Erf',
    flops: 1,
    f: (x) => erf(x),
    differentiable: true,
    grad: (b, _a, x, _y, dy) => b.op('Mul', [dy, b.op('Mul', [b.scalar(2 / Math.sqrt(Math.PI)), b.op('Exp', [b.op('Neg', [b.op('Mul', [x, x])])])])]),
  },
  {
    type: 'Tanh',
    flops: 1,
    f: (x) => Math.tanh(x),
    differentiable: true,
    grad: (b, _a, _x, y, dy) => b.op('Mul', [dy, b.op('Sub', [b.scalar(1), b.op('Mul', [y, y])])]),
  },
  {
    type: 'Sigmoid',
    flops: 4,
    f: (x) => 1 / (1 + Math.exp(-x)),
    differentiable: true,
    grad: (b, _a, _x, y, dy) => b.op('Mul', [dy, b.op('Mul', [y, b.op('Sub', [b.scalar(1), y])])]),
  },
  {
    type: 'Relu',
    flops: 1,
    f: (x) => Math.max(x, 0),
    differentiable: true,
    grad: (b, _a, x, _y, dy) => b.op('Where', [b.op('Greater', [x, zero(b)]), dy, zero(b)]),
  },
  {
    type: 'LeakyRelu',
    flops: 2,
    f: (x, a) => (x >= 0 ? x : a.alpha * x),
    differentiable: true,
    grad: (b, a, x, _y, dy) => b.op('Where', [b.op('GreaterOrEqual', [x, zero(b)]), dy, b.op('Mul', [dy, b.scalar(a.alpha)])]),
  },
  {
    type: 'Gelu',
    flops: 8,
    f: (x, a) =>
      a.approximate === 'tanh'
        ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
        : 0.5 * x * (1 + erf(x / Math.SQRT2)),
    differentiable: true,
    grad: geluGrad,
  },
  { type: 'Floor', flops: 1, f: (x) => Math.floor(x), differentiable: false },
  { type: 'Ceil', flops: 1, f: (x) => Math.ceil(x), differentiable: false },
  { type: 'Sin', flops: 1, f: (x) => Math.sin(x), differentiable: true, grad: (b, _a, x, _y, dy) => b.op('Mul', [dy, b.op('Cos', [x])]) },
  { type: 'Cos', flops: 1, f: (x) => Math.cos(x), differentiable: true, grad: (b, _a, x, _y, dy) => b.op('Neg', [b.op('Mul', [dy, b.op('Sin', [x])])]) },
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
    gradient: d.grad ? unaryGradient(d.grad) : undefined,
    sharding: d.type === 'Neg' || d.type === 'Identity' ? (ctx) => linearRule(elementwiseRule(ctx)) : elementwiseRule,
  });
}

function unaryGradient(rule: UnaryGrad): GradRule<UnaryAttrs> {
  return (g, a) => {
    const [x, y, dy] = [g.node.inputs[0], g.node.outputs[0], g.dy[0]];
    if (!x || !y || !dy || !g.needs[0]) return [undefined];
    return [rule(g.b, a, x, y, dy)];
  };
}

/** Gradients of a two-input op before un-broadcasting: [d/da, d/db], each built only if asked. */
type BinaryGrad = (b: GraphBuilder, x: string, w: string, y: string, dy: string, needs: readonly boolean[]) => readonly (string | undefined)[];

interface BinaryDef {
  readonly type: string;
  readonly f: (a: number, b: number, dtype: DType) => number;
  readonly compare: boolean;
  readonly differentiable: boolean;
  readonly grad?: BinaryGrad;
}

/** Max/Min: the gradient goes to the operand that was chosen (the first on ties). */
const pickGrad =
  (cmp: 'GreaterOrEqual' | 'LessOrEqual'): BinaryGrad =>
  (b, x, w, _y, dy, needs) => {
    const mask = b.op(cmp, [x, w]);
    return [needs[0] ? b.op('Where', [mask, dy, b.scalar(0)]) : undefined, needs[1] ? b.op('Where', [mask, b.scalar(0), dy]) : undefined];
  };

const intDiv = (a: number, b: number): number => Math.trunc(a / b);

const BINARY: readonly BinaryDef[] = [
  { type: 'Add', f: (a, b) => a + b, compare: false, differentiable: true, grad: (_b, _x, _w, _y, dy) => [dy, dy] },
  { type: 'Sub', f: (a, b) => a - b, compare: false, differentiable: true, grad: (b, _x, _w, _y, dy, n) => [dy, n[1] ? b.op('Neg', [dy]) : undefined] },
  {
    type: 'Mul',
    f: (a, b) => a * b,
    compare: false,
    differentiable: true,
    grad: (b, x, w, _y, dy, n) => [n[0] ? b.op('Mul', [dy, w]) : undefined, n[1] ? b.op('Mul', [dy, x]) : undefined],
  },
  {
    type: 'Div',
    f: (a, b, dt) => (isFloat(dt) ? a / b : intDiv(a, b)),
    compare: false,
    differentiable: true,
    // d(x/w)/dw = -y/w
    grad: (b, _x, w, y, dy, n) => [n[0] ? b.op('Div', [dy, w]) : undefined, n[1] ? b.op('Neg', [b.op('Div', [b.op('Mul', [dy, y]), w])]) : undefined],
  },
  {
    type: 'Pow',
    f: (a, b) => a ** b,
    compare: false,
    differentiable: true,
    grad: (b, x, w, y, dy, n) => {
      const wf = b.type(w).dtype === b.type(x).dtype ? w : b.op('Cast', [w], { to: dtypeToOnnx(b.type(x).dtype) });
      // d(x^w)/dx = w·x^(w-1); d(x^w)/dw = y·ln x (only built when the exponent is trained).
      const dx = n[0] ? b.op('Mul', [dy, b.op('Mul', [wf, b.op('Pow', [x, b.op('Sub', [wf, b.scalar(1, b.type(x).dtype)])])])]) : undefined;
      const dw = n[1] ? b.op('Mul', [dy, b.op('Mul', [y, b.op('Log', [x])])]) : undefined;
      return [dx, dw];
    },
  },
  { type: 'Equal', f: (a, b) => (a === b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Less', f: (a, b) => (a < b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Greater', f: (a, b) => (a > b ? 1 : 0), compare: true, differentiable: false },
  { type: 'LessOrEqual', f: (a, b) => (a <= b ? 1 : 0), compare: true, differentiable: false },
  { type: 'GreaterOrEqual', f: (a, b) => (a >= b ? 1 : 0), compare: true, differentiable: false },
  { type: 'And', f: (a, b) => (a && b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Or', f: (a, b) => (a || b ? 1 : 0), compare: true, differentiable: false },
  { type: 'Max', f: (a, b) => Math.max(a, b), compare: false, differentiable: true, grad: pickGrad('GreaterOrEqual') },
  { type: 'Min', f: (a, b) => Math.min(a, b), compare: false, differentiable: true, grad: pickGrad('LessOrEqual') },
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
      return [
        hostBroadcast(d.compare ? 'bool' : dt, xs, shape, (v) => {
          let acc = v[0] ?? 0;
          for (let k = 1; k < v.length; k++) acc = d.f(acc, v[k] ?? 0, dt);
          return acc;
        }),
      ];
    },
    cost: (ctx) => elementwiseCost(ctx, d.type === 'Pow' ? 4 : Math.max(1, ctx.inputs.length - 1)),
    gradient: d.grad ? binaryGradient(d.type, d.grad) : undefined,
    sharding: d.type === 'Add' || d.type === 'Sub' ? (ctx) => linearRule(elementwiseRule(ctx)) : elementwiseRule,
  });
}

function binaryGradient(type: string, rule: BinaryGrad): GradRule<null> {
  return (g) => {
    const [x, w] = g.node.inputs;
    const y = g.node.outputs[0];
    const dy = g.dy[0];
    if (!x || !w || !y || !dy || g.node.inputs.length !== 2) {
      if (g.node.inputs.length !== 2) throw new AutoparError('E_UNSUPPORTED_OP', `node '${g.node.name}' (${type}): gradients of ${g.node.inputs.length}-input ${type} are not supported`);
      return [undefined, undefined];
    }
    const raw = rule(g.b, x, w, y, dy, g.needs);
    return [x, w].map((v, i) => {
      const d = raw[i];
      return d && g.needs[i] ? sumToShape(g.b, d, g.b.shape(v)) : undefined;
    });
  };
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
  sharding: elementwiseRule,
  gradient: (g) => {
    const [c, x, y] = g.node.inputs;
    const dy = g.dy[0];
    if (!c || !x || !y || !dy) return [undefined, undefined, undefined];
    const zero = g.b.scalar(0, g.b.type(dy).dtype);
    return [
      undefined,
      g.needs[1] ? sumToShape(g.b, g.b.op('Where', [c, dy, zero]), g.b.shape(x)) : undefined,
      g.needs[2] ? sumToShape(g.b, g.b.op('Where', [c, zero, dy]), g.b.shape(y)) : undefined,
    ];
  },
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
  infer: (ctx, a) => {
    const x = input(ctx, 0);
    // Strings never reach devices: casting to or from them would compute garbage.
    if (a.to === 'string' || x.dtype === 'string') {
      throw new AutoparError('E_UNSUPPORTED_OP', `node '${ctx.node.name}' (Cast): casts ${x.dtype === 'string' ? 'from' : 'to'} string are not supported`);
    }
    return [{ dtype: a.to, shape: x.shape }];
  },
  fold: (vals, a) => {
    const x = vals[0];
    if (!x) return [];
    const conv = (v: number): number =>
      a.to === 'bool' ? (v ? 1 : 0) : a.to === 'float16' ? roundToFloat16(v) : a.to === 'bfloat16' ? roundToBfloat16(v) : isFloat(a.to) ? v : Math.trunc(v);
    return [hostBroadcast(a.to, [x], x.shape, ([v]) => conv(v ?? 0))];
  },
  cost: (ctx) => elementwiseCost(ctx, 0),
  sharding: elementwiseRule,
  // A cast between float types passes the gradient back in the input's type.
  gradient: (g) => {
    const x = g.node.inputs[0];
    const dy = g.dy[0];
    if (!x || !dy || !g.needs[0] || !isFloat(g.b.type(x).dtype)) return [undefined];
    return [g.b.type(dy).dtype === g.b.type(x).dtype ? dy : g.b.op('Cast', [dy], { to: dtypeToOnnx(g.b.type(x).dtype) })];
  },
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
  sharding: elementwiseRule,
  gradient: (g) => {
    const [x, lo, hi] = g.node.inputs;
    const dy = g.dy[0];
    if (!x || !dy || !g.needs[0]) return [undefined, undefined, undefined];
    let keep = '';
    if (lo) keep = g.b.op('GreaterOrEqual', [x, lo]);
    if (hi) {
      const k = g.b.op('LessOrEqual', [x, hi]);
      keep = keep ? g.b.op('And', [keep, k]) : k;
    }
    return [keep ? g.b.op('Where', [keep, dy, g.b.scalar(0, g.b.type(dy).dtype)]) : dy, undefined, undefined];
  },
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
  gradient: (g) => [g.needs[0] ? g.dy[0] : undefined, undefined, undefined],
  sharding: elementwiseRule,
});

export const UNARY_OPS: ReadonlyMap<string, TypedOp<UnaryAttrs>> = new Map(UNARY.map((d) => [d.type, unaryOp(d)]));
export const BINARY_OPS: ReadonlyMap<string, TypedOp<null>> = new Map(BINARY.map((d) => [d.type, binaryOp(d)]));

export const elementwiseOps: readonly Op[] = [...UNARY_OPS.values(), ...BINARY_OPS.values(), Where, Cast, Clip, Dropout];
