/**
 * The example-model generator (src/examples): configurations resolve as documented, small
 * models with written weights compute the same in onnxruntime and in autopar's executor,
 * graph-only models reference weights they do not write, and the MoE layer routes tokens
 * within its capacity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bertParameters } from '../src/examples/bert.js';
import { type ExampleOptions, generateExample, resolveExample } from '../src/examples/generate.js';
import { gptParameters } from '../src/examples/gpt.js';
import { moeCapacity, moeParameters } from '../src/examples/moe.js';
import type { Arch } from '../src/examples/presets.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import type { Graph } from '../src/ir/types.js';
import { importOnnx } from '../src/onnx/import.js';
import { onnx, toNum } from '../src/onnx/proto.js';
import { compareTensors } from '../src/reference/compare.js';
import { execute } from '../src/runtime/executor.js';
import { tempDir } from './helpers/onnx-builder.js';
import { runOrt } from './helpers/ort.js';
import { Rng } from './helpers/random.js';

const dir = tempDir('examples-gen');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Token ids below the vocabulary, an attention mask with padding, images in [-1, 1). */
function exampleFeeds(g: Graph, vocab: number, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const feeds = new Map<string, HostTensor>();
  for (const inp of g.inputs) {
    const shape = inp.type.shape.map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((p, d) => p * d, 1);
    const last = shape[shape.length - 1] ?? 1;
    if (inp.type.dtype === 'float32') feeds.set(inp.name, { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => rng.uniform(-1, 1)) });
    // Row r pads its last 4r positions, so the mask matters and no row is all padding.
    else if (inp.name === 'attention_mask') feeds.set(inp.name, { dtype: 'int64', shape, data: Float64Array.from({ length: n }, (_, i) => (i % last < last - 4 * Math.floor(i / last) ? 1 : 0)) });
    else feeds.set(inp.name, { dtype: 'int64', shape, data: Float64Array.from({ length: n }, () => rng.int(0, vocab)) });
  }
  return feeds;
}

function spread(t: HostTensor): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of t.data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi - lo;
}

const SMALL: readonly { arch: Arch; opts: ExampleOptions; vocab: number }[] = [
  { arch: 'gpt', opts: { layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128 }, vocab: 128 },
  { arch: 'bert', opts: { layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128 }, vocab: 128 },
  { arch: 'moe', opts: { layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128, experts: 4, topK: 2 }, vocab: 128 },
  { arch: 'wide-resnet', opts: { layers: 14, channels: 8, widen: 2, image: 32, classes: 10 }, vocab: 0 },
  { arch: 'wide-resnet', opts: { layers: 14, channels: 8, widen: 2, image: 32, classes: 10, batchNorm: true }, vocab: 0 },
];

describe('example models with written weights: onnxruntime and the executor agree', () => {
  SMALL.forEach((c, i) => {
    const label = `${c.arch}${c.opts.batchNorm ? ' (BatchNormalization kept)' : ''}`;
    it(`${label}: max|got-want|/max|want| <= 1e-4 at batch 2`, async () => {
      const file = path.join(dir, `small${i}.onnx`);
      const r = generateExample(c.arch, { ...c.opts, seed: 11 + i }, file);
      expect(r.weightsWritten).toBe(true);
      expect(fs.statSync(r.weightsFile).size).toBe(r.weightsBytes);
      const { graph } = importOnnx(file, { dims: { batch: 2 } });
      const feeds = exampleFeeds(graph, c.vocab, 100 + i);
      const want = await runOrt(file, feeds);
      const got = (await execute(graph, feeds)).outputs;
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [name, w] of want) {
        const g = got.get(name);
        if (!g) throw new Error(`no output ${name}`);
        expect(g.shape).toEqual(w.shape);
        expect(w.shape[0]).toBe(2);
        expect(spread(w)).toBeGreaterThan(0);
        expect(compareTensors(g, w).maxRelError).toBeLessThanOrEqual(1e-4);
      }
    });
  });

  it('the same seed writes the same weights; another seed others', () => {
    const opts: ExampleOptions = { layers: 1, hidden: 32, heads: 2, seq: 8, vocab: 16 };
    const bytes = (seed: number, name: string): Buffer => fs.readFileSync(generateExample('gpt', { ...opts, seed }, path.join(dir, `${name}.onnx`)).weightsFile);
    expect(bytes(5, 'seed-a').equals(bytes(5, 'seed-b'))).toBe(true);
    expect(bytes(5, 'seed-c').equals(bytes(6, 'seed-d'))).toBe(false);
  });
});

describe('the MoE layer routes tokens to at most top-k experts, within capacity', () => {
  it('dispatch is one-hot per (expert, slot), at most k experts per token, some tokens dropped at capacity factor 0.5', async () => {
    const opts: ExampleOptions = { layers: 2, hidden: 32, heads: 2, seq: 16, vocab: 64, experts: 4, topK: 2, capacityFactor: 0.5, seed: 3 };
    const file = path.join(dir, 'moe-route.onnx');
    generateExample('moe', opts, file);
    const { graph } = importOnnx(file, { dims: { batch: 2 } });
    const einsum = (eq: string): string[] => {
      const n = graph.nodes.find((x) => x.op === 'Einsum' && x.attrs.get('equation')?.value === eq);
      if (!n) throw new Error(`no Einsum ${eq}`);
      return [...n.inputs, ...n.outputs];
    };
    const [dispatch] = einsum('btec,bth->ebch');
    const [, , moeOut] = einsum('btec,ebch->bth');
    if (!dispatch || !moeOut) throw new Error('MoE values not found');
    const run = await execute({ ...graph, outputs: [...graph.outputs, dispatch, moeOut] }, exampleFeeds(graph, 64, 9));
    const d = run.outputs.get(dispatch);
    const out = run.outputs.get(moeOut);
    if (!d || !out) throw new Error('MoE values not computed');
    const cap = moeCapacity({ experts: 4, topK: 2, capacityFactor: 0.5, seq: 16 });
    expect(d.shape).toEqual([2, 16, 4, cap]);
    const [B, T, E, C] = [2, 16, 4, cap];
    const at = (b: number, t: number, e: number, c: number): number => d.data[((b * T + t) * E + e) * C + c] ?? NaN;
    let routed = 0;
    for (let b = 0; b < B; b++) {
      for (let e = 0; e < E; e++) for (let c = 0; c < C; c++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += at(b, t, e, c);
        expect(s).toBeLessThanOrEqual(1);
      }
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let e = 0; e < E; e++) for (let c = 0; c < C; c++) {
          expect([0, 1]).toContain(at(b, t, e, c));
          s += at(b, t, e, c);
        }
        expect(s).toBeLessThanOrEqual(2);
        routed += s;
      }
    }
    expect(routed).toBeGreaterThan(0);
    expect(routed).toBeLessThan(B * T * 2); // capacity 4 per expert cannot take 2 x 16 tokens
    expect(spread(out)).toBeGreaterThan(0);
  });
});

describe('configurations and graph-only models', () => {
  it('defaults < preset < flags, and the parameter formulas match the written graphs', () => {
    const g = resolveExample('gpt', { preset: 'gpt3-1.3b', layers: 2 });
    expect(g).toMatchObject({ arch: 'gpt', config: { layers: 2, hidden: 2048, heads: 16, seq: 2048, vocab: 50257, ffn: 8192, batch: 'batch' } });
    expect(resolveExample('moe', { preset: 'gpt3-125m' })).toMatchObject({ arch: 'moe', config: { hidden: 768, experts: 8, topK: 2, every: 2 } });
    expect(resolveExample('bert', {})).toMatchObject({ config: { layers: 2, hidden: 128, heads: 4, seq: 64, vocab: 512 } });
    const gpt = generateExample('gpt', { preset: 'gpt3-125m', layers: 2 }, path.join(dir, 'go-gpt.onnx'));
    expect(gpt.parameters).toBe(gptParameters({ layers: 2, hidden: 768, seq: 2048, vocab: 50257, ffn: 3072 }));
    const bert = generateExample('bert', { layers: 3 }, path.join(dir, 'go-bert.onnx'));
    expect(bert.parameters).toBe(bertParameters({ layers: 3, hidden: 128, seq: 64, vocab: 512, ffn: 512 }));
    const moe = resolveExample('moe', { layers: 4, experts: 3 });
    if (moe.arch !== 'moe') throw new Error('moe expected');
    expect(generateExample('moe', { layers: 4, experts: 3 }, path.join(dir, 'go-moe.onnx')).parameters).toBe(moeParameters(moe.config));
    for (const r of [gpt, bert]) {
      expect(r.weightsWritten).toBe(false);
      expect(fs.existsSync(r.weightsFile)).toBe(false);
    }
    // Graph only again over a model that had weights: the stale weights file goes.
    const rewritten = path.join(dir, 'rewritten.onnx');
    expect(generateExample('gpt', { layers: 1, seed: 1 }, rewritten).weightsWritten).toBe(true);
    expect(fs.existsSync(generateExample('gpt', { layers: 1 }, rewritten).weightsFile)).toBe(false);
    // Written through a temporary name: nothing but the models is left in the folder.
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('bad values name their flag and what would work', () => {
    const bad = (arch: Arch, o: ExampleOptions, file = path.join(dir, 'bad.onnx')): string => {
      try {
        generateExample(arch, o, file);
      } catch (e) {
        expect(e).toMatchObject({ name: 'AutoparError', code: 'E_USAGE' });
        return e instanceof Error ? e.message : '';
      }
      throw new Error('expected a usage error');
    };
    expect(bad('gpt', { hidden: 100, heads: 3 })).toMatch(/--hidden 100 is not divisible by --heads 3; use --heads 2 or 4, or a --hidden that is a multiple of 3/);
    expect(bad('gpt', { preset: 'gpt3-7b' })).toMatch(/--preset 'gpt3-7b' is unknown; presets for gpt: gpt3-125m, .*gpt3-175b/);
    expect(bad('bert', { preset: 'gpt3-125m' })).toMatch(/--preset gpt3-125m is a gpt shape, not bert; presets for bert: bert-base, bert-large/);
    expect(bad('wide-resnet', { layers: 18 })).toMatch(/--layers 18 is not a bottleneck ResNet depth; use one of 14, 26, 50, 101, 152/);
    expect(bad('moe', { experts: 2, topK: 3 })).toMatch(/--top-k 3 exceeds --experts 2/);
    expect(bad('gpt', { preset: 'gpt3-1.3b', seed: 1 })).toMatch(/--weights would write 4\.9 GiB .* drop --weights/);
    expect(bad('gpt', {}, path.join(dir, 'model.pb'))).toMatch(/-o .*model\.pb: the output must be an \.onnx file/);
    expect(fs.existsSync(path.join(dir, 'bad.onnx'))).toBe(false);
  });
});

describe("the exporter's form", () => {
  it('module-path node names, <node>_output_0 values, external data with offset and length, symbolic batch, opset 17 / IR 8', () => {
    const file = path.join(dir, 'form.onnx');
    generateExample('gpt', { layers: 2 }, file);
    const m = onnx.ModelProto.decode(fs.readFileSync(file));
    expect(toNum(m.irVersion)).toBe(8);
    expect(m.opsetImport.map((o) => [o.domain, toNum(o.version)])).toEqual([['', 17]]);
    const g = m.graph;
    if (!g) throw new Error('no graph');
    const nodes = g.node ?? [];
    const names = new Set(nodes.map((n) => n.name));
    for (const n of ['/blocks.0/ln1/LayerNormalization', '/blocks.0/attn/qkv/MatMul', '/blocks.0/attn/qkv/Add', '/blocks.0/attn/Split', '/blocks.1/mlp/fc/MatMul', '/blocks.1/mlp/Erf', '/wte/Gather', '/lm_head/MatMul']) {
      expect(names.has(n), n).toBe(true);
    }
    expect(names.size).toBe(nodes.length);
    const mm = nodes.find((n) => n.name === '/blocks.0/attn/qkv/MatMul');
    expect(mm?.output).toEqual(['/blocks.0/attn/qkv/MatMul_output_0']);
    expect(mm?.input?.[1]).toBe('blocks.0.attn.qkv.weight');
    expect((g.input ?? []).map((i) => i.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || toNum(d.dimValue)))).toEqual([['batch', 64]]);
    expect((g.output ?? []).map((o) => o.name)).toEqual(['logits']);
    let end = 0;
    for (const t of g.initializer ?? []) {
      expect(t.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
      const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      expect(kv.location).toBe('form.weights.bin');
      const offset = Number(kv.offset);
      expect(offset).toBeGreaterThanOrEqual(end);
      expect(Number(kv.length)).toBe((t.dims ?? []).reduce((p, d) => p * toNum(d), 4));
      end = offset + Number(kv.length);
    }
  });
});
