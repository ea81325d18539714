/** `autopar compile` and `autopar compare` through the CLI: CLI.md's fields, plan.json, and mistakes. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { model, runCli, runJson } from './helpers/cli.js';
import { tempDir } from './helpers/onnx-builder.js';

const tmp = tempDir('compile');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const Sharding = z.object({ dims: z.array(z.array(z.string())), partial: z.array(z.string()) });
const CompileJson = z.object({
  model: z.string(),
  devices: z.number(),
  mode: z.enum(['train', 'infer']),
  strategy: z.string(),
  stepTimeSeconds: z.number().positive(),
  throughputSamplesPerSecond: z.number().positive(),
  peakMemoryBytesPerDevice: z.number().positive(),
  memoryLimitBytesPerDevice: z.number().positive(),
  communicationBytesPerStep: z.number().nonnegative(),
  microbatches: z.number(),
  stages: z.array(z.object({ layers: z.tuple([z.number(), z.number()]), devices: z.array(z.number()), meshShape: z.array(z.number()), stageTimeSeconds: z.number() })),
  planningSeconds: z.number(),
  solver: z.object({ name: z.string(), status: z.string(), objective: z.number(), bound: z.number(), gap: z.number() }),
  plan: z.string(),
});
const PlanFile = z.object({
  version: z.literal(1),
  model: z.string(),
  mode: z.string(),
  cluster: z.object({ devices: z.number() }),
  schedule: z.object({ kind: z.enum(['1f1b', 'gpipe', 'none']), microbatches: z.number() }),
  stages: z.array(
    z.object({
      devices: z.array(z.number()),
      mesh: z.object({ shape: z.array(z.number()), axes: z.array(z.string()) }),
      layers: z.tuple([z.number(), z.number()]),
      parameters: z.array(z.object({ name: z.string(), shape: z.array(z.number()), sharding: Sharding, optimizerStateSharding: Sharding.nullable() })),
      nodes: z.array(z.object({ name: z.string(), op: z.string(), strategy: z.string(), outputs: z.array(z.object({ name: z.string(), shape: z.array(z.number()), sharding: Sharding })) })),
      collectives: z.array(
        z.object({
          kind: z.enum(['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast', 'send', 'recv']),
          axes: z.array(z.string()),
          group: z.array(z.number()),
          bytes: z.number(),
          value: z.string(),
          phase: z.enum(['forward', 'backward', 'update', 'pipeline']),
        }),
      ),
    }),
  ),
  cost: z.object({ stepTimeSeconds: z.number(), computeSeconds: z.number(), communicationSeconds: z.number(), bubbleSeconds: z.number(), peakMemoryBytesPerDevice: z.number() }),
});

describe('autopar compile', () => {
  it('prints the CLI.md fields and writes a plan.json with every layout and collective', async () => {
    const out = path.join(tmp, 'mlp');
    const r = CompileJson.parse(await runJson(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--out', out]));
    expect(r.devices).toBe(4);
    expect(r.mode).toBe('train');
    expect(r.stages[0]?.devices).toEqual([0, 1, 2, 3]);
    const plan = PlanFile.parse(JSON.parse(fs.readFileSync(path.join(out, 'plan.json'), 'utf8')));
    const stage = plan.stages[0];
    if (!stage) throw new Error('no stage');
    // Parameters keep their ONNX initializer names; every forward node is listed.
    expect(stage.parameters.map((p) => p.name).sort()).toEqual(['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight', 'layers.2.bias', 'layers.2.weight']);
    for (const n of ['/layers.0/Gemm', '/layers.1/Gemm', '/layers.2/Gemm']) expect(stage.nodes.some((x) => x.name === n), n).toBe(true);
    // Summed collective bytes agree between the summary and the plan.
    expect(stage.collectives.reduce((s, c) => s + c.bytes, 0)).toBeCloseTo(r.communicationBytesPerStep, 0);
    expect(r.stepTimeSeconds).toBeCloseTo(plan.cost.computeSeconds + plan.cost.communicationSeconds, 12);
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  }, 120_000);

  it('rejects mistakes with one line: a bad strategy, a mesh that does not cover the cluster, a batch dp cannot split', async () => {
    const cases: [string[], RegExp][] = [
      [['--strategy', 'tensorwise'], /--strategy 'tensorwise' is not a strategy/],
      [['--mesh', '3x2'], /--mesh 3x2 does not cover the 4 devices/],
      [['--strategy', 'dp=3,tp=1'], /uses 3 devices but the cluster has 4/],
      [['--cluster', 'missing.yaml'], /missing\.yaml/],
    ];
    for (const [flags, msg] of cases) {
      const args = ['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--batch', '2', '--out', path.join(tmp, 'bad'), ...flags];
      const r = await runCli(args);
      expect(r.status, flags.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), flags.join(' ')).toHaveLength(1);
      expect(r.stderr, flags.join(' ')).toMatch(msg);
    }
    const dp = await runCli(['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--batch', '6', '--strategy', 'dp', '--loss', 'cross-entropy']);
    expect(dp.status).not.toBe(0);
    expect(dp.stderr).toMatch(/batch 6, which does not divide into 4 data-parallel replicas/);
  }, 120_000);
});

describe('autopar compile --pin', () => {
  it('keeps a pinned layout and plans the rest; an impossible pin names the value', async () => {
    const pins = path.join(tmp, 'pins.json');
    // Unpinned, auto splits layers.1.weight by columns ([-, x]): pin it by rows so that an ignored pin fails.
    fs.writeFileSync(pins, JSON.stringify({ 'layers.1.weight': '[x, -]', x: '[x, -]' }));
    const out = path.join(tmp, 'pinned');
    await runJson(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--mesh', '4', '--pin', pins, '--out', out]);
    const plan = PlanFile.parse(JSON.parse(fs.readFileSync(path.join(out, 'plan.json'), 'utf8')));
    const w = plan.stages[0]?.parameters.find((p) => p.name === 'layers.1.weight');
    expect(w?.sharding).toEqual({ dims: [['x'], []], partial: [] });
    fs.writeFileSync(pins, JSON.stringify({ 'layers.1.weight': '[x, x]' }));
    const bad = await runCli(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--mesh', '4', '--pin', pins, '--out', out]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/layers\.1\.weight/);
    fs.writeFileSync(pins, JSON.stringify({ 'no.such.value': '[x, -]' }));
    expect((await runCli(['compile', model('mlp.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--pin', pins, '--out', out])).stderr).toMatch(/pinned value 'no\.such\.value' is not in the planned graph/);
  }, 120_000);
});

describe('autopar compile on the bundled example', () => {
  it('plans with no model argument (the README quick start)', async () => {
    const out = path.join(tmp, 'example');
    const r = CompileJson.parse(await runJson(['compile', '--out', out]));
    expect(r.model).toBe('gpt2_tiny.onnx');
    expect(r.devices).toBe(4);
    expect(fs.existsSync(path.join(out, 'plan.json'))).toBe(true);
  }, 120_000);
});

describe('autopar compare', () => {
  it('lists every strategy with figures; auto is never worse than dp, megatron or zero3', async () => {
    const Row = z.object({ strategy: z.string(), feasible: z.boolean(), stepTimeSeconds: z.number().nullable(), peakMemoryBytesPerDevice: z.number().nullable(), communicationBytesPerStep: z.number().nullable(), reason: z.string().optional() });
    const r = z.object({ strategies: z.array(Row), best: z.string() }).parse(await runJson(['compare', model('gpt2_tiny.onnx'), '--cluster', 'examples/clusters/1x4-a100.yaml', '--loss', 'cross-entropy']));
    expect(r.strategies.map((s) => s.strategy)).toEqual(['auto', 'dp', 'megatron', 'zero3', 'pipeline']);
    const auto = r.strategies.find((s) => s.strategy === 'auto');
    // On one host auto is the single-stage pass: no worse than any other single-stage strategy.
    for (const s of r.strategies.filter((x) => x.feasible && x.strategy !== 'pipeline')) expect(auto?.stepTimeSeconds ?? Infinity, s.strategy).toBeLessThanOrEqual((s.stepTimeSeconds ?? 0) * (1 + 1e-9));
    // The stage DP may split even one micro-batch over stages (sequential, fewer devices per
    // stage, less communication); `best` names whichever is fastest.
    const pipeline = r.strategies.find((s) => s.strategy === 'pipeline');
    expect(pipeline?.feasible).toBe(true);
    const fastest = r.strategies.filter((x) => x.feasible).sort((a, b) => (a.stepTimeSeconds ?? Infinity) - (b.stepTimeSeconds ?? Infinity))[0];
    expect(r.best).toBe(fastest?.strategy);
  }, 180_000);
});

describe('autopar compile --strategy pipeline', () => {
  it('plans stages on a two-host cluster with micro-batches and writes a multi-stage plan.json', async () => {
    const cluster = path.join(tmp, 'two-hosts.yaml');
    fs.writeFileSync(cluster, 'hosts: 2\ndevicesPerHost: 2\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: 25Gb/s, latency: 20us}\n');
    const out = path.join(tmp, 'pipe');
    const r = CompileJson.parse(await runJson(['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', cluster, '--batch', '8', '--loss', 'cross-entropy', '--strategy', 'pipeline', '--microbatches', '4', '--out', out]));
    expect(r.microbatches).toBe(4);
    const plan = PlanFile.parse(JSON.parse(fs.readFileSync(path.join(out, 'plan.json'), 'utf8')));
    expect(plan.schedule).toEqual({ kind: '1f1b', microbatches: 4 });
    // Stages cover the layers in order on disjoint devices that use the whole cluster.
    const devices = plan.stages.flatMap((s) => s.devices);
    expect(new Set(devices).size).toBe(4);
    plan.stages.slice(1).forEach((s, i) => expect(s.layers[0]).toBe((plan.stages[i]?.layers[1] ?? -2) + 1));
    // Every trainable parameter is placed on exactly one stage.
    const params = plan.stages.flatMap((s) => s.parameters.map((p) => p.name));
    expect(new Set(params).size).toBe(params.length);
    if (plan.stages.length > 1) expect(plan.stages[0]?.collectives.some((c) => c.phase === 'pipeline' && c.kind === 'send')).toBe(true);
    // A manual grid with pp = 2: two stages of one host each, Megatron over its 2 devices;
    // and auto on two hosts goes through the pipeline planner (its DP includes one stage).
    const [grid, auto] = await Promise.all([
      runJson(['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', cluster, '--batch', '8', '--loss', 'cross-entropy', '--strategy', 'dp=1,tp=2,pp=2', '--microbatches', '4', '--out', path.join(tmp, 'grid')]),
      runJson(['compile', model('gpt2_tiny_opset17.onnx'), '--cluster', cluster, '--batch', '8', '--loss', 'cross-entropy', '--microbatches', '4', '--out', path.join(tmp, 'auto2')]),
    ]);
    const g = CompileJson.parse(grid);
    expect(g.strategy).toBe('dp=1,tp=2,pp=2');
    expect(g.stages.map((s) => s.devices.length)).toEqual([2, 2]);
    const gridPlan = PlanFile.parse(JSON.parse(fs.readFileSync(path.join(tmp, 'grid', 'plan.json'), 'utf8')));
    expect(gridPlan.stages.map((s) => s.devices)).toEqual([[0, 1], [2, 3]]);
    const a = CompileJson.parse(auto);
    expect(a.strategy).toBe('auto');
    expect(a.stepTimeSeconds).toBeLessThanOrEqual(g.stepTimeSeconds * (1 + 1e-9));
  }, 180_000);
});
