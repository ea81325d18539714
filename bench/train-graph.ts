/**
 * How long building a training graph takes (forward + loss + autodiff + Adam) for GPT
 * shapes, graph only. Prints one line per shape, or JSON with --json.
 *   node dist/bench/train-graph.js [--json] [--shapes 350M,1.3B]
 */
import { trainingMemory } from '../src/analysis/memory.js';
import { buildGpt, GPT3_SHAPES } from '../src/models/gpt.js';
import { buildTrainingGraph } from '../src/training/build.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const sel = args[args.indexOf('--shapes') + 1];
const shapes = args.includes('--shapes') && sel ? sel.split(',') : ['350M', '1.3B', '6.7B'];
const rows = [];
for (const name of shapes) {
  const shape = GPT3_SHAPES[name];
  if (!shape) throw new Error(`unknown shape ${name}; known: ${Object.keys(GPT3_SHAPES).join(', ')}`);
  const t0 = performance.now();
  const fwd = buildGpt({ ...shape, batch: 1, weights: 'external' });
  const t1 = performance.now();
  const tg = buildTrainingGraph(fwd, { loss: 'cross_entropy', optimizer: { kind: 'adam', lr: 1e-4 } });
  const t2 = performance.now();
  const mem = trainingMemory(tg);
  const t3 = performance.now();
  rows.push({
    shape: name,
    layers: shape.layers,
    forwardNodes: fwd.nodes.length,
    trainingNodes: tg.graph.nodes.length,
    forwardSeconds: (t1 - t0) / 1000,
    trainingGraphSeconds: (t2 - t1) / 1000,
    memoryAnalysisSeconds: (t3 - t2) / 1000,
    peakRssBytes: process.memoryUsage().rss,
    activationBytes: mem.activations,
  });
}
if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
else for (const r of rows) process.stdout.write(`GPT-${r.shape}: ${r.trainingNodes} nodes; forward ${r.forwardSeconds.toFixed(2)} s, training graph ${r.trainingGraphSeconds.toFixed(2)} s, memory analysis ${r.memoryAnalysisSeconds.toFixed(2)} s; rss ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`);
