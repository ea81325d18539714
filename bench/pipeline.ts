/**
 * The inter-op pass at GPT scale: planning time of `auto` (stages, meshes and the
 * micro-batch count all searched) and, in the same run and cost model, every manual
 * dp=D,tp=T,pp=P grid point with its own micro-batch search; the step-time ratio of
 * auto to the best grid point and to the ideal (all FLOPs at peak on every device).
 *   node dist/bench/pipeline.js [--shape 1.3B] [--blocks N] [--cluster examples/clusters/8x8-v100.yaml] [--batch 64] [--no-grid] [--json]
 */
import { flags } from './flags.js';
import { gptStepFlops, gridStrategies } from './grid.js';
import os from 'node:os';
import { loadCluster } from '../src/cluster/load.js';
import { buildGpt, GPT3_SHAPES } from '../src/models/gpt.js';
import { AutoparError } from '../src/errors.js';
import type { CompileSummary } from '../src/planner/plan-json.js';
import { planModel } from '../src/planner/plan-model.js';

const cli = flags();
const flag = cli.value;
const shapeName = flag('--shape', '1.3B');
const shape = GPT3_SHAPES[shapeName];
if (!shape) throw new Error(`unknown shape ${shapeName}; known: ${Object.keys(GPT3_SHAPES).join(', ')}`);
const blocks = Number(flag('--blocks', String(shape.layers)));
const batch = Number(flag('--batch', '64'));
const clusterFile = flag('--cluster', 'examples/clusters/8x8-v100.yaml');
const cluster = loadCluster(clusterFile);
const device = cluster.groups[0]?.device;
if (!device) throw new Error('no device');
const N = cluster.devices.length;
const perHost = cluster.hosts[0]?.devices.length ?? 1;
const config = { ...shape, layers: blocks, weights: 'external' as const };
const model = { graph: buildGpt({ ...config, batch }), name: `gpt-${shapeName}`, rebuild: (b: number) => buildGpt({ ...config, batch: b }) };
const base = { model, cluster, loss: 'cross-entropy' as const, batch };

const t0 = performance.now();
const auto = (await planModel({ ...base, strategy: 'auto' })).summary;
const autoSeconds = (performance.now() - t0) / 1000;

interface GridRow {
  readonly strategy: string;
  readonly stepTimeSeconds: number | null;
  readonly microbatches: number | null;
  readonly planningSeconds: number;
  readonly reason?: string;
}
const grid: GridRow[] = [];
if (!cli.has('--no-grid')) {
  for (const strategy of gridStrategies(N, perHost)) {
    const t1 = performance.now();
    try {
      const s: CompileSummary = (await planModel({ ...base, strategy })).summary;
      grid.push({ strategy, stepTimeSeconds: s.stepTimeSeconds, microbatches: s.microbatches, planningSeconds: (performance.now() - t1) / 1000 });
    } catch (e) {
      if (!(e instanceof AutoparError) || e.code === 'E_INTERNAL') throw e;
      grid.push({ strategy, stepTimeSeconds: null, microbatches: null, planningSeconds: (performance.now() - t1) / 1000, reason: e.message.slice(0, 160) });
    }
  }
}
const bestGrid = grid.filter((g) => g.stepTimeSeconds !== null).sort((a, b) => (a.stepTimeSeconds ?? 0) - (b.stepTimeSeconds ?? 0))[0];
// Ideal: the step's FLOPs (6 per parameter per token + attention) at peak on every device.
const h = shape.hidden;
const flops = gptStepFlops({ ...shape, layers: blocks }, batch);
// The model trains in float32 here, so float32 peak.
const idealSeconds = flops / (N * device.peakFlops.float32);
const row = {
  model: `GPT-${shapeName} shape (${blocks} blocks, h=${h}, s=${shape.seq}), batch ${batch}`,
  cluster: clusterFile,
  devices: N,
  machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}`,
  auto: { planningSeconds: autoSeconds, stepTimeSeconds: auto.stepTimeSeconds, microbatches: auto.microbatches, stages: auto.stages.map((s) => ({ layers: s.layers, devices: s.devices.length, mesh: s.meshShape })), notes: auto.notes ?? [] },
  bestGrid: bestGrid ?? null,
  autoOverBestGrid: bestGrid?.stepTimeSeconds ? auto.stepTimeSeconds / bestGrid.stepTimeSeconds : null,
  autoOverIdeal: auto.stepTimeSeconds / idealSeconds,
  grid,
  peakRssBytes: process.memoryUsage().rss,
};
if (cli.has('--json')) {
  process.stdout.write(JSON.stringify(row, null, 2) + '\n');
} else {
  const ms = (s: number | null | undefined): string => (s === null || s === undefined ? '-' : `${(s * 1e3).toFixed(1)} ms`);
  process.stdout.write(
    [
      `${row.model} on ${N} devices (${clusterFile})`,
      `auto: planned in ${autoSeconds.toFixed(1)} s; step ${ms(auto.stepTimeSeconds)} with ${auto.microbatches} micro-batches, ${auto.stages.length} stages: ${row.auto.stages.map((s) => `${s.layers[0]}-${s.layers[1]} on [${s.mesh.join('x')}]`).join(', ')}`,
      ...grid.map((g) => `  ${g.strategy.padEnd(18)} ${ms(g.stepTimeSeconds).padStart(12)}  M=${g.microbatches ?? '-'}  planned in ${g.planningSeconds.toFixed(1)} s${g.reason ? `  (${g.reason})` : ''}`),
      bestGrid ? `best grid point ${bestGrid.strategy}: ${ms(bestGrid.stepTimeSeconds)}; auto / best grid = ${row.autoOverBestGrid?.toFixed(3)}` : 'no grid point',
      `auto / ideal (6 FLOPs per parameter per token + attention, at peak on every device) = ${row.autoOverIdeal.toFixed(2)}`,
      `peak rss ${(row.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    ].join('\n') + '\n',
  );
}
