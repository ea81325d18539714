/**
 * Golden test of the IR's textual form (src/ir/print.ts) for a tiny built model: the
 * decoded graph (symbolic batch, shape arithmetic still present) and the imported one
 * (batch bound, shape arithmetic folded, dead code gone). The expected text lives in
 * tests/golden/; a change to it shows in review. `UPDATE_GOLDEN=1 npx vitest run
 * tests/print-golden.test.ts` rewrites it after an intended change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { printGraph } from '../src/ir/print.js';
import { importBytes } from '../src/onnx/import.js';
import { ROOT } from './helpers/cli.js';
import { buildModel, type ModelSpec } from './helpers/onnx-builder.js';

const GOLDEN = path.join(ROOT, 'tests', 'golden', 'print-tiny.txt');

/** x[batch,4] -> Gemm(W[3,4]^T, b) -> Relu -> Reshape to [batch, 3, 1] by shape arithmetic, plus a dead branch. */
const TINY: ModelSpec = {
  name: 'tiny',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 3, 1] }],
  initializers: [
    { name: 'fc.weight', dtype: 'float32', dims: [3, 4], values: [0.5, -0.25, 1, 2, 0, 0.125, -1, 3, 1.5, 0.75, -0.5, 0.1] },
    { name: 'fc.bias', dtype: 'float32', dims: [3], external: { location: 'tiny.weights.bin', offset: 64 } },
    { name: 'unused', dtype: 'float32', dims: [2] },
  ],
  nodes: [
    { op: 'Gemm', name: 'fc', inputs: ['x', 'fc.weight', 'fc.bias'], outputs: ['h'], attrs: { transB: { int: 1 }, alpha: { float: 1 } } },
    { op: 'Relu', name: 'act', inputs: ['h'], outputs: ['r'] },
    { op: 'Shape', name: 'shape', inputs: ['r'], outputs: ['s'] },
    { op: 'Constant', name: 'one', inputs: [], outputs: ['c1'], attrs: { value: { tensor: { name: '', dtype: 'int64', dims: [1], values: [1] } } } },
    { op: 'Concat', name: 'cat', inputs: ['s', 'c1'], outputs: ['target'], attrs: { axis: { int: 0 } } },
    { op: 'Reshape', name: 'reshape', inputs: ['r', 'target'], outputs: ['y'] },
    { op: 'Neg', name: 'dead', inputs: ['unused'], outputs: ['z'] },
  ],
};

function render(): string {
  const imp = importBytes(buildModel(TINY), 'tiny.onnx', { dims: { batch: 2 } });
  return `// decoded\n${printGraph(imp.raw)}// imported with batch=2\n${printGraph(imp.graph)}`;
}

describe('printGraph golden', () => {
  it('tiny model: decoded and imported forms match tests/golden/print-tiny.txt', () => {
    const text = render();
    if (process.env['UPDATE_GOLDEN'] === '1' || !fs.existsSync(GOLDEN)) {
      fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
      fs.writeFileSync(GOLDEN, text);
      if (process.env['UPDATE_GOLDEN'] !== '1') throw new Error(`${GOLDEN} did not exist: wrote it; review and commit it, then rerun`);
    }
    expect(text).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });

  it('printing is deterministic and does not depend on initializer order', () => {
    const reordered: ModelSpec = { ...TINY, initializers: [...(TINY.initializers ?? [])].reverse() };
    const a = importBytes(buildModel(TINY), 'tiny.onnx', { dims: { batch: 2 } });
    const b = importBytes(buildModel(reordered), 'tiny.onnx', { dims: { batch: 2 } });
    expect(printGraph(b.graph)).toBe(printGraph(a.graph));
  });
});
