/**
 * ONNX import of the symbolic-batch fixtures as PyTorch wrote them: after binding the
 * dims, the shape arithmetic (Shape, Gather, Unsqueeze, Concat, Range, Slice, Cast, ...)
 * is folded away and every value has a concrete static shape; external weights are
 * referenced, not read; gpt_350m (24 blocks, d=1024) imports in well under a minute.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AutoparError } from '../src/errors.js';
import type { Graph } from '../src/ir/types.js';
import { isExternal } from '../src/ir/types.js';
import { importBytes, importOnnx } from '../src/onnx/import.js';
import { model } from './helpers/cli.js';
import { buildModel, type ModelSpec } from './helpers/onnx-builder.js';

/** Ops PyTorch emits for dynamic-batch shape arithmetic. */
const SHAPE_ARITHMETIC = ['Shape', 'Range', 'ConstantOfShape', 'Unsqueeze', 'Concat', 'Cast', 'Slice'];

function opCounts(g: Graph): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of g.nodes) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
}

function nonStatic(g: Graph): string[] {
  return [...g.types].filter(([, t]) => t.shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)).map(([n]) => n);
}

describe('ONNX import folds shape arithmetic to static shapes', () => {
  it('gpt2_tiny_opset17 with batch=8: Shape/Range/Slice/Concat/... folded, every value static', () => {
    const r = importOnnx(model('gpt2_tiny_opset17.onnx'), { dims: { batch: 8 } });
    expect(r.symbolicDims).toEqual(['batch']);
    const raw = opCounts(r.raw);
    // The model as exported does carry the shape arithmetic...
    for (const op of ['Shape', 'Range', 'Unsqueeze', 'Concat', 'Cast', 'Slice']) expect(raw[op], `raw ${op}`).toBeGreaterThan(0);
    expect(nonStatic(r.raw)).not.toEqual([]);
    // ...and after import none of it is left, and nothing is symbolic.
    const got = opCounts(r.graph);
    for (const op of SHAPE_ARITHMETIC) expect(got[op], `${op} left after import`).toBeUndefined();
    expect(nonStatic(r.graph)).toEqual([]);
    expect(r.graph.nodes.length).toBeLessThan(r.raw.nodes.length);
    // Every Reshape target is a known constant.
    for (const n of r.graph.nodes.filter((x) => x.op === 'Reshape')) expect(r.graph.constants.has(n.inputs[1] ?? ''), n.name).toBe(true);
    expect(r.graph.types.get('output')?.shape).toEqual([8, 64, 512]);
  });

  it('gpt_350m (graph only) with batch=4: static shapes, weights referenced not read, fast', () => {
    const weights = model('gpt_350m.weights.bin');
    expect(fs.existsSync(weights)).toBe(false);
    const t0 = performance.now();
    const r = importOnnx(model('gpt_350m.onnx'), { dims: { batch: 4 } });
    const seconds = (performance.now() - t0) / 1000;
    console.log(`gpt_350m import + shape inference: ${seconds.toFixed(2)} s, ${r.graph.nodes.length} nodes`);
    // A second or two on a quiet machine (bench/import-gpt350m.ts measures it); minutes would fail.
    expect(seconds).toBeLessThan(30);
    expect(nonStatic(r.graph)).toEqual([]);
    const got = opCounts(r.graph);
    for (const op of SHAPE_ARITHMETIC.filter((o) => o !== 'Cast' && o !== 'Slice')) expect(got[op], `${op} left after import`).toBeUndefined();
    // 24 blocks of 6 MatMuls (q, k, v folded into one projection: qkv, scores, context, proj, fc1, fc2) plus the head.
    expect(got['MatMul']).toBe(24 * 6 + 1);
    expect(r.graph.types.get('output')?.shape).toEqual([4, 1024, 50257]);
    const inits = [...r.graph.initializers.values()];
    expect(inits.length).toBeGreaterThan(0);
    for (const i of inits) expect(isExternal(i.data), i.name).toBe(true);
    expect(new Set(inits.map((i) => (isExternal(i.data) ? i.data.location : '')))).toEqual(new Set(['gpt_350m.weights.bin']));
  });
});

describe('opsets 13 to 21', () => {
  /** x[2,6] -> ReduceMean over axis 1 (axes an attribute before opset 18, an input from 18) -> Softmax (default axis -1). */
  function reduceModel(opset: number): ModelSpec {
    const axesAsInput = opset >= 18;
    return {
      opset,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 6] }],
      outputs: ['y'],
      initializers: axesAsInput ? [{ name: 'axes', dtype: 'int64', dims: [1], values: [1] }] : [],
      nodes: [
        axesAsInput
          ? { op: 'ReduceMean', name: 'mean', inputs: ['x', 'axes'], outputs: ['m'], attrs: { keepdims: { int: 0 } } }
          : { op: 'ReduceMean', name: 'mean', inputs: ['x'], outputs: ['m'], attrs: { axes: { ints: [1] }, keepdims: { int: 0 } } },
        { op: 'Softmax', name: 'sm', inputs: ['m'], outputs: ['y'] },
      ],
    };
  }

  for (let opset = 13; opset <= 21; opset++) {
    it(`opset ${opset} imports, with that opset's form of ReduceMean's axes`, () => {
      const { graph } = importBytes(buildModel(reduceModel(opset)), `opset${opset}.onnx`);
      expect(graph.opset).toBe(opset);
      expect(graph.types.get('m')?.shape).toEqual([2]);
      expect(graph.types.get('y')?.shape).toEqual([2]);
    });
  }

  for (const opset of [12, 22]) {
    it(`opset ${opset} is refused, saying which opsets are supported`, () => {
      let caught: unknown;
      try {
        importBytes(buildModel(reduceModel(opset)), `opset${opset}.onnx`);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(AutoparError);
      expect(caught instanceof AutoparError ? caught.message : '').toContain(`opset${opset}.onnx: opset ${opset} is not supported (supported: 13 to 21)`);
    });
  }
});
