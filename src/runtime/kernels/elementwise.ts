/** tfjs lowering of elementwise ops. */
import { Cast as CastOp, UNARY_OPS } from '../../ops/elementwise.js';
import { tf } from '../backend.js';
import { tfDtype } from '../tensors.js';
import type { DType } from '../../ir/dtype.js';
import { roundToBfloat16, roundToFloat16 } from '../../ir/float-round.js';
import { type Kernel, type KernelContext, need } from './kernel.js';

type Unary = (x: tf.Tensor, k: KernelContext) => tf.Tensor;

function unaryAttrs(k: KernelContext): { alpha: number; approximate: 'none' | 'tanh' } {
  const op = UNARY_OPS.get(k.node.op);
  if (!op) throw new Error(`no unary op ${k.node.op}`);
  return op.attrsOf(k.node, k.opset);
}

export function gelu(x: tf.Tensor, approximate: 'none' | 'tanh'): tf.Tensor {
  return tf.tidy(() => {
    if (approximate === 'tanh') {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    }
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
  });
}

const UNARY: Readonly<Record<string, Unary>> = {
  Identity: (x) => tf.clone(x),
  Neg: (x) => tf.neg(x),
  Abs: (x) => tf.abs(x),
  Sqrt: (x) => tf.sqrt(x),
  Reciprocal: (x) => tf.reciprocal(x),
  Exp: (x) => tf.exp(x),
  Log: (x) => tf.log(x),
  Erf: (x) => tf.erf(x),
  Tanh: (x) => tf.tanh(x),
  Sigmoid: (x) => tf.sigmoid(x),
  Relu: (x) => tf.relu(x),
  LeakyRelu: (x, k) => tf.leakyRelu(x, unaryAttrs(k).alpha),
  Gelu: (x, k) => gelu(x, unaryAttrs(k).approximate),
  Floor: (x) => tf.floor(x),
  Ceil: (x) => tf.ceil(x),
  Sin: (x) => tf.sin(x),
  Cos: (x) => tf.cos(x),
  Not: (x) => tf.logicalNot(x),
};

type Binary = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** ONNX integer division truncates toward zero; tfjs floorDiv rounds down. */
function div(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.dtype !== 'int32') return tf.div(a, b);
  return tf.tidy(() => {
    const q = tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32'));
    return tf.cast(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), 'int32');
  });
}

/** tfjs pow on int32 works; on float32 with a negative base and integral exponent it also does. */
function pow(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.dtype === b.dtype) return tf.pow(a, b);
  return tf.tidy(() => tf.cast(tf.pow(tf.cast(a, 'float32'), tf.cast(b, 'float32')), a.dtype));
}

/**
 * tfjs has no 16-bit floats: they run as float32, so a Cast to one rounds on the host
 * (round-to-nearest-even, exactly) to keep the precision the model asked to lose.
 */
function cast(x: tf.Tensor, to: DType): tf.Tensor {
  const dt = tfDtype(to);
  if (to !== 'float16' && to !== 'bfloat16') return tf.cast(x, dt);
  const round = to === 'float16' ? roundToFloat16 : roundToBfloat16;
  return tf.tensor(Float32Array.from(x.dataSync(), round), x.shape, 'float32');
}

const BINARY: Readonly<Record<string, Binary>> = {
  Add: (a, b) => tf.add(a, b),
  Sub: (a, b) => tf.sub(a, b),
  Mul: (a, b) => tf.mul(a, b),
  Div: div,
  Pow: pow,
  Equal: (a, b) => tf.equal(a, b),
  Less: (a, b) => tf.less(a, b),
  Greater: (a, b) => tf.greater(a, b),
  LessOrEqual: (a, b) => tf.lessEqual(a, b),
  GreaterOrEqual: (a, b) => tf.greaterEqual(a, b),
  And: (a, b) => tf.logicalAnd(a, b),
  Or: (a, b) => tf.logicalOr(a, b),
  Max: (a, b) => tf.maximum(a, b),
  Min: (a, b) => tf.minimum(a, b),
};

export const elementwiseKernels: Readonly<Record<string, Kernel>> = {
  ...Object.fromEntries(Object.entries(UNARY).map(([t, f]) => [t, ((x, k) => [f(need(x, 0, k), k)]) as Kernel])),
  ...Object.fromEntries(
    Object.entries(BINARY).map(([t, f]) => [
      t,
      ((x, k) => {
        const xs = x.map((_, i) => need(x, i, k));
        let acc = xs[0] as tf.Tensor;
        for (const y of xs.slice(1)) acc = f(acc, y);
        return [xs.length === 1 ? tf.clone(acc) : acc];
      }) as Kernel,
    ]),
  ),
  Where: (x, k) => [tf.where(need(x, 0, k), need(x, 1, k), need(x, 2, k))],
  Cast: (x, k) => [cast(need(x, 0, k), CastOp.attrsOf(k.node, k.opset).to)],
  // max then min: when min > max every element becomes max, as ONNX specifies. Bounds
  // stay tensors (clipByValue's ±Infinity defaults would wrap for integer inputs).
  Clip: (x, k) => {
    const v = need(x, 0, k);
    return [
      tf.tidy(() => {
        let y = x[1] ? tf.maximum(v, x[1]) : v;
        y = x[2] ? tf.minimum(y, x[2]) : y;
        return y === v ? tf.clone(v) : y;
      }),
    ];
  },
  Dropout: (x, k) => {
    const v = need(x, 0, k);
    return k.node.outputs.length > 1 ? [tf.clone(v), tf.cast(tf.onesLike(v), 'bool')] : [tf.clone(v)];
  },
};
