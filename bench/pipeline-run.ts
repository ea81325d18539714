/**
 * Training throughput of gpt2_tiny_opset17 pipelined over 1, 2 and 4 worker threads
 * (one stage per worker, 1F1B), measured in one run on this machine. Each figure is the
 * time of N extra steps (a run of 1 + N steps minus a run of 1 step), so worker start-up
 * and backend initialisation are left out.
 *   node dist/bench/pipeline-run.js [--steps 4] [--batch 8] [--microbatches 4] [--json]
 */
import { flags } from './flags.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterLayers } from '../passes/cluster-layers.js';
import { unfuseProjections } from '../passes/unfuse-projections.js';
import { type HostTensor, hostTensor, numel } from '../src/ir/host-tensor.js';
import { importOnnx } from '../src/onnx/import.js';
import { runPipeline } from '../src/runtime/pipeline/run-pipeline.js';
import { buildTrainingGraph } from '../src/training/build.js';

const cli = flags();
const flag = cli.value;
const steps = Number(flag('--steps', '4'));
const batch = Number(flag('--batch', '8'));
const M = Number(flag('--microbatches', '4'));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const file = path.join(root, 'tests', 'fixtures', 'models', 'gpt2_tiny_opset17.onnx');
const graph = unfuseProjections(importOnnx(file, { dims: { batch: batch / M } }).graph).graph;
const tg = buildTrainingGraph(graph, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-3 } });
const layers = clusterLayers(tg, { layers: 4 });
const vocab = Number(tg.graph.types.get(tg.output)?.shape.at(-1) ?? 2);
let seed = 1;
const next = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
const microbatches: Map<string, HostTensor>[] = Array.from({ length: M }, () => new Map(tg.graph.inputs.map((i) => [i.name, hostTensor(i.type.dtype, i.type.shape.map(Number), Array.from({ length: numel(i.type.shape.map(Number)) }, () => Math.floor(next() * vocab)))] as const)));

const rows: { workers: number; secondsPerStep: number; samplesPerSecond: number }[] = [];
for (const workers of [1, 2, 4]) {
  const ranges = Array.from({ length: workers }, (_, s): [number, number] => [(s * 4) / workers, ((s + 1) * 4) / workers - 1]);
  const time = async (n: number): Promise<number> => {
    const t0 = performance.now();
    await runPipeline({ tg, layerOf: layers.layerOf, ranges, schedule: '1f1b', microbatches, steps: n });
    return (performance.now() - t0) / 1000;
  };
  const once = await time(1);
  const more = await time(1 + steps);
  const secondsPerStep = (more - once) / steps;
  rows.push({ workers, secondsPerStep, samplesPerSecond: batch / secondsPerStep });
}
const base = rows[0]?.samplesPerSecond ?? 1;
const out = { model: 'gpt2_tiny_opset17', batch, microbatches: M, steps, machine: `${os.availableParallelism()} cores`, rows: rows.map((r) => ({ ...r, speedup: r.samplesPerSecond / base })) };
if (cli.has('--json')) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
else for (const r of out.rows) process.stdout.write(`${r.workers} worker${r.workers > 1 ? 's' : ' '}: ${(r.secondsPerStep * 1e3).toFixed(1)} ms/step, ${r.samplesPerSecond.toFixed(1)} samples/s, x${r.speedup.toFixed(2)} of 1 worker (batch ${batch}, ${M} micro-batches, 1F1B, ${out.machine})\n`);
