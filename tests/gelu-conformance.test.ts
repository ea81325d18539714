/**
 * Gelu has no case in the vendored ONNX conformance data (it entered ONNX at opset 20,
 * ONNX 1.15; libonnx-testdata is 1.12), so onnx-conformance.test.ts allows it none. This
 * is its forward check instead: ONNX's own Gelu cases (onnx/backend/test/case/node/gelu.py:
 * test_gelu_default_{1,2}, test_gelu_tanh_{1,2}) rebuilt at opset 20, run by the
 * executor, and compared with the values ONNX states, with the defining formula in
 * float64, and with onnxruntime.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { importOnnx } from '../src/onnx/import.js';
import { compareTensors } from '../src/reference/compare.js';
import { execute } from '../src/runtime/executor.js';
import { type AttrSpec, tempDir, writeModel } from './helpers/onnx-builder.js';
import { runOrt } from './helpers/ort.js';
import { Rng } from './helpers/random.js';

const TOLERANCE = 1e-4;
const tmp = tempDir('gelu');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Approximate = 'none' | 'tanh';

/** erf to ~1e-15 (Abramowitz-Stegun 7.1.26 is too coarse for a reference): its Taylor series, then the continued fraction of erfc. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f);
}

function gelu(x: number, approximate: Approximate): number {
  return approximate === 'tanh' ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))) : 0.5 * x * (1 + erf(x / Math.SQRT2));
}

function modelFile(label: string, shape: readonly number[], approximate: Approximate): string {
  const attrs: Record<string, AttrSpec> = approximate === 'tanh' ? { approximate: { string: 'tanh' } } : {};
  return writeModel(tmp, label, {
    opset: 20,
    inputs: [{ name: 'x', dtype: 'float32', shape: [...shape] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [...shape] }],
    nodes: [{ op: 'Gelu', name: 'gelu', inputs: ['x'], outputs: ['y'], attrs }],
  });
}

async function run(file: string, x: HostTensor): Promise<HostTensor> {
  const { graph } = importOnnx(file);
  expect(graph.opset).toBe(20);
  expect(graph.nodes.map((n) => n.op)).toEqual(['Gelu']);
  const y = (await execute(graph, new Map([['x', x]]))).outputs.get('y');
  if (!y) throw new Error('no output y');
  return y;
}

describe("ONNX's Gelu cases (opset 20), forward", () => {
  // The expected outputs ONNX's gelu.py states for x = [-1, 0, 1].
  const STATED: Readonly<Record<Approximate, readonly number[]>> = {
    none: [-0.15865526, 0, 0.84134474],
    tanh: [-0.158808, 0, 0.841192],
  };

  for (const approximate of ['none', 'tanh'] as const) {
    const name = approximate === 'none' ? 'test_gelu_default' : 'test_gelu_tanh';

    it(`${name}_1: x = [-1, 0, 1] gives ONNX's stated values`, async () => {
      const x: HostTensor = { dtype: 'float32', shape: [3], data: Float32Array.from([-1, 0, 1]) };
      const file = modelFile(`${name}_1`, [3], approximate);
      const got = await run(file, x);
      const stated: HostTensor = { dtype: 'float32', shape: [3], data: Float32Array.from(STATED[approximate]) };
      // ONNX states 6 to 8 digits; the formula itself agrees with them to that.
      expect(compareTensors(got, stated).maxAbsError).toBeLessThan(1e-6);
      const formula: HostTensor = { dtype: 'float32', shape: [3], data: Float64Array.from([-1, 0, 1], (v) => gelu(v, approximate)) };
      expect(compareTensors(got, formula).maxRelError).toBeLessThanOrEqual(TOLERANCE);
      const ort = (await runOrt(file, new Map([['x', x]]))).get('y');
      if (!ort) throw new Error('onnxruntime gave no y');
      expect(compareTensors(got, ort).maxRelError).toBeLessThanOrEqual(TOLERANCE);
    });

    it(`${name}_2: x ~ N(0, 1) of shape [3, 4, 5] (seeded) agrees with the formula and with onnxruntime`, async () => {
      const rng = new Rng(approximate === 'none' ? 20 : 21);
      const n = 3 * 4 * 5;
      // Box-Muller normals, as np.random.randn; scaled by 3 so that both tails are exercised.
      const data = Float32Array.from({ length: n }, () => 3 * Math.sqrt(-2 * Math.log(1 - rng.uniform(0, 1))) * Math.cos(2 * Math.PI * rng.uniform(0, 1)));
      const x: HostTensor = { dtype: 'float32', shape: [3, 4, 5], data };
      const file = modelFile(`${name}_2`, [3, 4, 5], approximate);
      const got = await run(file, x);
      expect(got.shape).toEqual([3, 4, 5]);
      const formula: HostTensor = { dtype: 'float32', shape: [3, 4, 5], data: Float64Array.from(data, (v) => gelu(v, approximate)) };
      const vsFormula = compareTensors(got, formula);
      expect(vsFormula.maxRelError, JSON.stringify(vsFormula)).toBeLessThanOrEqual(TOLERANCE);
      const ort = (await runOrt(file, new Map([['x', x]]))).get('y');
      if (!ort) throw new Error('onnxruntime gave no y');
      const vsOrt = compareTensors(got, ort);
      expect(vsOrt.maxRelError, JSON.stringify(vsOrt)).toBeLessThanOrEqual(TOLERANCE);
      console.log(`${name}_2: maxRelError vs formula ${vsFormula.maxRelError.toExponential(2)}, vs onnxruntime ${vsOrt.maxRelError.toExponential(2)}`);
    });
  }

  it('the two approximations differ on these inputs (a kernel ignoring the attribute would fail one case)', () => {
    expect(Math.abs(gelu(-1, 'none') - gelu(-1, 'tanh'))).toBeGreaterThan(1e-4);
    expect(Math.abs(gelu(2.5, 'none') - gelu(2.5, 'tanh'))).toBeGreaterThan(1e-4);
  });
});
