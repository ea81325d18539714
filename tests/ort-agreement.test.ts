/**
 * onnxruntime and autopar's single-device executor agree on every fixture model that
 * carries its weights, on seeded random inputs (README's measure: max|got-want|/max|want|).
 */
import { describe, expect, it } from 'vitest';
import type { DType } from '../src/ir/dtype.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import type { Graph } from '../src/ir/types.js';
import { importOnnx } from '../src/onnx/import.js';
import { compareTensors } from '../src/reference/compare.js';
import { execute } from '../src/runtime/executor.js';
import { model } from './helpers/cli.js';
import { runOrt } from './helpers/ort.js';
import { Rng } from './helpers/random.js';

const TOLERANCE = 1e-4;

/** The size of the table an integer input indexes (an embedding's vocabulary). */
function indexRange(g: Graph, input: string): number {
  for (const n of g.nodes) {
    if (n.op !== 'Gather' || n.inputs[1] !== input) continue;
    const table = g.types.get(n.inputs[0] ?? '');
    const axis = n.attrs.get('axis');
    const ax = axis?.kind === 'int' ? axis.value : 0;
    const size = table?.shape[ax < 0 ? ax + table.shape.length : ax];
    if (typeof size === 'number') return size;
  }
  throw new Error(`integer input '${input}' feeds no Gather: cannot tell its range`);
}

function randomFeeds(g: Graph, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const feeds = new Map<string, HostTensor>();
  for (const inp of g.inputs) {
    const shape = inp.type.shape.map((d) => {
      if (typeof d !== 'number') throw new Error(`input '${inp.name}' still has symbolic dim ${d}`);
      return d;
    });
    const n = shape.reduce((p, d) => p * d, 1);
    const dtype: DType = inp.type.dtype;
    if (dtype === 'float32') {
      feeds.set(inp.name, { dtype, shape, data: Float32Array.from({ length: n }, () => rng.uniform(-1, 1)) });
    } else if (dtype === 'int64' || dtype === 'int32') {
      const range = indexRange(g, inp.name);
      feeds.set(inp.name, { dtype, shape, data: Float64Array.from({ length: n }, () => rng.int(0, range)) });
    } else {
      throw new Error(`no random generator for ${dtype} input '${inp.name}'`);
    }
  }
  return feeds;
}

const CASES: readonly { file: string; dims: Record<string, number>; seed: number }[] = [
  { file: 'mlp.onnx', dims: {}, seed: 1 },
  { file: 'gpt2_tiny.onnx', dims: {}, seed: 2 },
  { file: 'gpt2_tiny_opset17.onnx', dims: { batch: 2 }, seed: 3 },
  { file: 'gpt2_tiny_opset17.onnx', dims: { batch: 8 }, seed: 4 },
];

describe('onnxruntime agreement on the fixture models', () => {
  for (const c of CASES) {
    const label = `${c.file}${Object.keys(c.dims).length ? ` (${Object.entries(c.dims).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`;
    it(`${label}: outputs agree within ${TOLERANCE}`, async () => {
      const file = model(c.file);
      const { graph } = importOnnx(file, { dims: c.dims });
      expect(graph.inputs.length).toBeGreaterThan(0);
      const feeds = randomFeeds(graph, c.seed);
      const want = await runOrt(file, feeds);
      const got = (await execute(graph, feeds)).outputs;
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, w] of want) {
        const g = got.get(name);
        if (!g) throw new Error(`autopar produced no output '${name}'`);
        expect(g.shape).toEqual(w.shape);
        // The inputs must exercise the model: a constant output would agree trivially.
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of w.data) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        expect(hi - lo).toBeGreaterThan(0);
        const err = compareTensors(g, w);
        expect(err.maxRelError, `${label} output '${name}': ${JSON.stringify(err)}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }

  it('resnet18 imports without its weights but executing it names the missing resnet18.weights.bin', async () => {
    const { graph } = importOnnx(model('resnet18.onnx'));
    const feeds = randomFeeds(graph, 5);
    await expect(execute(graph, feeds)).rejects.toMatchObject({
      name: 'AutoparError',
      code: 'E_WEIGHTS',
      message: expect.stringContaining('resnet18.weights.bin'),
    });
  });
});
