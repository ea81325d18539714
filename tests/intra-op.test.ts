/**
 * The intra-op pass on the cases the issue names: Megatron found on GPT-350M, the
 * t < 3h crossover between Megatron and data parallelism, data parallelism for large
 * batches, data parallelism across hosts with tensor parallelism inside them when the
 * network is slow, ZeRO-style sharding when replicas do not fit, a clear error when
 * nothing fits, and auto never worse than the manual strategies.
 */
import { describe, expect, it } from 'vitest';
import { busBandwidthFactor } from '../cost-models/collectives.js';
import { COLLECTIVE_KINDS, type CollectiveKind } from '../cost-models/types.js';
import { parseCluster } from '../src/cluster/load.js';
import { AutoparError } from '../src/errors.js';
import { buildGpt, type GptConfig } from '../src/models/gpt.js';
import { compileModel, type CompileOptions, type Compiled } from '../src/planner/compile.js';
import { buildPlanJson, type PlanJson } from '../src/planner/plan-json.js';
import { model } from './helpers/cli.js';

type Shape = Omit<GptConfig, 'weights'>;

async function plan(shape: Shape, cluster: CompileOptions['cluster'], extra: Partial<CompileOptions> = {}): Promise<{ c: Compiled; p: PlanJson }> {
  const graph = buildGpt({ ...shape, weights: 'external' });
  const c = await compileModel({ model: { graph, name: 'gpt' }, cluster, loss: 'cross-entropy', ...extra });
  return { c, p: buildPlanJson(c) };
}

/** Bytes on the wire per device, nccl-tests' bus convention, summed over the step. */
function busBytes(p: PlanJson, devices: number): number {
  const kinds: readonly string[] = COLLECTIVE_KINDS;
  const isKind = (k: string): k is CollectiveKind => kinds.includes(k);
  return (p.stages[0]?.collectives ?? []).reduce((s, c) => {
    if (c.kind === 'recv') return s;
    if (c.kind === 'send') return s + c.bytes;
    if (!isKind(c.kind)) throw new Error(`unknown collective ${c.kind}`);
    return s + c.bytes * busBandwidthFactor(c.kind, c.group.length || devices);
  }, 0);
}

/**
 * The values a parameter's gradient passes through before it is final: the gradient, and
 * back through reshapes, transposes and batch sums to the product that made it. A
 * reduction of the gradient happens on one of these (a MatMul's partial output, or the
 * ReduceSum over broadcast batch axes), rarely on the gradient's own name.
 */
function gradientValues(c: Compiled, params: readonly string[]): Set<string> {
  const g = c.training?.graph;
  const out = new Set<string>();
  if (!g || !c.training) return out;
  const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  // The input each op passes the gradient on from (a Gather's gradient scatters its updates).
  const through = new Map([['Reshape', 0], ['ReduceSum', 0], ['Transpose', 0], ['Identity', 0], ['Squeeze', 0], ['Unsqueeze', 0], ['ScatterND', 2]]);
  for (const p of params) {
    let v = c.training.grads.get(p);
    while (v !== undefined && !out.has(v)) {
      out.add(v);
      const n = producer.get(v);
      const from = n ? through.get(n.op) : undefined;
      if (!n || from === undefined) break;
      v = n.inputs[from];
    }
  }
  return out;
}

const onePerHost = (hosts: number, perHost: number, memory: string, network: string): ReturnType<typeof parseCluster> =>
  parseCluster(
    `hosts: ${hosts}\ndevicesPerHost: ${perHost}\ndevice: {name: A100-small, peakFlops: {float32: 19.5e12, tf32: 156e12}, memory: ${memory}, memoryBandwidth: 2TB/s}\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: ${network}, latency: 20us}\n`,
    'test-cluster.yaml',
  );

const A100x4 = 'examples/clusters/1x4-a100.yaml';

describe('intra-op: Megatron on GPT-350M (batch 1, 1,024 tokens, 1x4 A100, 1-D mesh)', () => {
  it('splits qkv and fc by columns, proj and out by rows, with Megatron volumes and no weight-gradient all-reduce', async () => {
    const c = await compileModel({ model: model('gpt_350m.onnx'), cluster: A100x4, batch: 1, loss: 'cross-entropy', mesh: [4] });
    const p = buildPlanJson(c);
    const stage = p.stages[0];
    if (!stage || !c.training) throw new Error('no plan');
    const [h, t] = [1024, 1024];
    const params = new Map(stage.parameters.map((x) => [x.name, x]));
    const unfusedParts = new Set([...c.unfused.values()].flatMap((u) => u.parts));
    const matmulWeights = stage.parameters.filter((x) => x.shape.length === 2 && x.shape[0] !== 50257 && x.shape[1] !== 50257 && x.name !== 'wpe.weight' && !x.name.startsWith('wpe'));
    const split = (name: string): string => JSON.stringify(params.get(name)?.sharding.dims);
    let blocks = 0;
    for (const w of matmulWeights) {
      const [rows, cols] = w.shape as [number, number];
      const isQkv = unfusedParts.has(w.name) && rows === h;
      if (isQkv || (rows === h && cols === 4 * h)) expect(split(w.name), `${w.name} (qkv or fc) by columns`).toBe('[[],["x"]]');
      else if ((rows === 4 * h && cols === h) || (rows === h && cols === h && !unfusedParts.has(w.name))) expect(split(w.name), `${w.name} (proj or out) by rows`).toBe('[["x"],[]]');
      if (rows === 4 * h) blocks++;
    }
    expect(blocks).toBe(24);
    // Activation collectives of b·s·h elements: all-reduces count one, reduce-scatter +
    // all-gather pairs (the sequence-parallel form, same volume) count half each.
    const act = t * h * 4;
    for (const phase of ['forward', 'backward'] as const) {
      const cs = stage.collectives.filter((x) => x.phase === phase && x.bytes === act);
      const allReduceEquivalents = cs.reduce((s, x) => s + (x.kind === 'all-reduce' ? 1 : x.kind === 'reduce-scatter' || x.kind === 'all-gather' ? 0.5 : 0), 0);
      // 2 per block, plus at most one extra at the embedding/head boundary.
      expect(allReduceEquivalents, phase).toBeGreaterThanOrEqual(2 * 24);
      expect(allReduceEquivalents, phase).toBeLessThanOrEqual(2 * 24 + 1);
    }
    // No reduction of a block matmul weight's gradient, under any of the names it passes
    // through (the large-batch test below checks that these names do catch dp's), and no
    // movement of the weights themselves.
    const blockWeights = matmulWeights.map((w) => w.name);
    const gradValues = gradientValues(c, blockWeights);
    expect(gradValues.size).toBeGreaterThanOrEqual(3 * blockWeights.length);
    const moved = new Set([...gradValues, ...blockWeights, ...[...c.training.updates].filter(([p]) => blockWeights.includes(p)).map(([, u]) => u)]);
    const weightComm = stage.collectives.filter((x) => moved.has(x.value));
    expect(weightComm).toEqual([]);
  }, 120_000);
});

describe('intra-op: Megatron against data parallelism around t = 3h', () => {
  // One block, h = 512 (3h = 1536), a tiny vocabulary so the blocks dominate. t = 1024
  // and t = 2048 bracket the line (the embedding gradients dp also reduces move the
  // measured crossover a little past 3h, to about 1,900 tokens).
  const base = { layers: 1, hidden: 512, heads: 8, seq: 256, vocab: 128 };
  for (const [batch, expectMegatron] of [
    [4, true],
    [8, false],
  ] as const) {
    it(`t = ${batch * 256} tokens: ${expectMegatron ? 'Megatron' : 'data parallelism'} moves fewer bytes, and auto is at least as fast as dp, megatron and zero3`, async () => {
      const dp = await plan({ ...base, batch }, A100x4, { strategy: 'dp' });
      const mg = await plan({ ...base, batch }, A100x4, { strategy: 'megatron' });
      const z3 = await plan({ ...base, batch }, A100x4, { strategy: 'zero3' });
      const auto = await plan({ ...base, batch }, A100x4, { mesh: [4] });
      const [bd, bm] = [busBytes(dp.p, 4), busBytes(mg.p, 4)];
      if (expectMegatron) expect(bm).toBeLessThan(bd);
      else expect(bd).toBeLessThan(bm);
      expect(auto.p.cost.stepTimeSeconds).toBeLessThanOrEqual(dp.p.cost.stepTimeSeconds * (1 + 1e-9));
      expect(auto.p.cost.stepTimeSeconds).toBeLessThanOrEqual(mg.p.cost.stepTimeSeconds * (1 + 1e-9));
      expect(auto.p.cost.stepTimeSeconds).toBeLessThanOrEqual(z3.p.cost.stepTimeSeconds * (1 + 1e-9));
    }, 120_000);
  }
});

describe('intra-op: large batch, small weights', () => {
  it('auto is data parallel: every forward matmul split along the batch, each gradient reduced once, nothing else', async () => {
    // 65,536 tokens per step against 7.6 M parameters. (At batch 32 auto still moves the
    // embedding's output by all-to-all, which the cost model prices below the table's
    // gradient all-reduce: 17% more bytes than dp, though faster.)
    const shape: Shape = { layers: 2, hidden: 512, heads: 8, seq: 512, vocab: 1024, batch: 128 };
    const { c, p } = await plan(shape, A100x4, { mesh: [4] });
    const stage = p.stages[0];
    if (!stage) throw new Error('no plan');
    const forward = stage.nodes.slice(0, c.training?.forwardNodes ?? 0);
    const matmuls = forward.filter((n) => n.op === 'MatMul');
    expect(matmuls.length).toBeGreaterThan(10);
    for (const n of matmuls) expect(JSON.stringify(n.outputs[0]?.sharding.dims[0]), n.name).toBe('["x"]');
    // One all-reduce of every gradient (or a reduce-scatter and an all-gather, the same
    // volume), and nothing else but the loss's mean: bus bytes within 1% of 2(n-1)/n of
    // the parameters, no collective larger than a parameter (no activation traffic),
    // and one reduction per parameter.
    const paramBytes = stage.parameters.map((x) => x.shape.reduce((a, d) => a * d, 1) * 4);
    const total = paramBytes.reduce((a, b) => a + b, 0);
    expect(busBytes(p, 4)).toBeGreaterThanOrEqual(1.5 * total * (1 - 1e-9));
    expect(busBytes(p, 4)).toBeLessThanOrEqual(1.5 * total * 1.01);
    const largest = Math.max(...paramBytes);
    for (const x of stage.collectives) expect(x.bytes, `${x.phase} ${x.kind} of ${x.value}`).toBeLessThanOrEqual(largest);
    const reductions = stage.collectives.filter((x) => (x.kind === 'reduce-scatter' || x.kind === 'all-reduce') && x.phase !== 'forward');
    expect(reductions.length).toBe(stage.parameters.length);
    const gradValues = gradientValues(c, c.training?.params ?? []);
    for (const x of reductions) expect(gradValues.has(x.value), `${x.kind} of ${x.value} is a gradient`).toBe(true);
    const dp = await plan(shape, A100x4, { strategy: 'dp' });
    expect(p.cost.stepTimeSeconds).toBeLessThanOrEqual(dp.p.cost.stepTimeSeconds * (1 + 1e-9));
  }, 120_000);
});

describe('intra-op: two hosts behind a slow network', () => {
  it('puts data parallelism on the inter-host axis and tensor parallelism inside the hosts', async () => {
    const cluster = onePerHost(2, 4, '150MB', '25Gb/s');
    const { c, p } = await plan({ layers: 1, hidden: 1024, heads: 16, seq: 512, vocab: 512, batch: 16 }, cluster, { mesh: [2, 4] });
    const stage = p.stages[0];
    if (!stage || !c.training) throw new Error('no plan');
    // Block matmul weights are split inside the host (y) and never across hosts (x).
    const blockWeights = stage.parameters.filter((x) => x.name.startsWith('blocks.') && x.shape.length === 2);
    expect(blockWeights.length).toBe(6);
    for (const w of blockWeights) {
      const axes = w.sharding.dims.flat();
      expect(axes, w.name).toContain('y');
      expect(axes, w.name).not.toContain('x');
    }
    // The forward matmuls of the block split the batch over x.
    const forward = stage.nodes.slice(0, c.training.forwardNodes).filter((n) => n.op === 'MatMul' && (n.outputs[0]?.shape.length ?? 0) >= 3);
    for (const n of forward) expect(n.outputs[0]?.sharding.dims[0], n.name).toContain('x');
    // Across hosts only gradients and parameter updates travel, no activations in the forward pass.
    const forwardOverX = stage.collectives.filter((x) => x.phase === 'forward' && x.axes.length === 1 && x.axes[0] === 'x' && !c.training?.params.includes(x.value));
    expect(forwardOverX).toEqual([]);
    expect(stage.collectives.some((x) => x.axes.includes('x') && (x.phase === 'backward' || x.phase === 'update'))).toBe(true);
  }, 180_000);
});

describe('intra-op: memory', () => {
  const shape: Shape = { layers: 2, hidden: 1024, heads: 16, seq: 256, vocab: 1024, batch: 8 };

  it('shards parameters and optimizer states when replicas do not fit, where plain data parallelism fails', async () => {
    const cluster = onePerHost(1, 4, '300MB', '25Gb/s');
    await expect(plan(shape, cluster, { strategy: 'dp' })).rejects.toSatisfy((e: unknown) => e instanceof AutoparError && /does not fit/.test(e.message));
    const { p } = await plan(shape, cluster, { mesh: [4] });
    expect(p.cost.peakMemoryBytesPerDevice).toBeLessThanOrEqual(300e6);
    const sharded = p.stages[0]?.parameters.filter((x) => x.sharding.dims.flat().length > 0 || (x.optimizerStateSharding?.dims.flat().length ?? 0) > 0) ?? [];
    expect(sharded.length).toBeGreaterThan(10);
  }, 180_000);

  it('says by how much when nothing fits', async () => {
    const cluster = onePerHost(1, 4, '20MB', '25Gb/s');
    const err = await plan(shape, cluster, { mesh: [4] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AutoparError);
    const msg = (err as AutoparError).message;
    expect(msg).toMatch(/does not fit on 4 x A100-small/);
    expect(msg).toMatch(/short by \d+(\.\d+)? (GiB|MiB|KiB)/);
    expect(msg).toMatch(/use about \d+ devices/);
  }, 120_000);
});

describe('intra-op: auto against the manual strategies', () => {
  it('is never worse than dp, megatron or zero3 on gpt2_tiny (1x4 A100)', async () => {
    const times = new Map<string, number>();
    for (const strategy of ['auto', 'dp', 'megatron', 'zero3']) {
      const c = await compileModel({ model: model('gpt2_tiny.onnx'), cluster: A100x4, loss: 'cross-entropy', strategy });
      times.set(strategy, buildPlanJson(c).cost.stepTimeSeconds);
    }
    const auto = times.get('auto') ?? Infinity;
    for (const s of ['dp', 'megatron', 'zero3']) expect(auto, s).toBeLessThanOrEqual((times.get(s) ?? 0) * (1 + 1e-9));
  }, 180_000);
});
