/**
 * The floors the pipeline search rejects a count with before pricing all its meshes
 * (passes/inter-op/time-floors.ts): a layer's time on one device / n is under what the
 * intra-op pass prices it at on every mesh of n devices, fast (axis descent) or exact,
 * and its unsharded bytes / n under what the priced layout holds.
 */
import { describe, expect, it } from 'vitest';
import { calibratedCostModel } from '../cost-models/calibrated.js';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { layerRangeGraph } from '../passes/cluster-layers.js';
import { trainingRoles } from '../passes/intra-op/build.js';
import { planIntraOp } from '../passes/intra-op/plan.js';
import { rangeRoles } from '../passes/inter-op/pipeline.js';
import { stageMeshes } from '../passes/inter-op/placement.js';
import { layerFloors } from '../passes/inter-op/time-floors.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { parseCluster } from '../src/cluster/load.js';
import { submeshes } from '../src/cluster/submesh.js';
import { dtypeBytes } from '../src/ir/dtype.js';
import { buildGpt } from '../src/models/gpt.js';
import { pipelineClusteringOf, trainingGraphOf } from '../src/planner/pipeline-task.js';
import { syntheticProfile } from './helpers/profile.js';
import { meshFromLogical } from '../src/sharding/mesh.js';
import { shardBytes } from '../src/sharding/spec.js';

describe('time floors', () => {
  it('divides a layer by the devices', () => {
    expect(layerFloors([{ seconds: 8, stepSeconds: 4, staticBytes: 16, activationBytes: 2 }], 4)).toEqual([{ seconds: 2, stepSeconds: 1, staticBytes: 4, activationBytes: 0.5 }]);
  });

  it('the roofline declares that a share of an op costs no less than its share of the time; a measured curve does not', () => {
    expect(analyticalCostModel().computeScalesDown).toBe(true);
    const s = (label: string, work: number) => ({ label, flops: work, bytes: work, seconds: work / 1e9 });
    const profile = syntheticProfile({ matmul: [s('a', 1e6), s('b', 1e9)], conv: [s('a', 1e6), s('b', 1e9)], elementwise: [s('a', 1e6), s('b', 1e9)] }, { matmulFlops: 1e9, convFlops: 1e9, memoryBandwidth: 1e9 });
    expect(calibratedCostModel(profile).computeScalesDown).toBe(false);
  });

  it('is under the price of every layer of a small GPT on every mesh of a 2x4 cluster, fast and exact', async () => {
    const cluster = parseCluster('hosts: 2\ndevicesPerHost: 4\ndevice: V100-16GB\nintraHost: nvlink2\ninterHost: {bandwidth: 25Gb/s, latency: 25us}\n', 'two-hosts.yaml');
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const cost = analyticalCostModel();
    const graph = unfuseProjections(buildGpt({ layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128, batch: 8, weights: 'external' })).graph;
    const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
    const { clustering } = pipelineClusteringOf(tg, cluster.devices.length, 1);
    const roles = trainingRoles(tg);
    const perStep = new Set([...tg.graph.nodes.slice(tg.gradientNodes).map((n) => n.name), ...tg.params]);
    const stepWeight = { names: perStep, weight: 1 / 4 };
    const shapes = submeshes(cluster);
    const single = shapes.find((s) => s.size === 1);
    if (!single) throw new Error('no one-device submesh');
    let compared = 0;
    for (let l = 0; l < clustering.layers; l++) {
      const g = layerRangeGraph(tg, clustering, l, l);
      const r = rangeRoles(roles, g);
      // What the layer holds and runs, from a plan: per micro-batch and per step apart.
      const split = (plan: Awaited<ReturnType<typeof planIntraOp>>): { seconds: number; stepSeconds: number; bytes: number } => {
        let stepSeconds = plan.collectives.filter((c) => perStep.has(c.consumer)).reduce((t, c) => t + c.seconds, 0);
        plan.problem.origins.forEach((o, i) => {
          if (o.kind === 'op' && perStep.has(o.node.name)) stepSeconds += plan.problem.computeSeconds[i]?.[plan.solution.choice[i] ?? 0] ?? 0;
        });
        let bytes = 0;
        for (const v of [...g.initializers.keys(), ...r.resident]) {
          const t = g.types.get(v);
          const spec = plan.layouts.get(v);
          if (t && spec) bytes += shardBytes(t.shape.map(Number), dtypeBytes(t.dtype), spec, plan.mesh);
        }
        return { seconds: plan.computeSeconds + plan.communicationSeconds - stepSeconds, stepSeconds, bytes };
      };
      const one = stageMeshes(cluster, single)[0];
      if (!one) throw new Error('no one-device mesh');
      const alone = split(await planIntraOp(g, r, meshFromLogical(one), cost, device, { search: 'fast', stepWeight, memoryBudget: Infinity }));
      expect(alone.seconds).toBeGreaterThan(0);
      for (const sm of shapes) {
        for (const lm of stageMeshes(cluster, sm)) {
          for (const search of ['fast', 'exact'] as const) {
            const plan = await planIntraOp(g, r, meshFromLogical(lm), cost, device, { search, stepWeight, timeLimitSeconds: 20 });
            if (plan.solution.status === 'infeasible') continue;
            const priced = split(plan);
            const [floor] = layerFloors([{ seconds: alone.seconds, stepSeconds: alone.stepSeconds, staticBytes: alone.bytes, activationBytes: 0 }], sm.size);
            expect(priced.seconds).toBeGreaterThanOrEqual((floor?.seconds ?? Infinity) * (1 - 1e-9));
            expect(priced.stepSeconds).toBeGreaterThanOrEqual((floor?.stepSeconds ?? Infinity) * (1 - 1e-9));
            expect(priced.bytes).toBeGreaterThanOrEqual((floor?.staticBytes ?? Infinity) * (1 - 1e-9));
            compared++;
          }
        }
      }
    }
    // Every layer kind (embedding, blocks, head) on meshes of 1, 2, 4 and 8 devices, 1-D and 2-D.
    expect(compared).toBeGreaterThan(20);
  }, 240_000);
});
