/**
 * Import benchmark: tests/fixtures/models/gpt_350m.onnx (graph only, 24 blocks, seq 1024)
 * with --dim batch=1, several times; per-phase times (decode, infer-shapes, dce), the
 * median total, and the peak RSS of the process.
 *
 *   npm run bench:import -- [--runs N] [--dim NAME=VALUE]... [--model FILE] [--json]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importOnnx } from '../src/onnx/import.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Args {
  readonly model: string;
  readonly runs: number;
  readonly dims: Record<string, number>;
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let model = path.join(ROOT, 'tests', 'fixtures', 'models', 'gpt_350m.onnx');
  let runs = 5;
  const dims: Record<string, number> = {};
  let json = false;
  let dimsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') json = true;
    else if (a === '--runs') runs = Number(next());
    else if (a === '--model') model = path.resolve(next());
    else if (a === '--dim') {
      const m = /^([^=]+)=(\d+)$/.exec(next());
      if (!m || !m[1] || !m[2]) throw new Error('--dim expects NAME=VALUE');
      dims[m[1]] = Number(m[2]);
      dimsGiven = true;
    } else throw new Error(`unknown argument ${a ?? ''} (use --runs N, --dim NAME=VALUE, --model FILE, --json)`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (!dimsGiven) dims['batch'] = 1;
  return { model, runs, dims, json };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const phases = new Map<string, number[]>();
  const totals: number[] = [];
  let nodes = 0;
  for (let r = 0; r < args.runs; r++) {
    const t0 = performance.now();
    const imp = importOnnx(args.model, { dims: args.dims });
    totals.push((performance.now() - t0) / 1000);
    nodes = imp.graph.nodes.length;
    for (const t of imp.timings) phases.set(t.pass, [...(phases.get(t.pass) ?? []), t.seconds]);
  }
  // maxRSS is in kilobytes.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  const result = {
    model: path.basename(args.model),
    dims: args.dims,
    runs: args.runs,
    nodes,
    phases: Object.fromEntries([...phases].map(([k, v]) => [k, { medianSeconds: median(v), minSeconds: Math.min(...v), maxSeconds: Math.max(...v) }])),
    totalSeconds: { median: median(totals), min: Math.min(...totals), max: Math.max(...totals), all: totals },
    peakRssBytes,
    node: process.version,
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;
  const lines = [
    `import ${result.model} (${Object.entries(args.dims).map(([k, v]) => `${k}=${v}`).join(', ')}), ${args.runs} runs, ${nodes} nodes after import`,
    ...[...phases].map(([k, v]) => `  ${k.padEnd(13)} median ${ms(median(v)).padStart(10)}  (min ${ms(Math.min(...v))}, max ${ms(Math.max(...v))})`),
    `  ${'total'.padEnd(13)} median ${ms(result.totalSeconds.median).padStart(10)}  (min ${ms(result.totalSeconds.min)}, max ${ms(result.totalSeconds.max)})`,
    `  peak RSS      ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

try {
  main();
} catch (e) {
  process.stderr.write(`bench:import: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
