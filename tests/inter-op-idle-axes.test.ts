/**
 * Meshes with an axis no value can be split over: found by divisibility, reduced to the
 * mesh without it on the same links, and a layer planned on either costs the same (so
 * the inter-op pass prices the one by the other, see passes/inter-op/idle-axes.ts).
 */
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { layerRangeGraph } from '../passes/cluster-layers.js';
import { dimensionSizes, withoutIdleAxes } from '../passes/inter-op/idle-axes.js';
import { pipelineClustering, rangeRoles } from '../passes/inter-op/pipeline.js';
import { trainingRoles } from '../passes/intra-op/build.js';
import { planIntraOp } from '../passes/intra-op/plan.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { parseCluster } from '../src/cluster/load.js';
import { logicalMesh } from '../src/cluster/mesh.js';
import { buildGpt } from '../src/models/gpt.js';
import { meshFromLogical } from '../src/sharding/mesh.js';
import { buildTrainingGraph } from '../src/training/build.js';

const cluster = parseCluster('hosts: 3\ndevicesPerHost: 2\ndevice: A100-80GB\nintraHost: {bandwidth: 300GB/s, latency: 5us}\ninterHost: {bandwidth: 25Gb/s, latency: 20us}\n', 'three-hosts.yaml');
const all = cluster.devices.map((d) => d.id);

describe('idle mesh axes', () => {
  it('drops an axis whose size divides no dimension, keeps one that divides some, and keeps the links', () => {
    const pow2 = new Set([1, 2, 64, 128]);
    const r = withoutIdleAxes(cluster, logicalMesh(cluster, [3, 2], all), pow2);
    expect(r?.shape).toEqual([2]);
    // The devices of the first host: the idle (host) axis at index 0.
    expect(r?.devices).toEqual(all.slice(0, 2));
    expect(r?.axes[0]?.beta).toBe(logicalMesh(cluster, [2], all.slice(0, 2)).axes[0]?.beta);
    // Nothing usable at all: one device.
    expect(withoutIdleAxes(cluster, logicalMesh(cluster, [6], all), pow2)?.shape).toEqual([1]);
    // A dimension of 96 makes the 3-host axis usable, and 6 too (96 = 6 * 16).
    expect(withoutIdleAxes(cluster, logicalMesh(cluster, [3, 2], all), new Set([2, 96]))).toBeUndefined();
    expect(withoutIdleAxes(cluster, logicalMesh(cluster, [6], all), new Set([96]))).toBeUndefined();
    // Every axis usable: nothing to drop.
    expect(withoutIdleAxes(cluster, logicalMesh(cluster, [2], all.slice(0, 2)), pow2)).toBeUndefined();
  });

  it('a GPT block costs the same on 3 hosts x 2 as on the 2 devices of one host', async () => {
    const graph = unfuseProjections(buildGpt({ layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128, batch: 4, weights: 'external' })).graph;
    const tg = buildTrainingGraph(graph, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-3 } });
    const { clustering } = pipelineClustering(tg, 4);
    const g = layerRangeGraph(tg, clustering, 1, 1);
    const roles = rangeRoles(trainingRoles(tg), g);
    const device = cluster.groups[0]?.device;
    if (!device) throw new Error('no device');
    const big = logicalMesh(cluster, [3, 2], all);
    const small = withoutIdleAxes(cluster, big, dimensionSizes(tg.graph));
    if (!small) throw new Error('the host axis should be idle');
    const cost = analyticalCostModel();
    const [a, b] = [await planIntraOp(g, roles, meshFromLogical(big), cost, device, { search: 'fast' }), await planIntraOp(g, roles, meshFromLogical(small), cost, device, { search: 'fast' })];
    expect(a.computeSeconds + a.communicationSeconds).toBeCloseTo(b.computeSeconds + b.communicationSeconds, 12);
    expect(a.memoryBytes).toBe(b.memoryBytes);
    // And the reduced mesh is not a trivial one: the block is split over it.
    expect(b.computeSeconds).toBeLessThan((await planIntraOp(g, roles, meshFromLogical(logicalMesh(cluster, [1], [0])), cost, device)).computeSeconds);
  });
});
