/**
 * Random single-node models for the import fuzz test: every registered op with random
 * input ranks and sizes (some zero, some symbolic), random attributes, and int64
 * constant inputs holding awkward values (negative, zero, huge), so that odd values
 * reach each op's shape inference, folding and cost directly.
 */
import { ALL_OPS } from '../../src/ops/registry.js';
import type { AttrSpec, ModelSpec, NodeSpec, TensorSpec, ValueSpec } from './onnx-builder.js';
import { Rng } from './random.js';

const NASTY = [-3, -2, -1, 0, 1, 2, 3, 4, 7, 2 ** 31, 2 ** 40, -(2 ** 40)];
const DIMS: readonly (number | string)[] = [0, 1, 1, 2, 2, 3, 3, 4, 5, 'n'];

function nastyInts(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.pick(NASTY));
}

function randomAttr(rng: Rng, name: string): AttrSpec {
  switch (name) {
    case 'perm':
    case 'axes':
    case 'pads':
    case 'strides':
    case 'kernel_shape':
    case 'dilations':
    case 'split':
    case 'output_padding':
    case 'output_shape':
      return { ints: rng.next() < 0.5 ? nastyInts(rng, rng.int(0, 5)) : Array.from({ length: rng.int(0, 5) }, () => rng.int(0, 4)) };
    case 'to':
      return { int: rng.pick([0, 1, 6, 7, 9, 10, 11, 16, 8, 99]) };
    case 'epsilon':
    case 'alpha':
    case 'beta':
      return { float: rng.pick([0, 1e-5, -1, 0.5, Number.NaN]) };
    case 'auto_pad':
      return { string: rng.pick(['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID', 'BOGUS']) };
    case 'approximate':
      return { string: rng.pick(['none', 'tanh', 'exact']) };
    case 'equation':
      return { string: rng.pick(['ij,jk->ik', 'bij,bjk->bik', 'ii->i', 'i,i', 'ab->c', '...ij->ji', 'ij', '->', 'a,b->ab']) };
    case 'value':
      return { tensor: { name: '', dtype: rng.pick(['float32', 'int64', 'bool'] as const), dims: [1], values: [rng.pick([0, 1, -1])] } };
    default:
      return { int: rng.pick(NASTY) };
  }
}

const ATTRS = [
  'axis', 'axes', 'perm', 'pads', 'strides', 'kernel_shape', 'dilations', 'group', 'split', 'num_outputs', 'keepdims',
  'noop_with_empty_axes', 'transA', 'transB', 'alpha', 'beta', 'to', 'allowzero', 'start', 'end', 'epsilon', 'value',
  'equation', 'auto_pad', 'ceil_mode', 'approximate', 'count_include_pad', 'output_padding', 'output_shape', 'training_mode',
];

export interface OpCase {
  readonly op: string;
  readonly spec: ModelSpec;
}

export function randomOpModel(seed: number): OpCase {
  const rng = new Rng(seed);
  const op = rng.pick(ALL_OPS);
  const [lo, hi] = op.arity;
  const n = Math.min(rng.int(lo, Math.min(hi, lo + 3) + 1), 5);
  const inputs: ValueSpec[] = [];
  const inits: TensorSpec[] = [];
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `in${i}`;
    const r = rng.next();
    if (i > 0 && r < 0.1) {
      names.push(''); // an omitted optional input
    } else if (i > 0 && r < 0.55) {
      // An int64 constant: shapes, axes, starts, repeats ...
      const len = rng.int(0, 5);
      inits.push({ name, dtype: 'int64', dims: [len], values: rng.next() < 0.5 ? nastyInts(rng, len) : Array.from({ length: len }, () => rng.int(0, 4)) });
      names.push(name);
    } else {
      const rank = rng.int(0, 5);
      const dtype = rng.pick(['float32', 'float32', 'float32', 'int64', 'bool'] as const);
      inputs.push({ name, dtype, shape: Array.from({ length: rank }, () => rng.pick(DIMS)) });
      names.push(name);
    }
  }
  const attrs: Record<string, AttrSpec> = {};
  const nAttrs = rng.int(0, 4);
  for (let k = 0; k < nAttrs; k++) {
    const a = rng.pick(ATTRS);
    attrs[a] = randomAttr(rng, a);
  }
  const outs = Array.from({ length: rng.next() < 0.8 ? 1 : rng.int(2, 4) }, (_, i) => `out${i}`);
  const node: NodeSpec = { op: op.type, name: `n_${op.type}`, inputs: names, outputs: outs, attrs };
  if (inputs.length === 0) inputs.push({ name: 'unused', dtype: 'float32', shape: [1] });
  return {
    op: op.type,
    spec: { opset: rng.pick([13, 17, 18]), inputs, outputs: outs, nodes: [node], initializers: inits },
  };
}
