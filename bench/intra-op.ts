/**
 * Planning time of the intra-op pass on a GPT training graph and one mesh, phase by
 * phase, with the solver's status and gap. Prints a line, or JSON with --json.
 *   node dist/bench/intra-op.js [--shape 1.3B] [--cluster examples/clusters/8x8-a100.yaml] [--mesh 8x8] [--batch 8] [--layers N] [--json]
 */
import { flags } from './flags.js';
import { compileModel } from '../src/planner/compile.js';
import { buildPlanJson } from '../src/planner/plan-json.js';
import { buildGpt, GPT3_SHAPES } from '../src/models/gpt.js';

const cli = flags();
const flag = cli.value;
const shapeName = flag('--shape', '1.3B');
const shape = GPT3_SHAPES[shapeName];
if (!shape) throw new Error(`unknown shape ${shapeName}; known: ${Object.keys(GPT3_SHAPES).join(', ')}`);
const layers = Number(flag('--layers', String(shape.layers)));
const batch = Number(flag('--batch', '8'));
const mesh = flag('--mesh', '8x8').split('x').map(Number);
const cluster = flag('--cluster', 'examples/clusters/8x8-a100.yaml');
const t0 = performance.now();
const graph = buildGpt({ ...shape, layers, batch, weights: 'external' });
const c = await compileModel({ model: { graph, name: `gpt-${shapeName}` }, cluster, loss: 'cross-entropy', mesh, timeLimitSeconds: Number(flag('--time-limit', '120')) });
const plan = buildPlanJson(c);
const s = c.best.plan.solution;
const row = {
  model: `GPT-${shapeName} (${layers} layers, h=${shape.hidden}, s=${shape.seq}, batch ${batch})`,
  mesh,
  trainingNodes: c.graph.nodes.length,
  problemNodes: c.best.plan.problem.problem.nodes.length,
  tieGroups: c.best.plan.problem.problem.ties.length,
  phases: c.phases,
  totalSeconds: (performance.now() - t0) / 1000,
  solver: { name: s.solver, status: s.status, gap: s.gap, seconds: s.seconds },
  stepTimeSeconds: plan.cost.stepTimeSeconds,
  peakRssBytes: process.memoryUsage().rss,
};
if (cli.has('--json')) process.stdout.write(JSON.stringify(row, null, 2) + '\n');
else process.stdout.write(`${row.model} on mesh [${mesh.join('x')}]: ${row.trainingNodes} training nodes, ${row.problemNodes} problem nodes (${row.tieGroups} tie groups); planned in ${row.totalSeconds.toFixed(1)} s (${row.phases.map((p) => `${p.phase} ${p.seconds.toFixed(1)} s`).join(', ')}); solver ${s.solver} ${s.status}, gap ${(s.gap * 100).toFixed(2)}%; step ${(row.stepTimeSeconds * 1e3).toFixed(1)} ms; rss ${(row.peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`);
