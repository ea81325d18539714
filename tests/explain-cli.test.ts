/**
 * `autopar explain DIR` on real compile outputs: Megatron on mlp reads as column- then
 * row-parallel (its Gemm weights are [out, in]), data parallelism as data parallel with
 * replicated weights, ZeRO-3's optimizer states as sharded; every layer's collectives
 * are plan.json's own, and each alternative's price is an actual other strategy's.
 * Mistakes (no folder, not a plan) are one clear line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readPlanJson } from '../src/explain/read-plan.js';
import { model, runCli, runJson } from './helpers/cli.js';
import { tempDir } from './helpers/onnx-builder.js';

const tmp = tempDir('explain');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const Collective = z.object({ kind: z.string(), axes: z.array(z.string()), bytes: z.number(), seconds: z.number(), phase: z.string(), value: z.string() });
const Explain = z.object({
  model: z.string(),
  strategy: z.string(),
  devices: z.number(),
  stages: z.number(),
  layers: z.array(
    z.object({
      stage: z.number(),
      layer: z.string(),
      node: z.string().optional(),
      op: z.string().optional(),
      pattern: z.string(),
      weights: z.array(z.object({ name: z.string(), shape: z.array(z.number()), sharding: z.string(), words: z.string(), optimizerState: z.string() })),
      activation: z.object({ name: z.string(), shape: z.array(z.number()), sharding: z.string(), words: z.string() }).optional(),
      collectives: z.array(Collective),
      collectiveSeconds: z.number(),
      collectiveBytes: z.number(),
      alternative: z.object({ strategy: z.string(), words: z.string(), extraSeconds: z.number(), ops: z.number() }).optional(),
    }),
  ),
  otherCollectives: z.array(Collective),
  notes: z.array(z.string()),
});
type Explained = z.infer<typeof Explain>;

const CLUSTER = 'examples/clusters/1x4-a100.yaml';
const dirs = { megatron: path.join(tmp, 'megatron'), dp: path.join(tmp, 'dp'), zero3: path.join(tmp, 'zero3') };
const explained = new Map<string, Explained>();

beforeAll(async () => {
  for (const [strategy, dir] of Object.entries(dirs)) {
    await runJson(['compile', model('mlp.onnx'), '--cluster', CLUSTER, '--strategy', strategy, '--out', dir]);
    explained.set(strategy, Explain.parse(await runJson(['explain', dir])));
  }
});

const layer = (strategy: string, name: string): Explained['layers'][number] => {
  const l = explained.get(strategy)?.layers.find((x) => x.layer === name);
  if (!l) throw new Error(`${strategy}: no layer ${name}`);
  return l;
};

describe('autopar explain', () => {
  it('megatron on mlp: the first linear column-parallel, the second row-parallel, in words', () => {
    const l0 = layer('megatron', 'layers.0');
    const l1 = layer('megatron', 'layers.1');
    expect(l0.op).toBe('Gemm');
    expect(l0.pattern).toBe('column-parallel over x');
    expect(l0.weights.find((w) => w.name === 'layers.0.weight')?.words).toMatch(/^layers\.0\.weight split on dim 0 over axis x: Megatron column-parallel/);
    expect(l0.activation?.words).toBe('features split over x');
    expect(l1.pattern).toBe('row-parallel over x');
    expect(l1.weights.find((w) => w.name === 'layers.1.weight')?.words).toMatch(/split on dim 1 over axis x: Megatron row-parallel/);
    expect(l1.activation?.words).toMatch(/^partial sums over x/);
    // The row-parallel output's partial sum is reduced by an all-reduce this layer pays for.
    expect(l1.collectives.map((c) => c.kind)).toContain('all-reduce');
    expect(l1.collectives.find((c) => c.kind === 'all-reduce')?.value).toBe('/layers.1/Gemm_output_0');
  });

  it('dp on mlp: data parallel over x with replicated weights', () => {
    const l0 = layer('dp', 'layers.0');
    expect(l0.pattern).toBe('data-parallel over x');
    expect(l0.weights.find((w) => w.name === 'layers.0.weight')?.words).toBe('data parallel over x (batch split, layers.0.weight replicated on x)');
    expect(l0.weights.every((w) => w.sharding.replace(/[[\]\s,-]/g, '') === '')).toBe(true);
    expect(l0.activation?.words).toBe('batch split over x');
  });

  it('zero3 on mlp: weights and optimizer states sharded over x', () => {
    for (const name of ['layers.0', 'layers.1', 'layers.2']) {
      const w = layer('zero3', name).weights.find((x) => x.name === `${name}.weight`);
      expect(w?.sharding, name).toBe('[x, -]');
      expect(w?.optimizerState, name).toBe('optimizer states [x, -], split like the weight');
    }
  });

  it("every collective of plan.json is reported once, with plan.json's bytes and seconds", () => {
    for (const [strategy, dir] of Object.entries(dirs)) {
      const { plan } = readPlanJson(dir);
      const e = explained.get(strategy);
      const all = [...(e?.layers.flatMap((l) => l.collectives) ?? []), ...(e?.otherCollectives ?? [])];
      const key = (c: { kind: string; value: string; bytes: number; seconds: number }): string => `${c.kind}|${c.value}|${c.bytes}|${c.seconds}`;
      expect(all.map(key).sort(), strategy).toEqual(plan.stages.flatMap((s) => s.collectives).map(key).sort());
      for (const l of e?.layers ?? []) expect(l.collectiveBytes).toBe(l.collectives.reduce((t, c) => t + c.bytes, 0));
    }
  });

  it('prices the best alternative of each linear: another strategy than the chosen one, costing at least as much', () => {
    const { plan } = readPlanJson(dirs.megatron);
    for (const name of ['layers.0', 'layers.1', 'layers.2']) {
      const l = layer('megatron', name);
      const node = plan.stages[0]?.nodes.find((n) => n.name === l.node);
      expect(l.alternative, name).toBeDefined();
      expect(l.alternative?.strategy).not.toBe(node?.strategy);
      // The plan is optimal, so no single-op change can make the step faster.
      expect(l.alternative?.extraSeconds ?? -1).toBeGreaterThanOrEqual(-1e-12);
      expect(l.alternative?.extraSeconds ?? 0).toBeLessThan(plan.cost.stepTimeSeconds);
    }
  });

  it('prints the same in words for people', async () => {
    const r = await runCli(['explain', dirs.megatron]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^mlp\.onnx: strategy megatron, 4 devices, 1 stage/);
    expect(r.stdout).toMatch(/layers\.0 \(Gemm \/layers\.0\/Gemm\): column-parallel over x/);
    expect(r.stdout).toMatch(/layers\.1\.weight \[1024, 1024\] \[-, x\]: layers\.1\.weight split on dim 1 over axis x: Megatron row-parallel/);
    expect(r.stdout).toMatch(/all-reduce over x 256\.0 KiB [\d.]+ us \(forward, \/layers\.1\/Gemm_output_0\)/);
    expect(r.stdout).toMatch(/best alternative: .*: \+[\d.]+ us per step, the rest of the plan unchanged/);
  });

  it('explains a pipelined plan stage by stage, and says why it has no alternatives', async () => {
    const dir = path.join(tmp, 'pp');
    await runJson(['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', CLUSTER, '--batch', '8', '--loss', 'cross-entropy', '--strategy', 'dp=1,tp=2,pp=2', '--microbatches', '4', '--out', dir]);
    const e = Explain.parse(await runJson(['explain', dir]));
    expect(e.stages).toBe(2);
    expect(new Set(e.layers.map((l) => l.stage))).toEqual(new Set([0, 1]));
    expect(e.layers.find((l) => l.layer === 'blocks.0.fc')?.pattern).toBe('column-parallel over x');
    expect(e.layers.find((l) => l.layer === 'blocks.0.out')?.pattern).toBe('row-parallel over x');
    expect(e.otherCollectives.some((c) => c.phase === 'pipeline' && c.kind === 'send')).toBe(true);
    expect(e.notes.join(' ')).toMatch(/pipelined plan/);
  });

  it('refuses a folder without a plan, and a file that is not one, in one line', async () => {
    const missing = await runCli(['explain', path.join(tmp, 'nowhere')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^autopar: .*nowhere\/plan\.json: cannot read it; give the folder `autopar compile` wrote/);
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'plan.json'), JSON.stringify({ version: 1, model: 'x' }));
    const r = await runCli(['explain', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/plan\.json: not a plan\.json this version reads \(at mode: .*\); compile again with this version/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
