/**
 * The one generic strategy enumerator (passes/intra-op/strategies.ts) on the rules the op
 * files state as data: every way of giving each mesh axis to one factor or to none, kept
 * when the split divides; a split contracted factor leaves the output a partial sum over
 * its axes and never asks for a partial input; elementwise ops make their operands follow
 * the output. Counts and specs are worked out by hand here, not from the enumerator.
 */
import { describe, expect, it } from 'vitest';
import { enumerateStrategies, type NodeStrategy } from '../passes/intra-op/strategies.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { hostTensor, numel } from '../src/ir/host-tensor.js';
import { findOp } from '../src/ops/registry.js';
import type { ShardingRule } from '../src/ops/sharding-rule.js';
import { deviceMesh, type MeshShape } from '../src/sharding/mesh.js';
import { specToString } from '../src/sharding/spec.js';

const link = { alpha: 5e-6, beta: 1 / 300e9 };
const mesh2x2 = deviceMesh([
  { name: 'x', size: 2, ...link },
  { name: 'y', size: 2, ...link },
]);
const mesh2x2x2 = deviceMesh([
  { name: 'x', size: 2, ...link },
  { name: 'y', size: 2, ...link },
  { name: 'z', size: 2, ...link },
]);

/** The op file's rule at these input shapes (float32 initializers, opset 17). */
function ruleOf(op: string, shapes: readonly (readonly number[])[]): { rule: ShardingRule; outRank: number } {
  const b = GraphBuilder.empty(17);
  const names = shapes.map((s, i) => b.initializer(`in${i}`, hostTensor('float32', s, new Array<number>(numel(s)).fill(1)), { dtype: 'float32', shape: s }));
  const [out] = b.add(op, names, {}, { outputs: 1 });
  if (out === undefined) throw new Error('no output');
  const g = b.build([out]);
  const node = g.nodes[0];
  const outType = g.types.get(out);
  if (!node || !outType) throw new Error('no node');
  const outShape = outType.shape.map(Number);
  const rule = findOp(op)?.shardingRule({
    node,
    opset: 17,
    inputs: shapes.map((s) => ({ dtype: 'float32', shape: s })),
    outputs: [{ dtype: 'float32', shape: outShape }],
    isConstant: () => false,
    constant: () => undefined,
  });
  if (!rule) throw new Error(`${op} has no sharding rule`);
  return { rule, outRank: outShape.length };
}

/** "A | B -> out" in the written spec form, one line per strategy, for set comparisons. */
const written = (s: NodeStrategy): string => `${s.inputs.map((x) => (x ? specToString(x) : 'free')).join(' | ')} -> ${s.outputs.map(specToString).join(' | ')}`;

function strategies(op: string, shapes: readonly (readonly number[])[], mesh: MeshShape): NodeStrategy[] {
  const { rule, outRank } = ruleOf(op, shapes);
  return enumerateStrategies(rule, mesh, [outRank]);
}

describe('strategy enumeration from factor rules', () => {
  it('MatMul [2,4,6]x[6,8] on a 2x2 mesh: 5^2 assignments minus the two splits that do not divide', () => {
    // Factors b(2) m(4) n(8) k(6): each of x, y goes to one of them or none (25 ways);
    // x and y together split by 4, which divides neither b (2) nor k (6).
    const got = strategies('MatMul', [[2, 4, 6], [6, 8]], mesh2x2);
    expect(got).toHaveLength(23);
    expect(new Set(got.map(written)).size).toBe(23);
    const lines = new Set(got.map(written));
    // Replicated; data parallel; Megatron column (n) and row (k, a partial sum); both axes on n.
    for (const want of [
      '[-, -, -] | [-, -] -> [-, -, -]',
      '[x, -, -] | [-, -] -> [x, -, -]',
      '[-, -, -] | [-, x] -> [-, -, x]',
      '[-, -, x] | [x, -] -> [-, -, -]+x',
      '[x, -, y] | [y, -] -> [x, -, -]+y',
      '[-, -, -] | [-, x*y] -> [-, -, x*y]',
    ]) {
      expect(lines.has(want), want).toBe(true);
    }
    expect([...lines].some((l) => l.includes('[x*y, -, -]') || l.includes('[-, -, x*y] |'))).toBe(false);
  });

  it('a split contracted factor, and only that, leaves the output partial; inputs are never partial', () => {
    for (const [mesh, n] of [
      [mesh2x2, 2],
      [mesh2x2x2, 3],
    ] as const) {
      const got = strategies('MatMul', [[8, 8], [8, 8]], mesh);
      // m, n, k all of size 8, which every product of the axes (2, 4 or 8) divides.
      expect(got).toHaveLength(4 ** n);
      for (const s of got) {
        const kAxes = s.inputs[0]?.dims[1] ?? [];
        expect(s.inputs[1]?.dims[0], written(s)).toEqual(kAxes);
        expect([...(s.outputs[0]?.partial ?? [])].sort(), written(s)).toEqual([...kAxes].sort());
        for (const i of s.inputs) expect(i?.partial, written(s)).toEqual([]);
        // Work splits over every assigned axis.
        expect(s.divisor, written(s)).toBe(2 ** s.factorAxes.flat().length);
      }
    }
  });

  it('elementwise Add with a broadcast bias: the bias follows the column split, the rows stay whole for it', () => {
    const got = strategies('Add', [[4, 6], [6]], mesh2x2);
    const lines = new Set(got.map(written));
    expect(lines.has('[-, x] | [x] -> [-, x]')).toBe(true);
    expect(lines.has('[x, -] | [-] -> [x, -]')).toBe(true);
    expect(lines.has('[x, y] | [y] -> [x, y]')).toBe(true);
    // 6 is not split 4 ways: no x*y on the columns; 4 rows are.
    expect([...lines].some((l) => l.includes('x*y]'))).toBe(false);
    expect(lines.has('[x*y, -] | [-] -> [x*y, -]')).toBe(true);
    for (const s of got) expect(s.outputs[0]?.dims[1], written(s)).toEqual(s.inputs[0]?.dims[1]);
  });

  it('a linear op also passes partial sums through: partial in, the same partial out', () => {
    const got = strategies('Add', [[4, 4], [4, 4]], mesh2x2);
    const partial = got.filter((s) => (s.outputs[0]?.partial.length ?? 0) > 0);
    expect(partial.length).toBeGreaterThan(0);
    for (const s of partial) {
      for (const i of s.inputs) expect(i?.partial, written(s)).toEqual(s.outputs[0]?.partial);
    }
    expect(new Set(got.map(written)).has('[-, -]+x | [-, -]+x -> [-, -]+x')).toBe(true);
    // Softmax is not linear: no partial strategies.
    expect(strategies('Softmax', [[4, 4]], mesh2x2).some((s) => (s.outputs[0]?.partial.length ?? 0) > 0)).toBe(false);
  });
});
