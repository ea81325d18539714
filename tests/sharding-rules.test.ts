/**
 * Every op's sharding rule against the executor: split one factor in two, run the op
 * on each half of the inputs (dimensions mapped to that factor sliced), and check that
 * the halves of a parallel factor concatenate to the full output and the halves of a
 * contracted factor sum to it. A rule that claims a dimension is splittable when it is
 * not (a softmax axis, a normalised axis, a conv window) fails here.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type AttrInit } from '../src/ir/builder.js';
import { type HostTensor, hostTensor, numel } from '../src/ir/host-tensor.js';
import { hostConcat, hostSlice } from '../src/ops/host.js';
import { ALL_OPS, findOp } from '../src/ops/registry.js';
import type { ShardingRule } from '../src/ops/sharding-rule.js';
import { execute } from '../src/runtime/executor.js';
import { Rng } from './helpers/random.js';

type In = { readonly f: readonly number[] } | { readonly bool: readonly number[] } | { readonly idx: readonly number[]; readonly max: number } | { readonly c: HostTensor };
interface Example {
  readonly inputs: readonly In[];
  readonly attrs?: Readonly<Record<string, AttrInit>>;
  readonly outputs?: number;
  readonly opset?: number;
}
const f = (...s: number[]): In => ({ f: s });
const i64 = (...v: number[]): In => ({ c: hostTensor('int64', [v.length], v) });
const scalar = (v: number): In => ({ c: hostTensor('float32', [], [v]) });

const unary: Example = { inputs: [f(4, 6)] };
const EXAMPLES: Readonly<Record<string, Example>> = {
  ...Object.fromEntries(['Identity', 'Neg', 'Abs', 'Exp', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'LeakyRelu', 'Gelu', 'Floor', 'Ceil', 'Sin', 'Cos'].map((o) => [o, unary])),
  Sqrt: unary,
  Log: unary,
  Reciprocal: unary,
  Not: { inputs: [{ bool: [4, 6] }] },
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'].map((o) => [o, { inputs: [f(4, 6), f(6)] }])),
  Pow: { inputs: [f(4, 6), f(1, 6)] },
  And: { inputs: [{ bool: [4, 6] }, { bool: [4, 6] }] },
  Or: { inputs: [{ bool: [4, 6] }, { bool: [6] }] },
  Where: { inputs: [{ bool: [4, 6] }, f(4, 6), f(1, 6)] },
  Cast: { inputs: [f(4, 6)], attrs: { to: 1 } },
  Clip: { inputs: [f(4, 6), scalar(-0.5), scalar(0.5)] },
  Dropout: unary,
  MatMul: { inputs: [f(2, 4, 6), f(6, 8)] },
  Gemm: { inputs: [f(4, 6), f(8, 6), f(8)], attrs: { transB: 1, alpha: { float: 0.5 } } },
  Einsum: { inputs: [f(2, 4, 6), f(2, 6, 4)], attrs: { equation: 'bij,bjk->bik' } },
  Conv: { inputs: [f(2, 4, 6, 6), f(6, 4, 3, 3), f(6)], attrs: { pads: [1, 1, 1, 1] } },
  ConvTranspose: { inputs: [f(2, 4, 3, 3), f(4, 6, 3, 3), f(6)], attrs: { strides: [2, 2] } },
  MaxPool: { inputs: [f(2, 4, 6, 6)], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
  AveragePool: { inputs: [f(2, 4, 6, 6)], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
  GlobalAveragePool: { inputs: [f(2, 4, 3, 3)] },
  BatchNormalization: { inputs: [f(2, 4, 3, 3), f(4), f(4), f(4), { c: hostTensor('float32', [4], [1, 2, 0.5, 1.5]) }] },
  LayerNormalization: { inputs: [f(4, 6, 8), f(8), f(8)] },
  ReduceSum: { inputs: [f(4, 6, 8), i64(1)], attrs: { keepdims: 0 } },
  ReduceMean: { inputs: [f(4, 6, 8)], attrs: { axes: [1, 2] } },
  ReduceMax: { inputs: [f(4, 6, 8)], attrs: { axes: [2] } },
  ReduceMin: { inputs: [f(4, 6, 8)], attrs: { axes: [0], keepdims: 0 } },
  ReduceProd: { inputs: [f(4, 6, 2)], attrs: { axes: [1] } },
  Softmax: { inputs: [f(4, 6, 8)], attrs: { axis: 1 } },
  LogSoftmax: { inputs: [f(4, 6, 8)] },
  Reshape: { inputs: [f(4, 6, 8), i64(4, 48)] },
  Transpose: { inputs: [f(2, 4, 6)], attrs: { perm: [2, 0, 1] } },
  Flatten: { inputs: [f(4, 6, 2)], attrs: { axis: 1 } },
  Squeeze: { inputs: [f(4, 1, 6), i64(1)] },
  Unsqueeze: { inputs: [f(4, 6), i64(1)] },
  Expand: { inputs: [f(4, 1), i64(2, 4, 6)] },
  Concat: { inputs: [f(4, 2), f(4, 6)], attrs: { axis: 1 } },
  Split: { inputs: [f(4, 6), i64(2, 4)], attrs: { axis: 1 }, outputs: 2 },
  Slice: { inputs: [f(4, 6), i64(1), i64(5), i64(1)] },
  Tile: { inputs: [f(4, 2), i64(1, 3)] },
  Gather: { inputs: [f(10, 4), { idx: [2, 4], max: 10 }], attrs: { axis: 0 } },
  ScatterND: { inputs: [f(4, 6), { idx: [4, 1], max: 4 }, f(4, 6)], attrs: { reduction: 'add' } },
};

/**
 * Contractions whose partial results need more than a sum when emitted: a split
 * embedding table needs its indices rebased and masked, a split scatter its indices
 * filtered, and a mean's partials a rescale. The emitter does that; here only their
 * parallel factors are checked.
 */
const CONTRACT_NEEDS_EMITTER: ReadonlySet<string> = new Set(['Gather', 'ScatterND', 'ReduceMean']);

function values(rng: Rng, x: In): HostTensor {
  if ('c' in x) return x.c;
  if ('bool' in x) return hostTensor('bool', x.bool, Array.from({ length: numel(x.bool) }, () => (rng.next() < 0.5 ? 1 : 0)));
  if ('idx' in x) return hostTensor('int64', x.idx, Array.from({ length: numel(x.idx) }, () => rng.int(0, x.max)));
  // Positive values keep Sqrt, Log and Pow real; splits do not care about signs.
  return hostTensor('float32', x.f, Array.from({ length: numel(x.f) }, () => rng.uniform(0.5, 2)));
}

/** Runs the op once on host values; constants stay constants (shapes, axes). */
async function runOp(op: string, ex: Example, ins: readonly HostTensor[], constants: readonly boolean[]): Promise<HostTensor[]> {
  const b = GraphBuilder.empty(ex.opset ?? 17);
  const names = ins.map((t, i) => (constants[i] ? b.constant(t) : b.initializer(`in${i}`, t, { dtype: t.dtype, shape: t.shape })));
  const outs = b.add(op, names, ex.attrs ?? {}, { outputs: ex.outputs ?? 1 });
  const g = b.build(outs);
  const r = await execute(g, new Map());
  return outs.map((o) => r.outputs.get(o) as HostTensor);
}

function half(t: HostTensor, dims: readonly number[], part: number): HostTensor {
  const starts = t.shape.map((d, k) => (dims.includes(k) ? (part * d) / 2 : 0));
  const shape = t.shape.map((d, k) => (dims.includes(k) ? d / 2 : d));
  return hostSlice(t, starts, t.shape.map(() => 1), shape);
}

function ruleFor(op: string, ex: Example, ins: readonly HostTensor[], outs: readonly HostTensor[], constants: readonly boolean[]): ShardingRule | undefined {
  // The node as the builder makes it (typed attributes), then its rule at these shapes.
  const b = GraphBuilder.empty(ex.opset ?? 17);
  const names = ins.map((t, i) => (constants[i] ? b.constant(t) : b.initializer(`in${i}`, t, { dtype: t.dtype, shape: t.shape })));
  b.add(op, names, ex.attrs ?? {}, { outputs: outs.length });
  const node = b.build([]).nodes[0];
  if (!node) return undefined;
  return findOp(op)?.shardingRule({
    node,
    opset: ex.opset ?? 17,
    inputs: ins.map((t) => ({ dtype: t.dtype, shape: t.shape })),
    outputs: outs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
    isConstant: (i) => constants[i] === true,
    constant: (i) => (constants[i] ? ins[i] : undefined),
  });
}

describe('sharding rules agree with the executor', () => {
  it('every op that can be split has a rule and an example here', () => {
    const noExample = ALL_OPS.filter((o) => o.hasShardingRule && !EXAMPLES[o.type]).map((o) => o.type);
    expect(noExample).toEqual([]);
    // Ops without rules run replicated: only shape arithmetic may lack one.
    expect(ALL_OPS.filter((o) => !o.hasShardingRule).map((o) => o.type).sort()).toEqual(['ConstantOfShape', 'Range', 'Shape']);
  });

  for (const [op, ex] of Object.entries(EXAMPLES)) {
    it(op, async () => {
      const rng = new Rng(op.length * 31 + 7);
      const constants = ex.inputs.map((x) => 'c' in x);
      const ins = ex.inputs.map((x) => values(rng, x));
      const full = await runOp(op, ex, ins, constants);
      const rule = ruleFor(op, ex, ins, full, constants);
      expect(rule, `${op} has no sharding rule`).toBeDefined();
      if (!rule) return;
      // Structural checks: ranks, sizes, contractions absent from outputs.
      rule.inputs.forEach((dims, i) => {
        if (dims.length === 0) return;
        expect(dims.length, `${op} input ${i} rank`).toBe(ins[i]?.shape.length);
        // A view's factor may sit on a dimension that is a multiple of it ([b·s] <-> [b, s]).
        dims.forEach((fi, k) => fi >= 0 && expect((ins[i]?.shape[k] ?? 0) % (rule.factors[fi]?.size ?? 0), `${op} input ${i} dim ${k}`).toBe(0));
      });
      rule.outputs.forEach((dims, o) => {
        expect(dims.length, `${op} output ${o} rank`).toBe(full[o]?.shape.length);
        dims.forEach((fi, k) => {
          if (fi < 0) return;
          expect(rule.factors[fi]?.kind, `${op} output ${o} dim ${k} maps to a contraction`).toBe('parallel');
          expect((full[o]?.shape[k] ?? 0) % (rule.factors[fi]?.size ?? 0), `${op} output ${o} dim ${k}`).toBe(0);
        });
      });
      let checked = 0;
      for (let fi = 0; fi < rule.factors.length; fi++) {
        const factor = rule.factors[fi];
        if (!factor || factor.size % 2 !== 0) continue;
        if (factor.kind === 'contract' && CONTRACT_NEEDS_EMITTER.has(op)) continue;
        const parts: HostTensor[][] = [];
        for (const p of [0, 1]) {
          const local = ins.map((t, i) => {
            // A bias joins a split contraction on one device only.
            if (factor.kind === 'contract' && p === 1 && rule.addedOnce?.includes(i)) return { ...t, data: t.data.map(() => 0) };
            const dims = (rule.inputs[i] ?? []).flatMap((x, k) => (x === fi ? [k] : []));
            return dims.length ? half(t, dims, p) : t;
          });
          // Shape operands of views describe the local output.
          const localOut = full[0] ? (rule.outputs[0] ?? []).map((x, k) => ((full[0]?.shape[k] ?? 0) / (x === fi ? 2 : 1))) : [];
          const fixed = local.map((t, i) => (constants[i] && (op === 'Reshape' || op === 'Expand') && i === 1 ? hostTensor('int64', [localOut.length], localOut) : t));
          parts.push(await runOp(op, ex, fixed, constants));
        }
        full.forEach((want, o) => {
          const dims = (rule.outputs[o] ?? []).flatMap((x, k) => (x === fi ? [k] : []));
          const [a, b] = [parts[0]?.[o], parts[1]?.[o]];
          if (!a || !b) throw new Error('missing part');
          let got: HostTensor;
          if (factor.kind === 'contract') got = { ...a, data: a.data.map((v, i) => v + (b.data[i] ?? 0)) };
          else if (dims.length === 1) got = hostConcat([a, b], dims[0] ?? 0, want.shape);
          else if (dims.length === 0) got = a; // replicated output: each half computes all of it
          else throw new Error(`${op}: output ${o} maps factor ${fi} to several dims`);
          const err = Math.max(...Array.from(want.data, (v, i) => Math.abs(v - (got.data[i] ?? NaN)))) / Math.max(1e-6, ...Array.from(want.data, Math.abs));
          expect(err, `${op}: factor ${fi} (${factor.kind}, size ${factor.size}) output ${o}`).toBeLessThan(1e-5);
        });
        checked++;
      }
      expect(checked, `${op}: no factor of even size was checked`).toBeGreaterThan(0);
    });
  }
});
