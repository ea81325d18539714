/**
 * Plan quality on every architecture of `autopar examples` (issue #9): for GPT, BERT,
 * Wide-ResNet and MoE, a modest model written as ONNX (graph only) to a temporary
 * directory, then on one cluster the plan of `auto` and of every manual dp=D,tp=T,pp=P
 * grid point (bench/grid.ts; each with its own micro-batch search), all through planModel
 * as `autopar compile` plans them. Per model: auto's step time, stages and micro-batches,
 * its solver gap; the best grid point; auto / best grid. FLAG when auto / best grid > 1.00
 * or when auto's or the best grid point's solver gap is above 1%.
 * Each model runs in a child process killed at --cap seconds (as bench/scale.ts), so a
 * slow model reads '> cap' (with the points it finished) instead of stalling the run.
 *   node dist/bench/quality.js [--models gpt,bert,wide-resnet,moe] [--cluster FILE]
 *     [--batch 32] [--cap 600] [--no-grid] [--json]
 *   node dist/bench/quality.js --from RESULT.json   (the table of a saved --json run)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CappedRun, runCappedChild } from './capped-child.js';
import { flags } from './flags.js';
import { gridStrategies } from './grid.js';
import { loadCluster } from '../src/cluster/load.js';
import { AutoparError } from '../src/errors.js';
import { type ExampleOptions, generateExample, parseArch } from '../src/examples/generate.js';
import { planModel } from '../src/planner/plan-model.js';

const cli = flags();
const GAP_LIMIT = 0.01;

/** The model of each architecture: modest, so that auto and the 14 grid points of 2x8 plan in a few minutes. */
const SHAPES: Readonly<Record<string, ExampleOptions>> = {
  gpt: { layers: 12, hidden: 512, heads: 8, seq: 256, vocab: 32000 },
  bert: { layers: 12, hidden: 512, heads: 8, seq: 256, vocab: 30522 },
  'wide-resnet': { layers: 26, widen: 2, image: 224, classes: 1000 },
  moe: { layers: 12, hidden: 512, heads: 8, seq: 256, vocab: 32000, experts: 8, topK: 2, moeEvery: 2 },
};

/** One plan: auto or a grid point; null step when no plan fits (with the planner's reason). */
interface Point {
  readonly strategy: string;
  readonly stepTimeSeconds: number | null;
  readonly microbatches: number | null;
  readonly stages: readonly string[];
  readonly solver: string;
  readonly gap: number | null;
  readonly seconds: number;
  readonly reason?: string;
}

type ChildLine = { readonly kind: 'model'; readonly parameters: number; readonly nodes: number } | ({ readonly kind: 'point' } & Point);

const print = (line: ChildLine): void => void process.stdout.write(JSON.stringify(line) + '\n');

async function child(): Promise<void> {
  const arch = parseArch(cli.value('--model', 'gpt'));
  const shape = SHAPES[arch];
  if (!shape) throw new Error(`no shape for ${arch}`);
  const file = path.join(cli.value('--dir', os.tmpdir()), `${arch}.onnx`);
  const written = generateExample(arch, shape, file);
  print({ kind: 'model', parameters: written.parameters, nodes: written.nodes });
  const cluster = loadCluster(cli.value('--cluster', ''));
  const base = { model: file, cluster, batch: Number(cli.value('--batch', '32')), loss: 'cross-entropy' as const };
  const strategies = ['auto', ...(cli.has('--no-grid') ? [] : gridStrategies(cluster.devices.length, cluster.hosts[0]?.devices.length ?? 1))];
  for (const strategy of strategies) {
    const t = performance.now();
    try {
      const s = (await planModel({ ...base, strategy })).summary;
      print({
        kind: 'point',
        strategy,
        stepTimeSeconds: s.stepTimeSeconds,
        microbatches: s.microbatches,
        stages: s.stages.map((st) => `${st.layers[0]}-${st.layers[1]}@${st.meshShape.join('x')}`),
        solver: `${s.solver.name} ${s.solver.status}`,
        gap: s.solver.gap,
        seconds: (performance.now() - t) / 1000,
      });
    } catch (e) {
      if (!(e instanceof AutoparError) || e.code === 'E_INTERNAL') throw e;
      print({ kind: 'point', strategy, stepTimeSeconds: null, microbatches: null, stages: [], solver: '-', gap: null, seconds: (performance.now() - t) / 1000, reason: e.message.slice(0, 200) });
    }
  }
}

type Run = CappedRun<ChildLine>;

function runChild(args: readonly string[], capSeconds: number, onLine: (l: ChildLine) => void): Promise<Run> {
  return runCappedChild<ChildLine>(fileURLToPath(import.meta.url), args, capSeconds, onLine);
}

interface ModelResult {
  readonly model: string;
  readonly shape: ExampleOptions;
  readonly parameters: number | null;
  readonly status: 'done' | 'capped' | 'crashed';
  readonly wallSeconds: number;
  readonly error: string | null;
  readonly auto: Point | null;
  readonly grid: readonly Point[];
  readonly gridOf: number;
  readonly best: Point | null;
  readonly autoOverBest: number | null;
  readonly flags: readonly string[];
}

function flagsOf(auto: Point | null, best: Point | null, ratio: number | null): string[] {
  const out: string[] = [];
  if (ratio !== null && ratio > 1.00) out.push(`auto/grid ${ratio.toFixed(3)} > 1.00`);
  if (auto?.gap != null && auto.gap > GAP_LIMIT) out.push(`auto gap ${(auto.gap * 100).toFixed(1)}% > 1%`);
  if (best?.gap != null && best.gap > GAP_LIMIT) out.push(`${best.strategy} gap ${(best.gap * 100).toFixed(1)}% > 1%`);
  return out;
}

async function parent(): Promise<void> {
  const models = cli.value('--models', Object.keys(SHAPES).join(',')).split(',').map((m) => parseArch(m));
  const clusterFile = cli.value('--cluster', 'examples/clusters/2x8-a100.yaml');
  const cluster = loadCluster(clusterFile);
  const batch = Number(cli.value('--batch', '32'));
  const cap = Number(cli.value('--cap', '600'));
  const gridOf = cli.has('--no-grid') ? 0 : gridStrategies(cluster.devices.length, cluster.hosts[0]?.devices.length ?? 1).length;
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autopar-quality-'));
  const results: ModelResult[] = [];
  const t0 = performance.now();
  try {
    for (const model of models) {
      log(`${model} on ${clusterFile}, batch ${batch}: auto and ${gridOf} grid points (cap ${cap} s) ...`);
      const args = ['--model', model, '--dir', dir, '--cluster', clusterFile, '--batch', String(batch), ...(cli.has('--no-grid') ? ['--no-grid'] : [])];
      const r = await runChild(args, cap, (l) => {
        if (l.kind === 'point') log(`  ${l.strategy.padEnd(16)} ${l.stepTimeSeconds === null ? `no plan (${l.reason ?? ''})` : `${(l.stepTimeSeconds * 1e3).toFixed(1)} ms M=${l.microbatches ?? '-'} gap ${l.gap ?? '-'}`} in ${l.seconds.toFixed(1)} s`);
      });
      rmSync(path.join(dir, `${model}.onnx`), { force: true });
      const points = r.lines.filter((l): l is Extract<ChildLine, { kind: 'point' }> => l.kind === 'point').map(({ kind: _, ...p }) => p);
      const auto = points.find((p) => p.strategy === 'auto') ?? null;
      const grid = points.filter((p) => p.strategy !== 'auto');
      const best = grid.filter((p) => p.stepTimeSeconds !== null).sort((a, b) => (a.stepTimeSeconds ?? 0) - (b.stepTimeSeconds ?? 0))[0] ?? null;
      const autoOverBest = auto?.stepTimeSeconds && best?.stepTimeSeconds ? auto.stepTimeSeconds / best.stepTimeSeconds : null;
      const done = r.exitCode === 0 && !r.capped;
      const result: ModelResult = {
        model,
        shape: SHAPES[model] ?? {},
        parameters: r.lines.find((l): l is Extract<ChildLine, { kind: 'model' }> => l.kind === 'model')?.parameters ?? null,
        status: done ? 'done' : r.capped ? 'capped' : 'crashed',
        wallSeconds: r.seconds,
        error: done || r.capped ? null : `exit ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        auto,
        grid,
        gridOf,
        best,
        autoOverBest,
        flags: [...flagsOf(auto, best, autoOverBest), ...(r.capped ? [`capped at ${cap} s (${grid.length}/${gridOf} grid points)`] : []), ...(done || r.capped ? [] : ['crashed'])],
      };
      results.push(result);
      log(`  ${result.status} in ${r.seconds.toFixed(1)} s${result.flags.length ? `; FLAG ${result.flags.join('; ')}` : ''}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const report: Report = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    cluster: clusterFile,
    devices: cluster.devices.length,
    batch,
    capSeconds: cap,
    wallSeconds: (performance.now() - t0) / 1000,
    results,
  };
  process.stdout.write(cli.has('--json') ? JSON.stringify(report, null, 2) + '\n' : render(report));
}

interface Report {
  readonly date: string;
  readonly machine: string;
  readonly cluster: string;
  readonly devices: number;
  readonly batch: number;
  readonly capSeconds: number;
  readonly wallSeconds: number;
  readonly results: readonly ModelResult[];
}

function render(report: Report): string {
  const ms = (s: number | null | undefined): string => (s === null || s === undefined ? '-' : `${(s * 1e3).toFixed(1)} ms`);
  const gap = (g: number | null | undefined): string => (g === null || g === undefined ? '-' : `${(g * 100).toFixed(2)}%`);
  const rows = report.results.map((r) => [
    r.model,
    r.parameters === null ? '-' : `${(r.parameters / 1e6).toFixed(0)}M`,
    r.auto?.stepTimeSeconds != null ? ms(r.auto.stepTimeSeconds) : r.auto ? 'no plan' : '-',
    r.auto?.stepTimeSeconds != null ? `${r.auto.stages.length}/M=${r.auto.microbatches ?? '-'}` : '-',
    gap(r.auto?.gap),
    r.best ? `${r.best.strategy} ${ms(r.best.stepTimeSeconds)}` : '-',
    gap(r.best?.gap),
    r.autoOverBest === null ? '-' : r.autoOverBest.toFixed(3),
    r.flags.length ? `FLAG ${r.flags.join('; ')}` : 'ok',
  ]);
  const head = ['model', 'params', 'auto step', 'stages/M', 'auto gap', 'best grid point', 'grid gap', 'auto/grid', 'flags'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]): string => r.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ');
  const lines = [
    `${report.date}, ${report.machine}; ${report.cluster} (${report.devices} devices), batch ${report.batch}, wall ${report.wallSeconds.toFixed(0)} s`,
    fmt(head),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...rows.map(fmt),
  ];
  for (const r of report.results) {
    if (r.auto) lines.push(`${r.model} auto: ${r.auto.solver}; stages ${r.auto.stages.join(', ')}; planned in ${r.auto.seconds.toFixed(1)} s${r.auto.reason ? `; ${r.auto.reason}` : ''}`);
    if (r.error) lines.push(`${r.model}: ${r.error}`);
    if (r.grid.length) lines.push(`${r.model} grid: ${r.grid.map((p) => `${p.strategy} ${p.stepTimeSeconds === null ? 'no plan' : `${ms(p.stepTimeSeconds)} M=${p.microbatches ?? '-'}`} (${p.seconds.toFixed(0)} s)`).join('; ')}`);
  }
  return lines.join('\n') + '\n';
}

if (cli.has('--child')) await child();
else if (cli.has('--from')) process.stdout.write(render(JSON.parse(readFileSync(cli.value('--from', ''), 'utf8')) as Report));
else await parent();
