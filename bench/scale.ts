/**
 * Planning at scale (issue #9): time and peak memory of a full training plan (planModel,
 * strategy `auto`, the `autopar compile` path) of GPT shapes on clusters of 8 to 1,024
 * devices, each cell in a child process with a time cap, so that a slow cell reads
 * '> cap' instead of hanging. With --quality, for each cell that finished, the manual
 * dp=D,tp=T,pp=P grid of bench/pipeline.ts (each point with its own micro-batch search)
 * in another capped child, and auto's step time against the best grid point and the
 * ideal (the step's FLOPs at float32 peak on every device).
 *   node dist/bench/scale.js [--models 1.3B,6.7B,39B,175B] [--devices 8,64,256,1024]
 *     [--batch N] [--source onnx|builder] [--cap 300] [--quality] [--grid-cap 600]
 *     [--allow-oom] [--json]
 *   node dist/bench/scale.js --from RESULT.json   (the table of a saved --json run)
 * Models at GPT3_SHAPES (39B is Alpa's GPT-39B: 48 x 8192, 64 heads), loss
 * cross-entropy, Adam, from one of two sources:
 * - `onnx` (the default, since 2026-11-22 night): the file `autopar examples gpt` writes
 *   (graph only, symbolic batch, in the form PyTorch's exporter gives: GELU through Erf,
 *   the LM head tied to the token embedding), written once per shape by the parent into
 *   a temporary folder (removed at the end) and planned by each cell's child from its
 *   path, as `autopar compile FILE --batch N` does: the import is timed, the writing not;
 * - `builder`: the in-memory builder (src/models/gpt.ts): a fused Gelu op and an untied
 *   LM head (103M more parameters at 1.3B), what every result before that night used.
 * Clusters:
 * examples/clusters/{1,8,32,128}x8-v100.yaml. Batch: max(64, devices) unless --batch.
 * A plan that does not fit is a 'no plan' cell (with the time to that verdict), as
 * `autopar compile` refuses it, unless --allow-oom (as compile's flag).
 * Peak memory: the child's VmHWM (peak resident set, worker threads included) sampled
 * from /proc every 0.5 s, and the child's own process.resourceUsage().maxRSS when it
 * finishes (the two agree; a capped cell has only the sample).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CappedRun, runCappedChild } from './capped-child.js';
import { flags } from './flags.js';
import { gptStepFlops, gridStrategies } from './grid.js';
import { loadCluster } from '../src/cluster/load.js';
import { AutoparError } from '../src/errors.js';
import { generateExample } from '../src/examples/generate.js';
import { buildGpt, GPT3_SHAPES } from '../src/models/gpt.js';
import type { ProgressEvent } from '../src/planner/compile.js';
import { planModel } from '../src/planner/plan-model.js';

const cli = flags();
const SOURCES = ['onnx', 'builder'] as const;
type Source = (typeof SOURCES)[number];
function sourceOf(): Source {
  const v = cli.value('--source', 'onnx');
  const s = SOURCES.find((x) => x === v);
  if (!s) throw new Error(`--source ${v}: expected one of ${SOURCES.join(', ')} (onnx: the file autopar examples writes, planned from its path; builder: the in-memory graph)`);
  return s;
}
const clusterFileOf = (devices: number): string => `examples/clusters/${devices / 8}x8-v100.yaml`;

/** What a child prints, one JSON object a line. */
type ChildLine =
  | {
      readonly kind: 'auto';
      readonly planningSeconds: number;
      /**
       * The summary's phases: a single-stage plan's in order; a pipelined plan's per
       * micro-batch count (pricing, stage DP, stage plans in its planning thread; they
       * overlap), the search's wall clock and the plan's assembly. Results before
       * 2026-11-22 evening give a pipelined plan's count finish times here instead.
       */
      readonly phases: readonly { readonly phase: string; readonly seconds: number }[];
      /** A pipelined plan's counts as they finished, seconds since planning started. */
      readonly finishedAt?: readonly { readonly microbatches: number; readonly seconds: number }[];
      readonly stepTimeSeconds: number;
      readonly microbatches: number;
      readonly stages: readonly string[];
      readonly peakMemoryBytesPerDevice: number;
      readonly solver: string;
      /** The plan's optimality gap from its solves (null when infinite: JSON has no Infinity); absent in older results. */
      readonly gap?: number | null;
      readonly maxRssBytes: number;
    }
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly seconds: number; readonly maxRssBytes: number }
  | { readonly kind: 'grid'; readonly strategy: string; readonly stepTimeSeconds: number | null; readonly microbatches: number | null; readonly seconds: number; readonly reason?: string };

type Model = string | { graph: ReturnType<typeof buildGpt>; name: string; rebuild: (b: number) => ReturnType<typeof buildGpt> };

function shapeOf(shapeName: string): NonNullable<(typeof GPT3_SHAPES)[string]> {
  const shape = GPT3_SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}; known: ${Object.keys(GPT3_SHAPES).join(', ')}`);
  return shape;
}

/** Writes the ONNX file of a shape into `dir` (graph only), as `autopar examples gpt` does. */
function writeModel(shapeName: string, dir: string): string {
  const shape = shapeOf(shapeName);
  const file = path.join(dir, `gpt-${shapeName}.onnx`);
  generateExample('gpt', { layers: shape.layers, hidden: shape.hidden, heads: shape.heads, seq: shape.seq, vocab: shape.vocab }, file);
  return file;
}

/** The model a child plans: the parent's ONNX file (--file), or the built graph. */
function modelOf(shapeName: string, batch: number): Model {
  const file = cli.value('--file', '');
  if (file !== '') return file;
  const config = { ...shapeOf(shapeName), weights: 'external' as const };
  return { graph: buildGpt({ ...config, batch }), name: `gpt-${shapeName}`, rebuild: (b: number) => buildGpt({ ...config, batch: b }) };
}

const print = (line: ChildLine): void => void process.stdout.write(JSON.stringify(line) + '\n');
const maxRss = (): number => process.resourceUsage().maxRSS * 1024;

async function child(): Promise<void> {
  const shapeName = cli.value('--model', '1.3B');
  const devices = Number(cli.value('--devices-n', '8'));
  const batch = Number(cli.value('--batch', '64'));
  await plan({ model: modelOf(shapeName, batch), cluster: loadCluster(clusterFileOf(devices)), loss: 'cross-entropy' as const, batch, allowOom: cli.has('--allow-oom') }, devices);
}

async function plan(base: { readonly model: Model; readonly cluster: ReturnType<typeof loadCluster>; readonly loss: 'cross-entropy'; readonly batch: number; readonly allowOom: boolean }, devices: number): Promise<void> {
  if (cli.has('--grid')) {
    const perHost = base.cluster.hosts[0]?.devices.length ?? 1;
    for (const strategy of gridStrategies(devices, perHost)) {
      const t = performance.now();
      try {
        const s = (await planModel({ ...base, strategy })).summary;
        print({ kind: 'grid', strategy, stepTimeSeconds: s.stepTimeSeconds, microbatches: s.microbatches, seconds: (performance.now() - t) / 1000 });
      } catch (e) {
        if (!(e instanceof AutoparError) || e.code === 'E_INTERNAL') throw e;
        print({ kind: 'grid', strategy, stepTimeSeconds: null, microbatches: null, seconds: (performance.now() - t) / 1000, reason: e.message.slice(0, 200) });
      }
    }
    return;
  }
  // The pipeline planner also reports when each micro-batch count's search finished.
  const finishedAt: { microbatches: number; seconds: number }[] = [];
  const onProgress = (e: ProgressEvent): void => {
    if (e.kind === 'microbatches') finishedAt.push({ microbatches: e.microbatches, seconds: e.seconds });
  };
  const t0 = performance.now();
  try {
    const s = (await planModel({ ...base, strategy: 'auto', progress: onProgress })).summary;
    print({
      kind: 'auto',
      planningSeconds: (performance.now() - t0) / 1000,
      phases: s.phases,
      ...(finishedAt.length > 0 ? { finishedAt } : {}),
      stepTimeSeconds: s.stepTimeSeconds,
      microbatches: s.microbatches,
      stages: s.stages.map((st) => `${st.layers[0]}-${st.layers[1]}@${st.meshShape.join('x')}`),
      peakMemoryBytesPerDevice: s.peakMemoryBytesPerDevice,
      solver: `${s.solver.name} ${s.solver.status}`,
      gap: Number.isFinite(s.solver.gap) ? s.solver.gap : null,
      maxRssBytes: maxRss(),
    });
  } catch (e) {
    if (!(e instanceof AutoparError) || e.code === 'E_INTERNAL') throw e;
    print({ kind: 'error', code: e.code, message: e.message.slice(0, 300), seconds: (performance.now() - t0) / 1000, maxRssBytes: maxRss() });
  }
}

type Run = CappedRun<ChildLine>;

function runChild(args: readonly string[], capSeconds: number): Promise<Run> {
  return runCappedChild<ChildLine>(fileURLToPath(import.meta.url), args, capSeconds);
}

interface Cell {
  readonly model: string;
  readonly devices: number;
  readonly batch: number;
  readonly capSeconds: number;
  readonly status: 'planned' | 'no-plan' | 'capped' | 'crashed';
  readonly wallSeconds: number;
  readonly planningSeconds: number | null;
  readonly peakRssBytes: number;
  readonly peakRssSource: 'resourceUsage.maxRSS' | 'sampled VmHWM';
  readonly auto: Extract<ChildLine, { kind: 'auto' }> | null;
  readonly error: string | null;
  readonly idealSeconds: number;
  readonly quality: {
    readonly capSeconds: number;
    readonly capped: boolean;
    readonly wallSeconds: number;
    readonly points: readonly Extract<ChildLine, { kind: 'grid' }>[];
    readonly of: number;
    readonly best: Extract<ChildLine, { kind: 'grid' }> | null;
    readonly autoOverBest: number | null;
  } | null;
}

async function parent(): Promise<void> {
  const models = cli.value('--models', '1.3B,6.7B,39B,175B').split(',');
  const deviceCounts = cli.value('--devices', '8,64,256,1024').split(',').map(Number);
  const cap = Number(cli.value('--cap', '300'));
  const gridCap = Number(cli.value('--grid-cap', '600'));
  const json = cli.has('--json');
  const source = sourceOf();
  // The ONNX files, one per shape, written here before any child starts (not timed) and
  // removed at the end, whatever happened to the children (one killed at its cap included).
  const dir = source === 'onnx' ? mkdtempSync(path.join(os.tmpdir(), 'autopar-scale-')) : undefined;
  try {
    await cellsOf(models, deviceCounts, cap, gridCap, json, dir);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function cellsOf(models: readonly string[], deviceCounts: readonly number[], cap: number, gridCap: number, json: boolean, dir: string | undefined): Promise<void> {
  const source: Source = dir ? 'onnx' : 'builder';
  const cells: Cell[] = [];
  const log = (s: string): void => void process.stderr.write(s + '\n');
  for (const model of models) {
    const shape = shapeOf(model);
    const file = dir ? writeModel(model, dir) : undefined;
    for (const devices of deviceCounts) {
      const cluster = loadCluster(clusterFileOf(devices));
      const peak = cluster.groups[0]?.device.peakFlops.float32 ?? NaN;
      const batch = Number(cli.value('--batch', String(Math.max(64, devices))));
      const args = ['--model', model, '--devices-n', String(devices), '--batch', String(batch), ...(file ? ['--file', file] : []), ...(cli.has('--allow-oom') ? ['--allow-oom'] : [])];
      log(`${model} on ${devices} devices, batch ${batch}, from ${source === 'onnx' ? 'its ONNX file' : 'the builder'}: auto (cap ${cap} s) ...`);
      const r = await runChild(args, cap);
      const auto = r.lines.find((l): l is Extract<ChildLine, { kind: 'auto' }> => l.kind === 'auto') ?? null;
      const err = r.lines.find((l): l is Extract<ChildLine, { kind: 'error' }> => l.kind === 'error') ?? null;
      const finished = auto ?? err;
      const status: Cell['status'] = auto ? 'planned' : err ? 'no-plan' : r.capped ? 'capped' : 'crashed';
      let quality: Cell['quality'] = null;
      if (auto && cli.has('--quality')) {
        const of = gridStrategies(devices, cluster.hosts[0]?.devices.length ?? 1).length;
        log(`  grid of ${of} points (cap ${gridCap} s) ...`);
        const g = await runChild([...args, '--grid'], gridCap);
        const points = g.lines.filter((l): l is Extract<ChildLine, { kind: 'grid' }> => l.kind === 'grid');
        const best = points.filter((p) => p.stepTimeSeconds !== null).sort((a, b) => (a.stepTimeSeconds ?? 0) - (b.stepTimeSeconds ?? 0))[0] ?? null;
        quality = { capSeconds: gridCap, capped: g.capped, wallSeconds: g.seconds, points, of, best, autoOverBest: best?.stepTimeSeconds ? auto.stepTimeSeconds / best.stepTimeSeconds : null };
      }
      const cell: Cell = {
        model,
        devices,
        batch,
        capSeconds: cap,
        status,
        wallSeconds: r.seconds,
        planningSeconds: auto ? auto.planningSeconds : err ? err.seconds : null,
        peakRssBytes: finished ? finished.maxRssBytes : r.sampledPeakRssBytes,
        peakRssSource: finished ? 'resourceUsage.maxRSS' : 'sampled VmHWM',
        auto,
        error: err ? `${err.code}: ${err.message}` : status === 'crashed' ? `exit ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : null,
        idealSeconds: gptStepFlops(shape, batch) / (devices * peak),
        quality,
      };
      cells.push(cell);
      // Each cell as it is done, so that a run stopped early keeps what it measured.
      if (json) log(`cell ${JSON.stringify(cell)}`);
      log(`  ${status} in ${r.seconds.toFixed(1)} s, peak rss ${(cell.peakRssBytes / 2 ** 30).toFixed(2)} GiB${cell.error ? ` (${cell.error.slice(0, 200)})` : ''}`);
    }
  }
  const report: Report = { machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`, date: new Date().toISOString(), allowOom: cli.has('--allow-oom'), source, cells };
  process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : render(report));
}

interface Report {
  readonly machine: string;
  readonly date: string;
  readonly allowOom?: boolean;
  /** Where the models came from (absent in results before 2026-11-22 night: the builder). */
  readonly source?: Source;
  readonly cells: readonly Cell[];
}

/** The table and, below it, each cell's stages, phases or error. */
function render(report: Report): string {
  const { cells } = report;
  const ms = (s: number | null | undefined): string => (s === null || s === undefined ? '-' : `${(s * 1e3).toFixed(0)} ms`);
  const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const rows = cells.map((c) => [
    `GPT-${c.model}`,
    String(c.devices),
    String(c.batch),
    c.status === 'capped' ? `> ${c.capSeconds} s` : c.status === 'crashed' ? 'crashed' : `${(c.planningSeconds ?? 0).toFixed(1)} s${c.status === 'no-plan' ? ' (no plan)' : ''}`,
    `${gib(c.peakRssBytes)}${c.peakRssSource === 'sampled VmHWM' ? '*' : ''}`,
    ms(c.auto?.stepTimeSeconds),
    c.auto ? `${c.auto.stages.length}/M=${c.auto.microbatches}` : '-',
    c.quality ? (c.quality.best ? `${c.quality.best.strategy} ${ms(c.quality.best.stepTimeSeconds)}${c.quality.capped ? ` (${c.quality.points.length}/${c.quality.of} pts in ${c.quality.capSeconds} s)` : ''}` : `none of ${c.quality.points.length}/${c.quality.of} pts fits${c.quality.capped ? ` (cap ${c.quality.capSeconds} s)` : ''}`) : '-',
    c.quality?.autoOverBest ? c.quality.autoOverBest.toFixed(3) : '-',
    c.auto ? (c.auto.stepTimeSeconds / c.idealSeconds).toFixed(2) : '-',
    // The issue's rule: a gap above 1% is flagged.
    c.auto?.gap === undefined ? '-' : c.auto.gap === null ? 'inf FLAG' : `${(c.auto.gap * 100).toFixed(1)}%${c.auto.gap > 0.01 ? ' FLAG' : ''}`,
  ]);
  const head = ['model', 'devices', 'batch', 'auto plan time', 'peak RSS', 'step', 'stages/M', 'best grid point', 'auto/grid', 'auto/ideal', 'gap'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]): string => r.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ');
  const from = report.source === 'onnx' ? 'models planned from the ONNX files autopar examples writes' : 'models from the in-memory builder';
  const lines = [`${report.date}, ${report.machine}${report.allowOom ? '; --allow-oom' : ''}; ${from}; * = peak RSS sampled before the cap; FLAG = optimality gap above 1%`, fmt(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(fmt)];
  for (const c of cells) {
    if (c.auto) lines.push(`GPT-${c.model} on ${c.devices}: ${c.auto.solver}; stages ${c.auto.stages.join(', ')}; phases ${c.auto.phases.map((p) => `${p.phase} ${p.seconds.toFixed(1)}`).join(', ')}${c.auto.finishedAt ? `; counts finished at ${c.auto.finishedAt.map((f) => `M=${f.microbatches} ${f.seconds.toFixed(1)}`).join(', ')}` : ''}`);
    if (c.error) lines.push(`GPT-${c.model} on ${c.devices}: ${c.error}`);
    if (c.quality) lines.push(`GPT-${c.model} on ${c.devices} grid: ${c.quality.points.map((p) => `${p.strategy} ${p.stepTimeSeconds === null ? 'no plan' : `${ms(p.stepTimeSeconds)} M=${p.microbatches ?? '-'}`} (${p.seconds.toFixed(0)} s)`).join('; ')}`);
  }
  return lines.join('\n') + '\n';
}

if (cli.has('--child')) await child();
else if (cli.has('--from')) process.stdout.write(render(JSON.parse(readFileSync(cli.value('--from', ''), 'utf8')) as Report));
else await parent();
