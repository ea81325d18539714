/**
 * Walks the op registry against the tfjs kernels: every op has a kernel, declares
 * whether it is differentiable (and then has a gradient rule), and its cost function
 * gives finite, non-negative figures on a small example whose shapes it infers itself.
 */
import { describe, expect, it } from 'vitest';
import type { DType } from '../src/ir/dtype.js';
import { type HostTensor, hostTensor } from '../src/ir/host-tensor.js';
import type { AttrValue, Node, TensorType } from '../src/ir/types.js';
import type { ConcreteType, NodeContext, Op } from '../src/ops/op.js';
import { ALL_OPS, findOp, supportedOps } from '../src/ops/registry.js';
import { KERNELS } from '../src/runtime/kernels/index.js';

/** An example input: a typed value, or a constant (shape arithmetic operands). */
type In = { readonly t: DType; readonly s: readonly number[] } | { readonly c: HostTensor } | null;

interface Example {
  readonly inputs: readonly In[];
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  readonly outputs?: number;
  readonly opset?: number;
}

const f = (...s: number[]): In => ({ t: 'float32', s });
const b = (...s: number[]): In => ({ t: 'bool', s });
const i64 = (...values: number[]): In => ({ c: hostTensor('int64', [values.length], values) });
const scalar = (dtype: DType, v: number): In => ({ c: hostTensor(dtype, [], [v]) });
const int = (value: number): AttrValue => ({ kind: 'int', value });
const ints = (...value: number[]): AttrValue => ({ kind: 'ints', value });

const unary: Example = { inputs: [f(2, 3, 4)] };
const binary: Example = { inputs: [f(2, 3, 4), f(3, 4)] };
const compare: Example = { inputs: [f(2, 3), f(2, 3)] };
const logical: Example = { inputs: [b(2, 3), b(2, 3)] };
const reduce: Example = { inputs: [f(2, 3, 4), i64(1)], opset: 18 };

/** One small, valid example per op. A new op needs one here (the test says so). */
const EXAMPLES: Readonly<Record<string, Example>> = {
  ...Object.fromEntries(
    ['Identity', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'LeakyRelu', 'Gelu', 'Floor', 'Ceil', 'Sin', 'Cos'].map((o) => [o, unary]),
  ),
  Not: { inputs: [b(2, 3)] },
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'].map((o) => [o, binary])),
  ...Object.fromEntries(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'].map((o) => [o, compare])),
  And: logical,
  Or: logical,
  Where: { inputs: [b(2, 3), f(2, 3), f(1, 3)] },
  Cast: { inputs: [f(2, 3)], attrs: { to: int(7) } },
  Clip: { inputs: [f(2, 3), scalar('float32', -1), scalar('float32', 1)] },
  Dropout: { inputs: [f(2, 3)] },
  MatMul: { inputs: [f(2, 3, 4), f(4, 5)] },
  Gemm: { inputs: [f(3, 4), f(5, 4), f(5)], attrs: { transB: int(1) } },
  Einsum: { inputs: [f(2, 3), f(3, 4)], attrs: { equation: { kind: 'string', value: 'ij,jk->ik' } } },
  Conv: { inputs: [f(1, 4, 6, 6), f(6, 2, 3, 3), f(6)], attrs: { group: int(2), strides: ints(2, 2), pads: ints(1, 1, 1, 1) } },
  ConvTranspose: { inputs: [f(1, 4, 5, 5), f(4, 3, 3, 3)], attrs: { strides: ints(2, 2) } },
  MaxPool: { inputs: [f(1, 2, 6, 6)], attrs: { kernel_shape: ints(2, 2), strides: ints(2, 2) } },
  AveragePool: { inputs: [f(1, 2, 6, 6)], attrs: { kernel_shape: ints(3, 3), pads: ints(1, 1, 1, 1) } },
  GlobalAveragePool: { inputs: [f(1, 2, 4, 4)] },
  BatchNormalization: { inputs: [f(2, 3, 4, 4), f(3), f(3), f(3), f(3)] },
  LayerNormalization: { inputs: [f(2, 3, 8), f(8), f(8)] },
  ReduceSum: { inputs: [f(2, 3, 4), i64(1)] },
  ReduceMean: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceProd: reduce,
  Softmax: { inputs: [f(2, 3, 4)], attrs: { axis: int(-1) } },
  LogSoftmax: { inputs: [f(2, 3, 4)] },
  Reshape: { inputs: [f(2, 3, 4), i64(6, -1)] },
  Transpose: { inputs: [f(2, 3, 4)], attrs: { perm: ints(2, 0, 1) } },
  Flatten: { inputs: [f(2, 3, 4)], attrs: { axis: int(1) } },
  Squeeze: { inputs: [f(2, 1, 4), i64(1)] },
  Unsqueeze: { inputs: [f(2, 4), i64(0)] },
  Expand: { inputs: [f(3, 1), i64(2, 3, 4)] },
  Concat: { inputs: [f(2, 3), f(2, 5)], attrs: { axis: int(1) } },
  Split: { inputs: [f(2, 6), i64(2, 4)], attrs: { axis: int(1) }, outputs: 2 },
  Slice: { inputs: [f(4, 6), i64(1, 0), i64(3, 6), i64(0, 1), i64(1, 2)] },
  Shape: { inputs: [f(2, 3, 4)] },
  Range: { inputs: [scalar('int64', 0), scalar('int64', 10), scalar('int64', 3)] },
  ConstantOfShape: { inputs: [i64(2, 3)] },
  Tile: { inputs: [f(2, 3), i64(2, 1)] },
  Gather: { inputs: [f(10, 4), { t: 'int64', s: [2, 3] }], attrs: { axis: int(0) } },
  ScatterND: { inputs: [f(4, 5), { t: 'int64', s: [3, 1] }, f(3, 5)] },
};

interface Prepared {
  readonly node: Node;
  readonly ctx: NodeContext;
  readonly inputs: readonly (ConcreteType | undefined)[];
}

function prepare(op: Op, ex: Example): Prepared {
  const names = ex.inputs.map((x, i) => (x === null ? '' : `in${i}`));
  const node: Node = {
    name: `example_${op.type}`,
    op: op.type,
    domain: '',
    inputs: names,
    outputs: Array.from({ length: ex.outputs ?? 1 }, (_, i) => `out${i}`),
    attrs: new Map(Object.entries(ex.attrs ?? {})),
  };
  const types: (TensorType | undefined)[] = ex.inputs.map((x) => (x === null ? undefined : 'c' in x ? { dtype: x.c.dtype, shape: x.c.shape } : { dtype: x.t, shape: x.s }));
  const ctx: NodeContext = {
    node,
    opset: ex.opset ?? 17,
    inputs: types,
    constant: (i) => {
      const x = ex.inputs[i];
      return x && 'c' in x ? x.c : undefined;
    },
  };
  const inputs = types.map((t) => (t ? { dtype: t.dtype, shape: t.shape.map(Number) } : undefined));
  return { node, ctx, inputs };
}

describe('op registry walk', () => {
  it('lists each op once, with a sane arity and a family', () => {
    expect(ALL_OPS.length).toBeGreaterThan(50);
    expect(new Set(ALL_OPS.map((o) => o.type)).size).toBe(ALL_OPS.length);
    expect(supportedOps()).toEqual(ALL_OPS.map((o) => o.type).sort());
    for (const op of ALL_OPS) {
      const [lo, hi] = op.arity;
      expect(Number.isInteger(lo) && lo >= 0 && hi >= lo, `${op.type} arity [${lo}, ${hi}]`).toBe(true);
      expect(op.family, op.type).toMatch(/^[a-z-]+$/);
      expect(findOp(op.type)).toBe(op);
    }
  });

  it('every op has a tfjs kernel, and every kernel belongs to an op', () => {
    const missing = ALL_OPS.filter((o) => !KERNELS.has(o.type)).map((o) => o.type);
    expect(missing, `ops without a kernel in src/runtime/kernels: ${missing.join(', ')}`).toEqual([]);
    const orphans = [...KERNELS.keys()].filter((k) => !findOp(k));
    expect(orphans, `kernels for ops the registry does not know: ${orphans.join(', ')}`).toEqual([]);
  });

  it('every op says whether it is differentiable, and differentiable ops have a gradient rule', () => {
    for (const op of ALL_OPS) {
      expect(typeof op.differentiable, op.type).toBe('boolean');
      if (op.differentiable) expect(op.hasGradient, `${op.type} is differentiable but has no gradient rule`).toBe(true);
    }
    // Shape arithmetic and comparisons carry no gradient; contractions do.
    for (const t of ['Shape', 'Range', 'ConstantOfShape', 'Equal', 'Not']) expect(findOp(t)?.differentiable, t).toBe(false);
    for (const t of ['MatMul', 'Gemm', 'Conv', 'Add', 'Softmax', 'LayerNormalization', 'Gather']) expect(findOp(t)?.differentiable, t).toBe(true);
  });

  it('every op has an example here', () => {
    const without = ALL_OPS.filter((o) => !EXAMPLES[o.type]).map((o) => o.type);
    expect(without, `add an example to EXAMPLES in tests/op-registry.test.ts for: ${without.join(', ')}`).toEqual([]);
  });

  for (const op of ALL_OPS) {
    it(`${op.type}: infers its example's outputs and costs them with finite, non-negative figures`, () => {
      const ex = EXAMPLES[op.type];
      if (!ex) return; // reported by the test above
      const { node, ctx, inputs } = prepare(op, ex);
      const outTypes = op.infer(ctx);
      expect(outTypes.length, `${op.type} outputs`).toBeGreaterThanOrEqual(node.outputs.length);
      const outputs: ConcreteType[] = outTypes.slice(0, node.outputs.length).map((t) => {
        const shape = t.shape.map((d) => {
          if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw new Error(`${op.type}: inferred dimension ${String(d)}`);
          return d;
        });
        return { dtype: t.dtype, shape };
      });
      const cost = op.cost({ node, opset: ctx.opset, inputs, outputs });
      expect(Number.isFinite(cost.flops) && cost.flops >= 0, `${op.type} flops ${cost.flops}`).toBe(true);
      expect(Number.isFinite(cost.bytes) && cost.bytes >= 0, `${op.type} bytes ${cost.bytes}`).toBe(true);
      expect(['matmul', 'conv', 'elementwise', 'reduce', 'data-movement', 'none']).toContain(cost.kind);
      // Ops that compute something are not free.
      if (['matmul', 'conv'].includes(cost.kind)) expect(cost.flops, op.type).toBeGreaterThan(0);
      if (cost.kind !== 'none') expect(cost.bytes, op.type).toBeGreaterThan(0);
    });
  }
});
