/**
 * The inter-op pass on GPT shapes: layers aligned with repeated blocks, stage plans
 * stitched from layer plans, axis descent against the exact search, balanced stages
 * for a uniform model, memory rejections reported, and (the check) a 24-layer
 * GPT on 8x8 V100 behind 25 Gb/s: auto pipelines across hosts and is no slower than
 * the best manual dp,tp,pp grid point in the same cost model.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { clusterByBlocks, clusterLayers, layerRangeGraph } from '../passes/cluster-layers.js';
import { detectRepetition } from '../passes/cluster-layers/repeats.js';
import { isRejection, pipelineClustering, planPipeline, rangeRoles, type PipelinePlan, type PipelineRejection } from '../passes/inter-op/pipeline.js';
import { stitchStage } from '../passes/inter-op/stitch.js';
import { rejectionSummary } from '../passes/inter-op/stage-report.js';
import { trainingRoles } from '../passes/intra-op/build.js';
import { planIntraOp } from '../passes/intra-op/plan.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { loadCluster, parseCluster } from '../src/cluster/load.js';
import { logicalMesh } from '../src/cluster/mesh.js';
import { buildGpt, type GptConfig } from '../src/models/gpt.js';
import { meshFromLogical } from '../src/sharding/mesh.js';
import { createResharder } from '../src/sharding/reshard.js';
import { compilePipeline } from '../src/planner/pipeline.js';
import { generateExample } from '../src/examples/generate.js';
import { tempDir } from './helpers/onnx-builder.js';
import { buildTrainingGraph, type TrainingGraph } from '../src/training/build.js';

const cost = analyticalCostModel();

function gpt(c: Partial<GptConfig> & Pick<GptConfig, 'layers' | 'batch'>): TrainingGraph {
  const graph = unfuseProjections(buildGpt({ hidden: 256, heads: 4, seq: 128, vocab: 512, weights: 'external', ...c })).graph;
  return buildTrainingGraph(graph, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-3 } });
}

function ok(p: PipelinePlan | PipelineRejection): PipelinePlan {
  if (isRejection(p)) throw new Error(`no pipeline plan: ${p.rejected}`);
  return p;
}


/** Two hosts of `perHost` devices (`device`: a preset name or a YAML device map), 300 GB/s inside a host, 25 Gb/s between. */
function twoHosts(perHost: number, device: string, file: string): ReturnType<typeof parseCluster> {
  return parseCluster(`hosts: 2\ndevicesPerHost: ${perHost}\ndevice: ${device}\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: 25Gb/s, latency: 20us}\n`, file);
}

/** A GPT at `batch` that the micro-batch search can rebuild at any batch. */
function rebuildable(config: Omit<GptConfig, 'batch'>, batch: number, name: string): { readonly graph: ReturnType<typeof buildGpt>; readonly name: string; readonly rebuild: (b: number) => ReturnType<typeof buildGpt> } {
  return { graph: buildGpt({ ...config, batch }), name, rebuild: (b: number) => buildGpt({ ...config, batch: b }) };
}

describe('layer clustering on repeated blocks', () => {
  it('finds the blocks and makes each one a layer, with the embedding and the head apart', () => {
    const tg = gpt({ layers: 12, batch: 2 });
    expect(detectRepetition(tg.graph, tg.forwardNodes)?.blocks).toBe(12);
    const c = clusterByBlocks(tg);
    if (!c) throw new Error('no repetition found');
    expect(c.layers).toBe(14);
    const sig = (l: number): string => {
      const g = layerRangeGraph(tg, c, l, l);
      return g.nodes.map((n) => `${n.op}(${n.inputs.map((v) => g.types.get(v)?.shape.join('x') ?? '').join(',')})`).join(';');
    };
    // Every block layer is the same graph; the embedding and the head are the two others.
    expect(new Set(Array.from({ length: 12 }, (_, b) => sig(b + 1))).size).toBe(1);
    expect(new Set(Array.from({ length: 14 }, (_, l) => sig(l))).size).toBe(3);
    // Blocks are cut where only the residual stream crosses: b*s*h float32.
    expect(c.boundaryBytes.slice(1, -1).every((b) => b === 2 * 128 * 256 * 4)).toBe(true);
    expect(pipelineClustering(tg, 8).method).toBe('blocks');
  });
});

describe('stage plans stitched from layer plans', () => {
  it('cost no less than the whole range planned exactly, and within 10% of it', async () => {
    const tg = gpt({ layers: 3, batch: 4 });
    const cluster = loadCluster('examples/clusters/1x2-a100.yaml');
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const c = clusterLayers(tg, { layers: 3 });
    const roles = trainingRoles(tg);
    const mesh = meshFromLogical(logicalMesh(cluster, [2]));
    const ranges = [0, 1, 2].map((l) => layerRangeGraph(tg, c, l, l));
    const parts = [];
    for (const g of ranges) {
      const plan = await planIntraOp(g, rangeRoles(roles, g), mesh, cost, device);
      expect(plan.solution.status).toBe('optimal');
      parts.push({ graph: g, rep: { ...plan, graph: g, staticBytes: 0, activationBytes: 0, stepComputeSeconds: 0, stepCommunicationSeconds: 0 } });
    }
    const stitched = stitchStage(parts, createResharder(mesh, cost));
    const whole = layerRangeGraph(tg, c, 0, 2);
    const exact = await planIntraOp(whole, rangeRoles(roles, whole), mesh, cost, device);
    expect(exact.solution.status).toBe('optimal');
    const exactSeconds = exact.computeSeconds + exact.communicationSeconds;
    const stitchedSeconds = stitched.computeSeconds + stitched.communicationSeconds;
    expect(stitchedSeconds).toBeGreaterThanOrEqual(exactSeconds * (1 - 1e-9));
    expect(stitchedSeconds).toBeLessThanOrEqual(exactSeconds * 1.1);
    // Every value of the range has a layout, every node a strategy.
    for (const n of whole.nodes) {
      expect(stitched.strategies.has(n.name), n.name).toBe(true);
      for (const o of n.outputs) if (o !== '') expect(stitched.layouts.has(o), o).toBe(true);
    }
  });
});

describe('axis descent (the fast search on 2-D meshes)', () => {
  it('is never below the exact optimum and within 5% of it on a GPT block on 2x2', async () => {
    const tg = gpt({ layers: 3, batch: 8 });
    const cluster = parseCluster('hosts: 1\ndevicesPerHost: 4\ndevice: A100-40GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\n', 'one-host.yaml');
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const c = clusterLayers(tg, { layers: 3 });
    const g = layerRangeGraph(tg, c, 1, 1);
    const roles = rangeRoles(trainingRoles(tg), g);
    const mesh = meshFromLogical(logicalMesh(cluster, [2, 2]));
    const exact = await planIntraOp(g, roles, mesh, cost, device, { timeLimitSeconds: 60 });
    const fast = await planIntraOp(g, roles, mesh, cost, device, { search: 'fast' });
    expect(exact.solution.status).toBe('optimal');
    expect(fast.objective).toBeGreaterThanOrEqual(exact.objective * (1 - 1e-9));
    expect(fast.objective).toBeLessThanOrEqual(exact.objective * 1.05);
  });
});

describe('stage construction', () => {
  const hosts2x4 = twoHosts(4, 'A100-80GB', 'two-hosts.yaml');
  const device = hosts2x4.groups[0]?.device;
  if (!device) throw new Error('no device');

  it('balances a uniform GPT: stages even in time', async () => {
    // A small vocabulary makes embedding and head negligible: every layer costs the same.
    const tg = gpt({ layers: 8, batch: 4, vocab: 64 });
    const { clustering } = pipelineClustering(tg, 8);
    const plan = ok(await planPipeline(tg, { cluster: hosts2x4, device, cost, layers: clustering.layers, clustering, microbatches: 8 }));
    expect(plan.stages.length).toBeGreaterThan(1);
    const times = plan.stages.map((s) => s.seconds);
    expect(Math.max(...times) / Math.min(...times)).toBeLessThan(1.2);
    // Not in block count: stages differ in size (2 or 4 devices, and on a model this small
    // 4 devices are not twice as fast as 2) and the stage after a boundary pays its transfer.
  });

  it('rejects the fastest plan when its in-flight activations do not fit, says so, and keeps one that fits', async () => {
    const tg = gpt({ layers: 4, batch: 8, seq: 512 });
    const { clustering } = pipelineClustering(tg, 4);
    const layers = clustering.layers;
    const free = ok(await planPipeline(tg, { cluster: hosts2x4, device: { ...device, memoryBytes: 2 ** 50 }, cost, layers, clustering, microbatches: 4 }));
    // The fastest plan's largest stage need, then a device a little smaller than that.
    const need = free.stages.map((s, i) => s.plan.staticBytes + s.plan.activationBytes * Math.min(free.stages.length - i, 4));
    const small = { ...device, memoryBytes: Math.floor(Math.max(...need) * 0.9) };
    const r = await planPipeline(tg, { cluster: hosts2x4, device: small, cost, layers, clustering, microbatches: 4 });
    expect(r.memoryNote).toMatch(/the fastest plan \(.*\) was rejected: its stage \d+ \(layers \d+-\d+ on \d+ devices\) needs [\d.]+ [KMG]iB per device \([\d.]+ [KMG]iB of parameters, gradients and optimizer state \+ \d+ micro-batch(es)? in flight x [\d.]+ [KMG]iB of activations\)/);
    if (!isRejection(r)) {
      expect(r.stepTimeSeconds).toBeGreaterThanOrEqual(free.stepTimeSeconds * (1 - 1e-9));
      r.stages.forEach((s, i) => expect(s.plan.staticBytes + s.plan.activationBytes * Math.min(r.stages.length - i, 4)).toBeLessThanOrEqual(small.memoryBytes));
    }
  });

  it('refuses a micro-batch count before pricing when everything spread over every device exceeds one, and only then', async () => {
    const tg = gpt({ layers: 4, batch: 8, seq: 512 });
    const { clustering } = pipelineClustering(tg, 4);
    const layers = clustering.layers;
    // The floor by hand: every value of the training graph that a stage holds (parameters,
    // gradients, optimizer states, saved activations), whole, over the cluster's devices.
    const free = ok(await planPipeline(tg, { cluster: hosts2x4, device: { ...device, memoryBytes: 2 ** 50 }, cost, layers, clustering, microbatches: 4 }));
    const whole = free.stages.reduce((sum, st) => sum + st.plan.staticBytes * st.devices.length + st.plan.activationBytes * st.devices.length, 0);
    const N = hosts2x4.devices.length;
    let solves = 0;
    const below = await planPipeline(tg, { cluster: hosts2x4, device: { ...device, memoryBytes: Math.floor((0.5 * whole) / N) }, cost, layers, clustering, microbatches: 4, progress: () => solves++ });
    expect(isRejection(below) && below.rejected).toMatch(/^spread evenly over all 8 devices, the parameters, gradients, optimizer states and one micro-batch of saved activations need [\d.]+ [KMG]iB per device, and a device has [\d.]+ [KMG]iB$/);
    expect(solves).toBe(0);
    // With room for the floor the layers are priced (whether a plan fits is the DP's to say).
    await planPipeline(tg, { cluster: hosts2x4, device: { ...device, memoryBytes: Math.ceil((2 * whole) / N) }, cost, layers, clustering, microbatches: 4, progress: () => solves++ });
    expect(solves).toBeGreaterThan(0);
  });
});

describe('a manual dp,tp,pp grid on a model with a tied embedding', () => {
  it("keeps whole a stage input that carries no batch (the tied embedding's gradient), instead of splitting it over dp", async () => {
    // A BERT whose vocabulary (31) does not divide by dp = 2: the gradient reaching the
    // tied word embedding from the head's stage is [31, 32]. Taking it for batch-leading,
    // the grid refused: "input 'Transpose_25.out' has batch 31, which does not divide
    // into 2 data-parallel replicas".
    const file = path.join(tempDir('tied-grid'), 'tiny-bert.onnx');
    generateExample('bert', { layers: 2, hidden: 32, heads: 2, seq: 16, vocab: 31 }, file);
    const cluster = twoHosts(2, 'A100-80GB', 'two-hosts.yaml');
    const { plan } = await compilePipeline({ model: file, cluster, batch: 4, loss: 'cross-entropy', strategy: 'dp=2,tp=1,pp=2', microbatches: 1 });
    expect(plan.stages).toHaveLength(2);
    expect(plan.stages.map((st) => st.devices.length)).toEqual([2, 2]);
  }, 120_000);
});

describe('a 24-layer GPT on 8x8 V100 behind 25 Gb/s', () => {
  it('auto pipelines across hosts, shards inside them, and is no slower than any dp,tp,pp grid point', async () => {
    const cluster = loadCluster('examples/clusters/8x8-v100.yaml');
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const M = 8;
    const tg = gpt({ layers: 24, hidden: 512, heads: 16, seq: 512, vocab: 4096, batch: 64 / M });
    const { clustering } = pipelineClustering(tg, 8);
    const layers = clustering.layers;
    const auto = ok(await planPipeline(tg, { cluster, device, cost, layers, clustering, microbatches: M }));
    expect(auto.stages.length).toBeGreaterThan(1);
    const hostOf = (d: number): number => cluster.devices[d]?.host ?? -1;
    // Stages across hosts; inside a stage, more than one device of a host works on it.
    expect(new Set(auto.stages.map((s) => hostOf(s.devices[0] ?? 0))).size).toBeGreaterThan(1);
    expect(auto.stages.every((s) => s.devices.length > 1)).toBe(true);
    let best = Infinity;
    for (const tp of [1, 2, 4, 8]) {
      for (const pp of [1, 2, 4, 8]) {
        const r = await planPipeline(tg, { cluster, device, cost, layers, clustering, microbatches: M, grid: { dp: 64 / tp / pp, tp, pp } });
        if (!isRejection(r)) best = Math.min(best, r.stepTimeSeconds);
      }
    }
    expect(best).toBeLessThan(Infinity);
    expect(auto.stepTimeSeconds).toBeLessThanOrEqual(best * (1 + 1e-9));
  }, 180_000);
});

describe('the micro-batch search in worker threads', () => {
  it('gives the same plan as in this thread, and a bad task fails with its error code', async () => {
    const cluster = twoHosts(2, 'A100-80GB', 'two-hosts.yaml');
    const config = { layers: 4, hidden: 128, heads: 4, seq: 64, vocab: 256, weights: 'external' as const };
    const model = rebuildable(config, 4, 'gpt-small');
    const base = { model, cluster, loss: 'cross-entropy' as const, strategy: 'pipeline' };
    const [here, threads] = [await compilePipeline({ ...base, planWorkers: 1 }), await compilePipeline({ ...base, planWorkers: 2 })];
    expect(threads.summary.stepTimeSeconds).toBe(here.summary.stepTimeSeconds);
    expect(threads.summary.microbatches).toBe(here.summary.microbatches);
    expect(threads.summary.stages).toEqual(here.summary.stages);
    expect(JSON.stringify(threads.plan.stages)).toBe(JSON.stringify(here.plan.stages));
    // A grid that cannot use the cluster: every count rejected, the reason reaches the caller.
    await expect(compilePipeline({ ...base, strategy: 'dp=1,tp=2,pp=4', planWorkers: 2 })).rejects.toThrow(/dp=1,tp=2,pp=4 uses 8 devices, the cluster has 4/);
  }, 120_000);
});

describe('the micro-batch search', () => {
  it('tries every power of two dividing the batch, down to micro-batches of one sample', async () => {
    // Batch 128: 1..128 micro-batches (it stopped at 64, which left GPT-175B on 1,024
    // devices 22x slower than at 1,024 micro-batches), and none that does not divide it.
    const cluster = twoHosts(2, 'A100-80GB', 'two-hosts.yaml');
    const config = { layers: 2, hidden: 64, heads: 2, seq: 16, vocab: 128, weights: 'external' as const };
    const counts = async (batch: number): Promise<number[]> => {
      const model = rebuildable(config, batch, 'gpt-tiny');
      const seen: number[] = [];
      const r = await compilePipeline({ model, cluster, loss: 'cross-entropy', strategy: 'pipeline', planWorkers: 1, progress: (e) => e.kind === 'microbatches' && seen.push(e.microbatches) });
      expect(seen).toContain(r.summary.microbatches);
      return seen.sort((a, b) => a - b);
    };
    expect(await counts(128)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    expect(await counts(96)).toEqual([1, 2, 4, 8, 16, 32]);
  }, 180_000);
});

describe('a pipelined strategy that fits at no micro-batch count', () => {
  it("names every count's reason, not one of them", async () => {
    // 8 MiB devices and dp = 4 on a batch of 4: one micro-batch of 4 runs out of memory,
    // micro-batches of 2 and 1 cannot be split 4 ways. Naming one count's reason hid the
    // others (the memory one was named, or the last count's).
    const cluster = twoHosts(2, '{preset: A100-80GB, memory: 8MiB}', 'small-devices.yaml');
    const config = { layers: 4, hidden: 128, heads: 4, seq: 64, vocab: 256, weights: 'external' as const };
    const model = rebuildable(config, 4, 'gpt-small');
    const failure = compilePipeline({ model, cluster, loss: 'cross-entropy', strategy: 'dp=4,tp=1,pp=1', planWorkers: 1 });
    await expect(failure).rejects.toThrow(/with 1, 2, 4 micro-batches: M=1: the fastest plan .* needs [\d.]+ MiB per device .* and a device has 8\.0 MiB; M=2: input 'input_ids' has batch 2, which does not divide into 4 data-parallel replicas; .*; M=4: input 'input_ids' has batch 1, which/);
  }, 120_000);

  it('rejectionSummary gives a reason shared by several counts once', () => {
    expect(rejectionSummary([{ microbatches: 1, reason: 'a' }, { microbatches: 2, reason: 'b' }, { microbatches: 4, reason: 'a' }])).toBe('M=1, 4: a; M=2: b');
  });
});
