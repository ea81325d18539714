/**
 * The 1-D relaxation's floor (passes/inter-op/relaxed-floors.ts): dropping either axis of
 * a 2-D mesh from every layout costs each resharding at most the other's size times as
 * much on the axis kept (every pair of legal specs, on meshes inside a host and across hosts),
 * every strategy drops to one of the 1-D mesh's costing at most A1 times its compute,
 * and so the floor is under every plan of every layer of a GPT on every 2-D mesh: the
 * fast price, and the exact optimum of the time per micro-batch itself.
 */
import { describe, expect, it } from 'vitest';
import { analyticalCostModel } from '../cost-models/cost-model.js';
import { layerRangeGraph } from '../passes/cluster-layers.js';
import { buildIntraOpProblem, trainingRoles } from '../passes/intra-op/build.js';
import { planIntraOp } from '../passes/intra-op/plan.js';
import { rangeRoles } from '../passes/inter-op/pipeline.js';
import { stageMeshes } from '../passes/inter-op/placement.js';
import { axisRelaxation, perStepNamesOf, relaxedBound, relaxedFloor } from '../passes/inter-op/relaxed-floors.js';
import { layerFloors } from '../passes/inter-op/time-floors.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { parseCluster } from '../src/cluster/load.js';
import { logicalMesh, type LogicalMesh } from '../src/cluster/mesh.js';
import { submeshes } from '../src/cluster/submesh.js';
import type { Cluster } from '../src/cluster/types.js';
import { buildGpt } from '../src/models/gpt.js';
import { pipelineClusteringOf, trainingGraphOf } from '../src/planner/pipeline-task.js';
import { legalSpecs } from '../src/sharding/enumerate.js';
import { meshFromLogical } from '../src/sharding/mesh.js';
import { createResharder } from '../src/sharding/reshard.js';
import { specToString, type ShardingSpec } from '../src/sharding/spec.js';

const cost = analyticalCostModel();
const twoHosts = parseCluster('hosts: 2\ndevicesPerHost: 4\ndevice: V100-16GB\nintraHost: nvlink2\ninterHost: {bandwidth: 25Gb/s, latency: 25us}\n', 'two-hosts.yaml');
const eightHosts = parseCluster('hosts: 8\ndevicesPerHost: 8\ndevice: V100-16GB\nintraHost: nvlink2\ninterHost: {bandwidth: 25Gb/s, latency: 25us}\n', 'eight-hosts.yaml');
const fourHostsOfTwo = parseCluster('hosts: 4\ndevicesPerHost: 2\ndevice: A100-80GB\nintraHost: nvlink3\ninterHost: ib-hdr\n', 'four-hosts.yaml');

/** Every 2-D stage mesh of a cluster (inside a host and across hosts). */
function twoAxisMeshes(cluster: Cluster): LogicalMesh[] {
  return submeshes(cluster).flatMap((sm) => stageMeshes(cluster, sm)).filter((lm) => lm.shape.length === 2);
}

/** `spec` with the minor axis `drop` taken out of every dimension and of its partial axes. */
function dropAxis(spec: ShardingSpec, drop: string): ShardingSpec {
  return { dims: spec.dims.map((axes) => axes.filter((a) => a !== drop)), partial: spec.partial.filter((a) => a !== drop) };
}

describe('the 1-D relaxation of a 2-D mesh', () => {
  it("keeps the major axis, at the least of its own and the flat group's links, and divides by the minor axis", () => {
    const lm = logicalMesh(eightHosts, [8, 8]);
    const r = axisRelaxation(lm);
    if (!r) throw new Error('no relaxation');
    const [x] = lm.axes;
    const flat = lm.multiAxis['x,y'];
    if (!x || !flat) throw new Error('no links');
    expect(r.divisor).toBe(8);
    expect(r.mesh.shape).toEqual([8]);
    expect(r.mesh.axes.map((a) => [a.name, a.size])).toEqual([['x', 8]]);
    const [a] = r.mesh.axes;
    expect(a?.beta).toBe(Math.min(x.beta, 8 * flat.beta));
    expect(a?.alltoallBeta).toBe(Math.min(x.alltoallBeta, flat.alltoallBeta));
    expect(a?.alpha).toBe(Math.min(x.alpha, flat.alpha) * Math.min(1, 8 / 7));
    // The minor axis's groups share each host's port: axis x's β is 8 network streams.
    expect(x.beta).toBeGreaterThan(7 * flat.beta);
    expect(axisRelaxation(logicalMesh(eightHosts, [64]))).toBeUndefined();
    expect(axisRelaxation(logicalMesh(twoHosts, [8, 1]))).toBeUndefined();
  });

  it('prices every resharding on the relaxed axis at most A1 times the 2-D one', () => {
    const cases: { cluster: Cluster; shapes: number[][] }[] = [
      { cluster: twoHosts, shapes: [[8, 16, 32], [64, 128]] },
      { cluster: eightHosts, shapes: [[16, 32, 64], [64, 256], [8, 16, 32, 16]] },
      { cluster: fourHostsOfTwo, shapes: [[8, 16, 32], [4, 8, 16, 8]] },
    ];
    let pairs = 0;
    let meshes = 0;
    for (const { cluster, shapes } of cases) {
      for (const [lm, keep] of twoAxisMeshes(cluster).flatMap((m) => [[m, 0], [m, 1]] as const)) {
        const relaxation = axisRelaxation(lm, keep);
        if (!relaxation) continue;
        meshes++;
        const drop = lm.axes[1 - keep]?.name ?? '';
        const full = meshFromLogical(lm);
        const relaxed = meshFromLogical(relaxation.mesh);
        const [r2, r1] = [createResharder(full, cost), createResharder(relaxed, cost)];
        for (const shape of shapes) {
          const specs = legalSpecs(shape, full);
          const targets = specs.filter((s) => s.partial.length === 0);
          for (const from of specs) {
            for (const to of targets) {
              const two = r2.seconds(from, to, shape, 4);
              const one = r1.seconds(dropAxis(from, drop), dropAxis(to, drop), shape, 4);
              if (!(one <= relaxation.divisor * two * (1 + 1e-9) + 1e-15)) throw new Error(`[${lm.shape}] of ${cluster.file}, [${shape}]: ${specToString(from)} -> ${specToString(to)} costs ${two} s, relaxed ${one} s`);
              pairs++;
            }
          }
        }
      }
    }
    expect(meshes).toBeGreaterThanOrEqual(16);
    expect(pairs).toBeGreaterThan(40_000);
  }, 120_000);

  it("drops every strategy of a GPT's ops to one of the 1-D mesh costing at most A1 times its compute", () => {
    const graph = unfuseProjections(buildGpt({ layers: 1, hidden: 64, heads: 4, seq: 32, vocab: 128, batch: 8, weights: 'external' })).graph;
    const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
    const roles = trainingRoles(tg);
    const device = twoHosts.groups[0]?.device;
    if (!device) throw new Error('no device');
    let strategies = 0;
    for (const [lm, keep] of [...twoAxisMeshes(twoHosts), logicalMesh(eightHosts, [8, 8])].flatMap((m) => [[m, 0], [m, 1]] as const)) {
      const relaxation = axisRelaxation(lm, keep);
      if (!relaxation) continue;
      const drop = lm.axes[1 - keep]?.name ?? '';
      const [full, relaxed] = [meshFromLogical(lm), meshFromLogical(relaxation.mesh)];
      const two = buildIntraOpProblem({ graph: tg.graph, roles, mesh: full, cost, device, resharder: createResharder(full, cost) });
      const one = buildIntraOpProblem({ graph: tg.graph, roles, mesh: relaxed, cost, device, resharder: createResharder(relaxed, cost) });
      two.origins.forEach((o, i) => {
        const o1 = one.origins[i];
        if (o.kind !== 'op' || o1?.kind !== 'op') {
          // Value and shared nodes: every layout drops to a legal 1-D layout.
          if (o.kind !== 'op' && o1 && o1.kind !== 'op') for (const s of o.specs) expect(o1.specs.some((t) => specToString(t) === specToString(dropAxis(s, drop)))).toBe(true);
          return;
        }
        const key = (outs: readonly ShardingSpec[], ins: readonly (ShardingSpec | undefined)[]): string => [...outs.map(specToString), '|', ...ins.map((s) => (s ? specToString(s) : '-'))].join(' ');
        const index = new Map(o1.strategies.map((s, k) => [key(s.outputs, s.inputs), k]));
        o.strategies.forEach((s, k) => {
          const k1 = index.get(key(s.outputs.map((x) => dropAxis(x, drop)), s.inputs.map((x) => (x ? dropAxis(x, drop) : x))));
          if (k1 === undefined) throw new Error(`${o.node.name} on [${lm.shape}]: ${s.label} has no 1-D counterpart`);
          expect(one.computeSeconds[i]?.[k1] ?? Infinity).toBeLessThanOrEqual(relaxation.divisor * (two.computeSeconds[i]?.[k] ?? 0) * (1 + 1e-12));
          strategies++;
        });
      });
    }
    expect(strategies).toBeGreaterThan(5_000);
  }, 120_000);

  it("is under every layer's time per micro-batch on every 2-D mesh, fast and exact, and above the one-device floor across hosts", async () => {
    let compared = 0;
    let tighter = 0;
    for (const [cluster, batch] of [[twoHosts, 8], [eightHosts, 16]] as const) {
      const device = cluster.groups[0]?.device;
      if (!device) throw new Error('no device');
      const graph = unfuseProjections(buildGpt({ layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128, batch, weights: 'external' })).graph;
      const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
      const { clustering } = pipelineClusteringOf(tg, cluster.devices.length, 1);
      const roles = trainingRoles(tg);
      const perStep = new Set([...tg.graph.nodes.slice(tg.gradientNodes).map((n) => n.name), ...tg.params]);
      const one = logicalMesh(cluster, [1], [0]);
      // The meshes the search prices in 2-D (on eight hosts, those of two hosts and all of them).
      const meshes = twoAxisMeshes(cluster).filter((lm) => cluster === twoHosts || lm.devices.length === 16 || lm.devices.length === 64);
      for (let l = 0; l < clustering.layers; l++) {
        const g = layerRangeGraph(tg, clustering, l, l);
        const r = rangeRoles(roles, g);
        const names = perStepNamesOf(g, perStep);
        /** A plan's time per micro-batch as the inter-op pass counts it. */
        const perMicrobatch = (plan: Awaited<ReturnType<typeof planIntraOp>>): number => {
          let step = plan.collectives.filter((c) => perStep.has(c.consumer)).reduce((t, c) => t + c.seconds, 0);
          plan.problem.origins.forEach((o, i) => {
            if (o.kind === 'op' && perStep.has(o.node.name)) step += plan.problem.computeSeconds[i]?.[plan.solution.choice[i] ?? 0] ?? 0;
          });
          return plan.computeSeconds + plan.communicationSeconds - step;
        };
        const alone = perMicrobatch(await planIntraOp(g, r, meshFromLogical(one), cost, device, { search: 'fast', stepWeight: { names: perStep, weight: 1 / 4 }, memoryBudget: Infinity }));
        for (const [lm, keep] of meshes.flatMap((m) => [[m, 0], [m, 1]] as const)) {
          const relaxation = axisRelaxation(lm, keep);
          if (!relaxation) continue;
          const relaxed = meshFromLogical(relaxation.mesh);
          const floor = relaxedFloor(await relaxedBound(g, r, { mesh: relaxed, resharder: createResharder(relaxed, cost) }, cost, device, perStep), relaxation.divisor, g);
          const mesh = meshFromLogical(lm);
          const fast = await planIntraOp(g, r, mesh, cost, device, { search: 'fast', stepWeight: { names: perStep, weight: 1 / 4 } });
          // The least time per micro-batch any plan of the mesh takes (HiGHS, weighting the update 0).
          const exact = await planIntraOp(g, r, mesh, cost, device, { search: 'exact', solver: 'highs', stepWeight: { names, weight: 0 }, memoryBudget: Infinity, timeLimitSeconds: 20 });
          for (const plan of [fast, exact]) {
            if (plan.solution.status === 'infeasible') continue;
            expect(floor).toBeLessThanOrEqual(perMicrobatch(plan) * (1 + 1e-9));
            compared++;
          }
          // Where the exact optimum is proven: how close the floor comes.
          if (exact.solution.status === 'optimal' && lm.devices.length > 4) {
            const [oneDevice] = layerFloors([{ seconds: alone, stepSeconds: 0, staticBytes: 0, activationBytes: 0 }], lm.devices.length);
            if (floor > (oneDevice?.seconds ?? Infinity)) tighter++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(30);
    // Across hosts the relaxation keeps the network, which the one-device floor leaves out.
    expect(tighter).toBeGreaterThan(5);
  }, 300_000);

  it("on a 1-D mesh (its own relaxation, divisor 1) is under every layer's fast price and within a few % of it", async () => {
    const device = twoHosts.groups[0]?.device;
    if (!device) throw new Error('no device');
    const graph = unfuseProjections(buildGpt({ layers: 2, hidden: 64, heads: 4, seq: 32, vocab: 128, batch: 8, weights: 'external' })).graph;
    const tg = trainingGraphOf({ graph, loss: 'cross-entropy', optimizer: undefined });
    const { clustering } = pipelineClusteringOf(tg, twoHosts.devices.length, 1);
    const roles = trainingRoles(tg);
    const perStep = new Set([...tg.graph.nodes.slice(tg.gradientNodes).map((n) => n.name), ...tg.params]);
    const meshes = submeshes(twoHosts).flatMap((sm) => stageMeshes(twoHosts, sm)).filter((lm) => lm.shape.length === 1 && lm.devices.length > 1);
    let ratios = 0;
    for (let l = 0; l < clustering.layers; l++) {
      const g = layerRangeGraph(tg, clustering, l, l);
      const r = rangeRoles(roles, g);
      for (const lm of meshes) {
        const mesh = meshFromLogical(lm);
        const floor = relaxedFloor(await relaxedBound(g, r, { mesh, resharder: createResharder(mesh, cost) }, cost, device, perStep), 1, g);
        const plan = await planIntraOp(g, r, mesh, cost, device, { search: 'fast', stepWeight: { names: perStep, weight: 1 / 4 }, memoryBudget: Infinity });
        let step = plan.collectives.filter((c) => perStep.has(c.consumer)).reduce((t, c) => t + c.seconds, 0);
        plan.problem.origins.forEach((o, i) => {
          if (o.kind === 'op' && perStep.has(o.node.name)) step += plan.problem.computeSeconds[i]?.[plan.solution.choice[i] ?? 0] ?? 0;
        });
        const price = plan.computeSeconds + plan.communicationSeconds - step;
        expect(floor).toBeLessThanOrEqual(price * (1 + 1e-9));
        if (floor >= 0.9 * price) ratios++;
      }
    }
    // The update weighed 0 and the tie-break given back are all it leaves out: close to the price.
    expect(ratios).toBeGreaterThan(meshes.length);
  }, 120_000);
});
