/** `autopar eval` through the CLI against the PyTorch reference folders, and `--save` round trips. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { compareTensors } from '../src/reference/compare.js';
import { readReference, writeReference } from '../src/reference/folder.js';
import { model, runJson } from './helpers/cli.js';
import { tempDir } from './helpers/onnx-builder.js';

const TensorError = z.object({ maxAbsError: z.number(), maxRelError: z.number() });
const EvalJson = z.object({ outputs: z.record(z.string(), TensorError) });

const tmp = tempDir('eval');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function allTensors(dir: string): Map<string, HostTensor> {
  const ref = readReference(dir);
  const out = new Map<string, HostTensor>();
  for (const [k, e] of Object.entries(ref.manifest.inputs)) out.set(`input:${k}`, ref.read(e));
  for (const [k, e] of Object.entries(ref.manifest.outputs)) out.set(`output:${k}`, ref.read(e));
  return out;
}

function expectSameTensor(got: HostTensor | undefined, want: HostTensor | undefined, what: string): void {
  if (!got || !want) throw new Error(`${what}: missing (${got ? 'want' : 'got'})`);
  expect(got.dtype, what).toBe(want.dtype);
  expect(got.shape, what).toEqual(want.shape);
  expect(Array.from(got.data), what).toEqual(Array.from(want.data));
}

describe('autopar eval --json against the reference folders', () => {
  for (const name of ['mlp', 'gpt2_tiny']) {
    it(`${name}: every output within 1e-4 relative; --save writes a folder that reads back`, async () => {
      const ref = model(`${name}.reference`);
      const saved = path.join(tmp, `${name}.saved`);
      const r = EvalJson.parse(await runJson(['eval', model(`${name}.onnx`), '--reference', ref, '--save', saved]));
      const want = readReference(ref);
      expect(Object.keys(r.outputs).sort()).toEqual(Object.keys(want.manifest.outputs).sort());
      for (const [out, err] of Object.entries(r.outputs)) {
        expect(err.maxRelError, `${name} ${out}`).toBeLessThanOrEqual(1e-4);
        expect(err.maxAbsError).toBeGreaterThanOrEqual(0);
      }

      // The saved folder reads back: its inputs are exactly the reference's, and its
      // outputs are what was compared (the same errors, recomputed independently).
      const back = readReference(saved);
      expect(Object.keys(back.manifest.inputs).sort()).toEqual(Object.keys(want.manifest.inputs).sort());
      for (const [k, e] of Object.entries(want.manifest.inputs)) {
        const be = back.manifest.inputs[k];
        if (!be) throw new Error(`saved folder lacks input '${k}'`);
        expectSameTensor(back.read(be), want.read(e), `input ${k}`);
      }
      const wantOut = Object.values(want.manifest.outputs);
      const backOut = Object.values(back.manifest.outputs);
      expect(backOut.length).toBe(wantOut.length);
      const [we, be] = [wantOut[0], backOut[0]];
      if (!we || !be) throw new Error('no outputs');
      const again = compareTensors(back.read(be), want.read(we));
      const reported = Object.values(r.outputs)[0];
      expect(again).toEqual(reported);

      // Evaluating against the saved folder: same inputs, so the same outputs.
      const self = EvalJson.parse(await runJson(['eval', model(`${name}.onnx`), '--reference', saved]));
      for (const err of Object.values(self.outputs)) expect(err.maxRelError).toBeLessThanOrEqual(1e-6);
    });
  }

  it('writeReference and readReference round-trip float32 and int64 tensors exactly', () => {
    const dir = path.join(tmp, 'roundtrip');
    const inputs = new Map<string, HostTensor>([
      ['idx', { dtype: 'int64', shape: [2, 3], data: Float64Array.from([0, 1, -2, 3, 2 ** 40, 511]) }],
      ['x/with:odd.name', { dtype: 'float32', shape: [3], data: Float32Array.from([1.5, -0.1, 3e-8]) }],
    ]);
    const outputs = new Map<string, HostTensor>([['logits', { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }]]);
    writeReference(dir, { model: 'm.onnx', inputs, outputs });
    const back = allTensors(dir);
    expectSameTensor(back.get('input:idx'), inputs.get('idx'), 'idx');
    expectSameTensor(back.get('input:x/with:odd.name'), inputs.get('x/with:odd.name'), 'odd name');
    expectSameTensor(back.get('output:logits'), outputs.get('logits'), 'logits');
    // Rewriting replaces the folder rather than mixing old and new files.
    writeReference(dir, { model: 'm.onnx', inputs: new Map(), outputs });
    expect(Object.keys(readReference(dir).manifest.inputs)).toEqual([]);
  });
});
