/**
 * Planning time of the inter-op pass (stages on submeshes, each shaped by the intra-op
 * pass) on a GPT training graph, with the chosen stages and the estimated step.
 *   node dist/bench/pipeline.js [--shape 1.3B] [--cluster examples/clusters/8x8-v100.yaml] [--batch 64] [--microbatches 8] [--layers 24] [--json]
 */
import { loadCostModel } from '../cost-models/calibrated.js';
import { chooseLayerCount, isRejection, planPipeline } from '../passes/inter-op/pipeline.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { loadCluster } from '../src/cluster/load.js';
import { buildGpt, GPT3_SHAPES } from '../src/models/gpt.js';
import { buildTrainingGraph } from '../src/training/build.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const shapeName = flag('--shape', '1.3B');
const shape = GPT3_SHAPES[shapeName];
if (!shape) throw new Error(`unknown shape ${shapeName}; known: ${Object.keys(GPT3_SHAPES).join(', ')}`);
const blocks = Number(flag('--blocks', String(shape.layers)));
const batch = Number(flag('--batch', '64'));
const microbatches = Number(flag('--microbatches', '8'));
const cluster = loadCluster(flag('--cluster', 'examples/clusters/8x8-v100.yaml'));
const device = cluster.groups[0]?.device;
if (!device) throw new Error('no device');
const t0 = performance.now();
const graph = unfuseProjections(buildGpt({ ...shape, layers: blocks, batch: batch / microbatches, weights: 'external' })).graph;
const tg = buildTrainingGraph(graph, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-3 } });
const tBuild = (performance.now() - t0) / 1000;
const layers = args.includes('--layers') ? Number(flag('--layers', '8')) : chooseLayerCount(tg, 8).layers;
const planned = await planPipeline(tg, { cluster, device, cost: loadCostModel(undefined), layers, microbatches, timeLimitSeconds: 60 });
const total = (performance.now() - t0) / 1000;
if (isRejection(planned)) throw new Error(`no plan: ${planned.rejected}`);
const p = planned;
const row = {
  model: `GPT-${shapeName} (${blocks} blocks, h=${shape.hidden}, s=${shape.seq}), batch ${batch} in ${microbatches} micro-batches`,
  cluster: cluster.name,
  devices: cluster.devices.length,
  buildSeconds: tBuild,
  totalSeconds: total,
  layers,
  distinctLayers: p?.distinctLayers,
  intraOpSolves: p?.intraOpSolves,
  phases: p?.seconds,
  stages: p?.stages.map((s) => ({ layers: s.layers, devices: s.devices.length, mesh: s.mesh.shape, seconds: s.seconds, estimatedSeconds: s.estimatedSeconds })),
  stepTimeSeconds: p?.stepTimeSeconds,
  peakRssBytes: process.memoryUsage().rss,
};
if (args.includes('--json')) process.stdout.write(JSON.stringify(row, null, 2) + '\n');
else process.stdout.write(JSON.stringify(row) + '\n');
