/**
 * `autopar inspect --json`: parameter counts without weights, symbolic dimensions bound
 * or defaulted, and forward FLOPs of matmul/conv-dominated graphs against hand counts.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { printGraph } from '../src/ir/print.js';
import { inspectModel, summarize } from '../src/inspect.js';
import { importBytes, importOnnx } from '../src/onnx/import.js';
import { model, runCli, runJson } from './helpers/cli.js';
import { buildModel, type ModelSpec, tempDir, writeModel } from './helpers/onnx-builder.js';

const Value = z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.union([z.number(), z.string()])) });
/** The fields CLI.md fixes for `inspect --json`. */
const InspectJson = z.object({
  model: z.string(),
  opset: z.number().int(),
  nodes: z.number().int(),
  parameters: z.number().int(),
  parameterBytes: z.number().int(),
  forwardFlops: z.number(),
  ops: z.record(z.string(), z.number().int()),
  inputs: z.array(Value),
  outputs: z.array(Value),
  dims: z.record(z.string(), z.number()),
  defaultedDims: z.array(z.string()),
});

const tmp = tempDir('inspect');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function flopsOf(spec: ModelSpec, dims: Record<string, number> = {}): number {
  const imp = importBytes(buildModel(spec), 'built.onnx', { dims });
  return summarize(imp.graph, imp, 'built.onnx').forwardFlops;
}

describe('autopar inspect --json on the fixtures', () => {
  it('resnet18: 11,680,872 parameters without its weights file', async () => {
    expect(fs.existsSync(model('resnet18.weights.bin'))).toBe(false);
    const r = InspectJson.parse(await runJson(['inspect', model('resnet18.onnx')]));
    expect(r.parameters).toBe(11_680_872);
    expect(r.parameterBytes).toBe(11_680_872 * 4);
    expect(r.ops['Conv']).toBe(20);
    expect(r.inputs).toEqual([{ name: 'image', dtype: 'float32', shape: [8, 3, 224, 224] }]);
    expect(r.outputs[0]?.shape).toEqual([8, 1000]);
  });

  it('gpt2_tiny_opset17 with --dim batch=8: the inputs show batch 8 and nothing is defaulted', async () => {
    const r = InspectJson.parse(await runJson(['inspect', model('gpt2_tiny_opset17.onnx'), '--dim', 'batch=8']));
    expect(r.opset).toBe(17);
    expect(r.inputs).toEqual([{ name: 'idx', dtype: 'int64', shape: [8, 64] }]);
    expect(r.outputs[0]?.shape).toEqual([8, 64, 512]);
    expect(r.dims).toEqual({ batch: 8 });
    expect(r.defaultedDims).toEqual([]);
    // Shape arithmetic was folded away: nothing of it is left to execute.
    for (const op of ['Shape', 'Range', 'ConstantOfShape']) expect(r.ops[op]).toBeUndefined();
  });

  it('gpt2_tiny_opset17 without --dim reports the defaulted batch, in JSON and in the human output', async () => {
    const r = InspectJson.parse(await runJson(['inspect', model('gpt2_tiny_opset17.onnx')]));
    expect(r.defaultedDims).toEqual(['batch']);
    expect(r.dims).toEqual({ batch: 1 });
    expect(r.inputs[0]?.shape).toEqual([1, 64]);
    const human = await runCli(['inspect', model('gpt2_tiny_opset17.onnx')]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/default.*batch|batch.*default/);
    // FLOPs scale with the batch: everything in this model is per-sample.
    const at8 = inspectModel(model('gpt2_tiny_opset17.onnx'), { dims: { batch: 8 } }).forwardFlops;
    expect(at8).toBe(8 * r.forwardFlops);
  });

  it('mlp: forward FLOPs equal the hand count from its layer sizes (512-1024-1024-512, batch 64)', () => {
    const r = inspectModel(model('mlp.onnx'));
    const B = 64;
    const layers: readonly [number, number][] = [
      [512, 1024],
      [1024, 1024],
      [1024, 512],
    ];
    // Gemm: 2*B*in*out multiply-adds plus B*out bias adds; ReLU after the first two: one op per element.
    const gemms = layers.reduce((s, [i, o]) => s + 2 * B * i * o + B * o, 0);
    const relus = B * 1024 + B * 1024;
    expect(gemms + relus).toBe(268_730_368);
    expect(r.forwardFlops).toBe(gemms + relus);
    expect(r.parameters).toBe(layers.reduce((s, [i, o]) => s + i * o + o, 0));
    expect(r.ops).toEqual({ Gemm: 3, Relu: 2 });
  });
});

describe('forward FLOPs of a conv-dominated graph (hand-computed)', () => {
  it('resnet18 at batch 8: 2 x the multiply-adds of its convs and fc, plus one op per bias, ReLU, residual add, pooling tap', () => {
    // [Cin, Cout, kernel, output side] of every conv (BatchNorm folded in: each has a bias).
    const convs: [number, number, number, number][] = [[3, 64, 7, 112]];
    const stages: [number, number, number][] = [
      [64, 64, 56],
      [64, 128, 28],
      [128, 256, 14],
      [256, 512, 7],
    ];
    for (const [cin, cout, side] of stages) {
      // Two basic blocks of two 3x3 convs; the first conv of a widening stage takes cin, and a 1x1 downsample joins it.
      convs.push([cin, cout, 3, side], [cout, cout, 3, side], [cout, cout, 3, side], [cout, cout, 3, side]);
      if (cin !== cout) convs.push([cin, cout, 1, side]);
    }
    expect(convs.length).toBe(20);
    const outputs = (c: [number, number, number, number]): number => c[1] * c[3] * c[3];
    const convMacs = convs.reduce((sum, c) => sum + outputs(c) * c[0] * c[2] * c[2], 0);
    const fcMacs = 512 * 1000;
    const biases = convs.reduce((sum, c) => sum + outputs(c), 0) + 1000;
    // ReLU after conv1 and after both convs of each block; the residual adds; the maxpool's
    // 3x3 taps per output (64 x 56 x 56); the global average pool reads 512 x 7 x 7.
    const blockOut = stages.map(([, cout, side]) => cout * side * side);
    const relus = 64 * 112 * 112 + blockOut.reduce((sum, n) => sum + 4 * n, 0);
    const adds = blockOut.reduce((sum, n) => sum + 2 * n, 0);
    const pools = 9 * 64 * 56 * 56 + 512 * 7 * 7;
    const perImage = 2 * (convMacs + fcMacs) + biases + relus + adds + pools;
    expect(convMacs + fcMacs).toBe(1_814_073_344); // torchvision's published 1.81 GMACs
    const r = inspectModel(model('resnet18.onnx'));
    expect(r.inputs[0]?.shape).toEqual([8, 3, 224, 224]);
    expect(r.forwardFlops).toBe(8 * perImage); // 29,084,188,480
  });
});

describe('forward FLOPs of single contractions (hand-computed)', () => {
  it('MatMul [B,M,K] x [K,N] = 2*B*M*K*N', () => {
    // B=3, M=5, K=7, N=11 (distinct primes, so a swapped dimension would show).
    const spec: ModelSpec = {
      inputs: [{ name: 'a', dtype: 'float32', shape: [3, 5, 7] }],
      outputs: ['y'],
      initializers: [{ name: 'w', dtype: 'float32', dims: [7, 11] }],
      nodes: [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }],
    };
    expect(flopsOf(spec)).toBe(2 * 3 * 5 * 7 * 11); // 2310
  });

  it('MatMul with a symbolic batch counts at the bound batch', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'a', dtype: 'float32', shape: ['batch', 4, 6] }],
      outputs: ['y'],
      initializers: [{ name: 'w', dtype: 'float32', dims: [6, 2] }],
      nodes: [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }],
    };
    expect(flopsOf(spec, { batch: 10 })).toBe(2 * 10 * 4 * 6 * 2); // 960
  });

  it('batched MatMul [B,M,K] x [B,K,N] (attention scores)', () => {
    const spec: ModelSpec = {
      inputs: [
        { name: 'q', dtype: 'float32', shape: [2, 3, 8, 5] },
        { name: 'k', dtype: 'float32', shape: [2, 3, 5, 8] },
      ],
      outputs: ['s'],
      nodes: [{ op: 'MatMul', inputs: ['q', 'k'], outputs: ['s'] }],
    };
    expect(flopsOf(spec)).toBe(2 * (2 * 3) * 8 * 5 * 8); // 3840
  });

  it('Gemm with transB and bias: 2*M*K*N + M*N', () => {
    // x[M=4,K=6] * W[N=5,K=6]^T + b[5]
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'float32', shape: [4, 6] }],
      outputs: ['y'],
      initializers: [
        { name: 'W', dtype: 'float32', dims: [5, 6] },
        { name: 'b', dtype: 'float32', dims: [5] },
      ],
      nodes: [{ op: 'Gemm', inputs: ['x', 'W', 'b'], outputs: ['y'], attrs: { transB: { int: 1 } } }],
    };
    expect(flopsOf(spec)).toBe(2 * 4 * 6 * 5 + 4 * 5); // 260
  });

  it('Gemm with transA and no bias: 2*M*K*N', () => {
    // x[K=6,M=4]^T * W[K=6,N=3]
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'float32', shape: [6, 4] }],
      outputs: ['y'],
      initializers: [{ name: 'W', dtype: 'float32', dims: [6, 3] }],
      nodes: [{ op: 'Gemm', inputs: ['x', 'W'], outputs: ['y'], attrs: { transA: { int: 1 } } }],
    };
    expect(flopsOf(spec)).toBe(2 * 4 * 6 * 3); // 144
  });

  it('Conv with stride, asymmetric padding, groups and bias', () => {
    // N=2, Cin=4, H=9, W=7; Cout=6, group=2 (weight [6, 2, 3, 2]); stride [2,1];
    // pads [top=1, left=0, bottom=1, right=1].
    // Hout = floor((9 + 1 + 1 - 3) / 2) + 1 = 5; Wout = floor((7 + 0 + 1 - 2) / 1) + 1 = 7.
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 4, 9, 7] }],
      outputs: ['y'],
      initializers: [
        { name: 'w', dtype: 'float32', dims: [6, 2, 3, 2] },
        { name: 'b', dtype: 'float32', dims: [6] },
      ],
      nodes: [
        {
          op: 'Conv',
          inputs: ['x', 'w', 'b'],
          outputs: ['y'],
          attrs: { group: { int: 2 }, strides: { ints: [2, 1] }, pads: { ints: [1, 0, 1, 1] }, kernel_shape: { ints: [3, 2] } },
        },
      ],
    };
    const imp = importBytes(buildModel(spec), 'conv.onnx');
    expect(imp.graph.types.get('y')?.shape).toEqual([2, 6, 5, 7]);
    // 2 * N*Cout*Hout*Wout * (Cin/g)*kh*kw + N*Cout*Hout*Wout
    expect(flopsOf(spec)).toBe(2 * (2 * 6 * 5 * 7) * (2 * 3 * 2) + 2 * 6 * 5 * 7); // 10500
  });

  it('Conv without bias, dilation 2, SAME_UPPER', () => {
    // N=1, Cin=3, 8x8, Cout=4, kernel 3x3 dilated by 2, stride 2, SAME_UPPER: out 4x4.
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
      outputs: ['y'],
      initializers: [{ name: 'w', dtype: 'float32', dims: [4, 3, 3, 3] }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: { ints: [2, 2] }, dilations: { ints: [2, 2] }, auto_pad: { string: 'SAME_UPPER' } } }],
    };
    const imp = importBytes(buildModel(spec), 'conv.onnx');
    expect(imp.graph.types.get('y')?.shape).toEqual([1, 4, 4, 4]);
    expect(flopsOf(spec)).toBe(2 * (1 * 4 * 4 * 4) * (3 * 3 * 3)); // 3456
  });

  it('the CLI reports the same FLOPs as the API for a built conv model', async () => {
    const file = writeModel(tmp, 'conv', {
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 4, 9, 7] }],
      outputs: ['y'],
      initializers: [{ name: 'w', dtype: 'float32', dims: [6, 2, 3, 2] }],
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { group: { int: 2 }, strides: { ints: [2, 1] }, pads: { ints: [1, 0, 1, 1] } } }],
    });
    const r = InspectJson.parse(await runJson(['inspect', file]));
    expect(r.forwardFlops).toBe(2 * (2 * 6 * 5 * 7) * (2 * 3 * 2)); // 10080
    expect(r.parameters).toBe(6 * 2 * 3 * 2);
  });
});

describe('autopar inspect --print-ir', () => {
  it('prints the imported IR on stderr (after dce by default), the --json on stdout untouched', async () => {
    const r = await runCli(['inspect', model('mlp.onnx'), '--print-ir', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(InspectJson.parse(JSON.parse(r.stdout)).parameters).toBe(2_099_712);
    expect(r.stderr).toBe(`// after dce\n${printGraph(importOnnx(model('mlp.onnx')).graph)}`);
  });

  it("'all' prints after each import pass, in order; the last is the graph import returns", async () => {
    const r = await runCli(['inspect', model('gpt2_tiny_opset17.onnx'), '--dim', 'batch=8', '--print-ir', 'all']);
    expect(r.status, r.stderr).toBe(0);
    const after = [...r.stderr.matchAll(/^\/\/ after (\S+)$/gm)].map((m) => m[1]);
    expect(after).toEqual(['infer-shapes', 'dce']);
    const last = r.stderr.slice(r.stderr.indexOf('// after dce\n') + '// after dce\n'.length);
    expect(last).toBe(printGraph(importOnnx(model('gpt2_tiny_opset17.onnx'), { dims: { batch: 8 } }).graph));
    expect(last).toContain('input idx: int64[8,64]');
  });

  it('an unknown pass is a usage error (exit 2) naming the choices', async () => {
    const r = await runCli(['inspect', model('mlp.onnx'), '--print-ir', 'bogus']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("autopar: --print-ir must be one of infer-shapes, dce, all, got 'bogus'\n");
  });
});
