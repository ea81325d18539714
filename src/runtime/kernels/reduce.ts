/** tfjs lowering of reductions and softmax. */
import { LogSoftmax, REDUCE_OPS, reduceAxes, Softmax } from '../../ops/reduce.js';
import { tf } from '../backend.js';
import { type Kernel, type KernelContext, need } from './kernel.js';

type Reducer = (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor;

const REDUCERS: Readonly<Record<string, Reducer>> = {
  ReduceSum: (x, a, k) => tf.sum(x, a, k),
  ReduceMean: (x, a, k) => tf.mean(x, a, k),
  ReduceMax: (x, a, k) => tf.max(x, a, k),
  ReduceMin: (x, a, k) => tf.min(x, a, k),
  ReduceProd: (x, a, k) => tf.prod(x, a, k),
};

function reduceKernel(type: string, f: Reducer): Kernel {
  return (x, k) => {
    const op = REDUCE_OPS.get(type);
    if (!op) throw new Error(`no reduce op ${type}`);
    const a = op.attrsOf(k.node, k.opset);
    const X = need(x, 0, k);
    const axes = reduceAxes(k, a, X.rank);
    if (axes.length === 0) return [tf.clone(X)];
    return [f(X, axes, a.keepDims)];
  };
}

/** tfjs softmax works on the last axis: move the axis there and back. */
function softmaxOn(X: tf.Tensor, axisAttr: number, log: boolean): tf.Tensor {
  const axis = axisAttr < 0 ? axisAttr + X.rank : axisAttr;
  return tf.tidy(() => {
    const last = X.rank - 1;
    const perm = Array.from({ length: X.rank }, (_, i) => i);
    perm[axis] = last;
    perm[last] = axis;
    const moved = axis === last ? X : tf.transpose(X, perm);
    // logSoftmax as x - logsumexp(x): the wasm backend has no LogSoftmax kernel.
    const y = log ? tf.sub(moved, tf.logSumExp(moved, -1, true)) : tf.softmax(moved, -1);
    return axis === last ? y : tf.transpose(y, perm);
  });
}

function softmaxKernel(log: boolean): Kernel {
  return (x: readonly (tf.Tensor | undefined)[], k: KernelContext) => {
    const { axis } = (log ? LogSoftmax : Softmax).attrsOf(k.node, k.opset);
    return [softmaxOn(need(x, 0, k), axis, log)];
  };
}

export const reduceKernels: Readonly<Record<string, Kernel>> = {
  ...Object.fromEntries(Object.entries(REDUCERS).map(([t, f]) => [t, reduceKernel(t, f)])),
  Softmax: softmaxKernel(false),
  LogSoftmax: softmaxKernel(true),
};
