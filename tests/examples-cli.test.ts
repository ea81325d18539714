/**
 * `autopar examples` through the CLI: every preset (GPT-3 125M to 175B, BERT, Wide-ResNet)
 * is written graph only and imported by `autopar inspect` quickly, with the size its name
 * claims; small models with --weights pass `autopar eval` against onnxruntime's outputs;
 * a generated GPT plans with `autopar compile` and trains with `autopar run`; mistakes
 * name their flag.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PRESETS } from '../src/examples/presets.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { writeReference } from '../src/reference/folder.js';
import { runCli, runJson } from './helpers/cli.js';
import { tempDir } from './helpers/onnx-builder.js';
import { runOrt } from './helpers/ort.js';
import { Rng } from './helpers/random.js';

const tmp = tempDir('examples-cli');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Inspected {
  parameters: number;
  nodes: number;
  externalWeights: string[];
  inputs: { name: string; dtype: string; shape: (number | string)[] }[];
}

describe('autopar examples --preset: graph only, imported quickly, nominal sizes', () => {
  for (const [name, preset] of Object.entries(PRESETS)) {
    it(`${name}: written without weights, inspect reports ${preset.nominal.toExponential(2)} parameters within 3%`, async () => {
      const file = path.join(tmp, `${name}.onnx`);
      const gen = (await runJson(['examples', preset.arch, '--preset', name, '-o', file])) as { parameters: number; weightsWritten: boolean; weightsFile: string; modelBytes: number };
      expect(gen.weightsWritten).toBe(false);
      expect(fs.existsSync(gen.weightsFile)).toBe(false);
      // Graph only: GPT-175B's 700 GB of weights are references in a file of about a megabyte.
      expect(fs.statSync(file).size).toBe(gen.modelBytes);
      expect(gen.modelBytes).toBeLessThan(4 << 20);
      const t0 = performance.now();
      const r = (await runJson(['inspect', file, '--dim', 'batch=8'])) as Inspected;
      const seconds = (performance.now() - t0) / 1000;
      expect(seconds).toBeLessThan(30); // about 2 s for 175B, process start included
      expect(r.parameters).toBe(gen.parameters);
      expect(Math.abs(r.parameters / preset.nominal - 1)).toBeLessThan(0.03);
      expect(r.externalWeights).toEqual([`${name}.weights.bin`]);
      expect(r.inputs[0]?.shape[0]).toBe(8);
      expect(fs.existsSync(gen.weightsFile)).toBe(false);
    });
  }
});

describe('autopar examples moe on a GPT-3 shape', () => {
  it('moe --preset gpt3-175b: 48 mixture layers of 8 experts, graph only, imported with the count the generator wrote', async () => {
    const file = path.join(tmp, 'moe-175b.onnx');
    const gen = (await runJson(['examples', 'moe', '--preset', 'gpt3-175b', '-o', file])) as { parameters: number; weightsFile: string };
    const r = (await runJson(['inspect', file])) as Inspected & { ops: Record<string, number> };
    expect(r.parameters).toBe(gen.parameters);
    // Half the 96 MLPs become 8 experts each: about 175B + 48 x 7 x 8 h^2 = 581B.
    expect(r.parameters / 580.5e9).toBeCloseTo(1, 2);
    expect(r.ops.Einsum).toBe(4 * 48);
    expect(fs.existsSync(gen.weightsFile)).toBe(false);
  });
});

function feedsFor(inputs: Inspected['inputs'], vocab: number, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const feeds = new Map<string, HostTensor>();
  for (const inp of inputs) {
    const shape = inp.shape.map((d) => (typeof d === 'number' ? d : 2));
    const n = shape.reduce((p, d) => p * d, 1);
    if (inp.dtype === 'float32') feeds.set(inp.name, { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => rng.uniform(-1, 1)) });
    else if (inp.name === 'attention_mask') feeds.set(inp.name, { dtype: 'int64', shape, data: Float64Array.from({ length: n }, (_, i) => (i % 16 < 12 ? 1 : 0)) });
    else feeds.set(inp.name, { dtype: 'int64', shape, data: Float64Array.from({ length: n }, () => rng.int(0, vocab)) });
  }
  return feeds;
}

describe('autopar examples --weights, then autopar eval against onnxruntime', () => {
  const cases: readonly [string, string[]][] = [
    ['gpt', ['--layers', '2', '--hidden', '64', '--heads', '4', '--seq', '16', '--vocab', '100']],
    ['bert', ['--layers', '2', '--hidden', '64', '--heads', '4', '--seq', '16', '--vocab', '100']],
    ['moe', ['--layers', '2', '--hidden', '64', '--heads', '4', '--seq', '16', '--vocab', '100', '--experts', '4', '--top-k', '1']],
    ['wide-resnet', ['--layers', '14', '--channels', '8', '--image', '32', '--classes', '10', '--batchnorm']],
  ];
  for (const [arch, flags] of cases) {
    it(`${arch}: eval's outputs are onnxruntime's within 1e-4`, async () => {
      const file = path.join(tmp, `run-${arch}.onnx`);
      const gen = (await runJson(['examples', arch, ...flags, '--weights', '4', '-o', file])) as { weightsWritten: boolean };
      expect(gen.weightsWritten).toBe(true);
      const shown = (await runJson(['inspect', file])) as Inspected;
      const inputs = feedsFor(shown.inputs, 100, 21);
      const ref = path.join(tmp, `run-${arch}.reference`);
      writeReference(ref, { model: path.basename(file), inputs, outputs: await runOrt(file, inputs) });
      const r = (await runJson(['eval', file, '--reference', ref])) as { outputs: Record<string, { maxRelError: number }> };
      const errors = Object.values(r.outputs);
      expect(errors.length).toBe(1);
      for (const e of errors) expect(e.maxRelError).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe('autopar compile on a generated GPT', () => {
  it('plans a training step for --batch 8 on a 1x2 cluster and writes plan.json', async () => {
    const file = path.join(tmp, 'plan-gpt.onnx');
    await runJson(['examples', 'gpt', '--layers', '2', '--hidden', '64', '--heads', '4', '--seq', '32', '--vocab', '128', '-o', file]);
    const out = path.join(tmp, 'plan-gpt.autopar');
    const r = (await runJson(['compile', file, '--batch', '8', '--cluster', 'examples/clusters/1x2-a100.yaml', '--out', out])) as {
      devices: number;
      stepTimeSeconds: number;
      solver: { gap: number };
      plan: string;
    };
    expect(r.devices).toBe(2);
    expect(r.stepTimeSeconds).toBeGreaterThan(0);
    expect(r.solver.gap).toBeLessThanOrEqual(0.01);
    expect(fs.existsSync(path.join(out, 'plan.json'))).toBe(true);
  });
});

describe('autopar run on a generated GPT with --weights', () => {
  it('trains on a 2-stage pipeline: the first loss is ln(vocab) at random init, and it falls', async () => {
    const file = path.join(tmp, 'train-gpt.onnx');
    await runJson(['examples', 'gpt', '--layers', '2', '--hidden', '64', '--heads', '4', '--seq', '32', '--vocab', '128', '--weights', '2', '-o', file]);
    const out = path.join(tmp, 'train-gpt.autopar');
    const plan = ['compile', file, '--batch', '4', '--cluster', 'examples/clusters/1x2-a100.yaml', '--loss', 'cross-entropy', '--strategy', 'dp=1,tp=1,pp=2', '--out', out];
    await runJson(plan);
    const r = (await runJson(['run', out, '--steps', '3'])) as { loss: number[] };
    expect(r.loss.length).toBe(3);
    expect(r.loss[0]).toBeCloseTo(Math.log(128), 0);
    expect(r.loss[2]).toBeLessThan(r.loss[0] ?? 0);
  });
});

describe('autopar examples: mistakes', () => {
  const cases: readonly [string, string[], RegExp][] = [
    ['an unknown architecture', ['examples', 'llama', '-o', 'x.onnx'], /unknown architecture 'llama'; expected one of: gpt, bert, wide-resnet, moe/],
    ['a flag of another architecture', ['examples', 'gpt', '--experts', '4', '-o', 'x.onnx'], /--experts does not apply to gpt; it is for moe/],
    ['a zero size', ['examples', 'gpt', '--layers', '0', '-o', 'x.onnx'], /--layers expects a positive integer, got '0'/],
    ['a bad batch name', ['examples', 'gpt', '--batch', '-3', '-o', 'x.onnx'], /--batch expects a size \(e\.g\. 8\) or a symbolic dimension name/],
    ['a bad seed', ['examples', 'gpt', '--weights', 'abc', '-o', 'x.onnx'], /--weights takes an optional seed, a non-negative integer; got 'abc'/],
    ['weights for GPT-175B', ['examples', 'gpt', '--preset', 'gpt3-175b', '--weights', '-o', 'x.onnx'], /--weights would write 650\.\d GiB .*drop --weights/],
    ['no output file', ['examples', 'gpt'], /required option '-o, --out <file>'/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2, one line naming the flag, nothing written`, async () => {
      const r = await runCli(args.map((a) => (a === 'x.onnx' ? path.join(tmp, 'x.onnx') : a)));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(fs.existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
    });
  }
});
