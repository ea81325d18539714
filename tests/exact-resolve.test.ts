/**
 * Axis descent can stop at a local optimum, and the relaxation that bounds it can be
 * loose; the pipeline solves a chosen layer again exactly (HiGHS) when its bound leaves
 * more than 1%, keeps that plan when it is better, and otherwise keeps HiGHS's bound.
 * The case that showed the second: GPT-175B's block on a 4x8 V100 mesh (4 hosts) at
 * 1,024 micro-batches, where axis descent has the optimum but min-sum diffusion's bound
 * sits 5.2% under it, and HiGHS proves it in about a second. (Until cross-host permutes
 * were charged the host port's sharing, 2026-11-23, the case was the LM head priced lean
 * on 8x8, 2.1% above its optimum; axis descent now finds that optimum.)
 */
import { describe, expect, it } from 'vitest';
import { loadCostModel } from '../cost-models/calibrated.js';
import { clusterByBlocks, layerRangeGraph } from '../passes/cluster-layers.js';
import { isRejection, planPipeline, rangeRoles } from '../passes/inter-op/pipeline.js';
import { trainingRoles } from '../passes/intra-op/build.js';
import { planIntraOp, withBound } from '../passes/intra-op/plan.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { loadCluster } from '../src/cluster/load.js';
import { logicalMesh } from '../src/cluster/mesh.js';
import { buildGpt, GPT3_SHAPES } from '../src/models/gpt.js';
import { trainingGraphOf, pipelineClusteringOf } from '../src/planner/pipeline-task.js';
import { meshFromLogical } from '../src/sharding/mesh.js';

const shape = GPT3_SHAPES['175B'];
if (!shape) throw new Error('no 175B shape');

describe("a chosen layer's exact solve", () => {
  it("GPT-175B's block on 4x8: the relaxation leaves 5.2% where axis descent has the optimum, which HiGHS proves", async () => {
    const cluster = loadCluster('examples/clusters/8x8-v100.yaml');
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const tg = trainingGraphOf({ graph: unfuseProjections(buildGpt({ ...shape, layers: 4, batch: 1, weights: 'external' })).graph, loss: 'cross-entropy', optimizer: 'adam' });
    const clustering = clusterByBlocks(tg);
    if (!clustering) throw new Error('no blocks');
    const block = layerRangeGraph(tg, clustering, 2, 2);
    const roles = rangeRoles(trainingRoles(tg), block);
    const stepWeight = { names: new Set([...tg.graph.nodes.slice(tg.gradientNodes).map((n) => n.name), ...tg.params]), weight: 1 / 1024 };
    const mesh = meshFromLogical(logicalMesh(cluster, [4, 8], Array.from({ length: 32 }, (_, i) => i)));
    const cost = loadCostModel(undefined);
    const fast = withBound(await planIntraOp(block, roles, mesh, cost, device, { search: 'fast', stepWeight, deferBound: true }), stepWeight);
    expect(fast.solution.gap).toBeGreaterThan(0.01);
    // As the pipeline asks it: the same problem at the same (zero) memory price.
    const exact = await planIntraOp(block, roles, mesh, cost, device, { search: 'exact', solver: 'highs', timeLimitSeconds: 30, memoryPrice: 0, stepWeight, reuse: fast });
    expect(exact.solution.status).toBe('optimal');
    expect(exact.solution.gap).toBeLessThanOrEqual(1e-6);
    // Axis descent's plan is the optimum (to HiGHS's tolerance): the relaxation was loose.
    expect(Math.abs(exact.solution.objective - fast.solution.objective) / fast.solution.objective).toBeLessThan(1e-6);
    expect(exact.solution.bound).toBeGreaterThan(fast.solution.bound * 1.05);
  }, 60_000);

  it('GPT-175B on 1,024 V100 at 1,024 micro-batches: every layer of the plan within 1% of its bound, the 4x8 blocks proven by the exact solve', async () => {
    const cluster = loadCluster('examples/clusters/128x8-v100.yaml');
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const tg = trainingGraphOf({ graph: unfuseProjections(buildGpt({ ...shape, batch: 1, weights: 'external' })).graph, loss: 'cross-entropy', optimizer: 'adam' });
    const { clustering } = pipelineClusteringOf(tg, cluster.devices.length, 1);
    const plan = await planPipeline(tg, { cluster, device, cost: loadCostModel(undefined), layers: clustering.layers, clustering, microbatches: 1024 });
    if (isRejection(plan)) throw new Error(plan.rejected);
    const solutions = plan.stages.flatMap((st) => st.plan.solutions);
    // What the pipeline promises: a chosen layer more than 1% from its bound is solved
    // again (the blocks on 3x8 are left at 0.07-0.26%).
    expect(Math.max(...solutions.map((s) => s.gap))).toBeLessThanOrEqual(0.01);
    // The blocks of the 4x8 stage whose relaxation left 5.2%, proven by HiGHS's bound.
    const byHighs = solutions.filter((s) => s.solver.endsWith('bound by priced'));
    expect(byHighs.length).toBeGreaterThan(0);
    expect(byHighs.every((s) => s.status === 'optimal' && s.gap <= 1e-6)).toBe(true);
  }, 240_000);
});
