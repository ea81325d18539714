/** `autopar compile` and `autopar compare` (CLI.md), for plans on one mesh. */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { AutoparError } from '../errors.js';
import { compile, defaultOut } from '../api/compile.js';
import { compare, type CompareApiResult } from '../api/compare.js';
import { sweep } from '../api/sweep.js';
import type { PlanningOptions } from '../api/options.js';
import { PRINT_IR_PASSES, type ProgressEvent } from '../planner/compile.js';
import { parseSweepStrategies } from '../planner/sweep.js';
import { printSweep } from './sweep.js';
import { collect, parseDims, printJson, runCommand } from './output.js';

interface PlanFlags {
  cluster?: string;
  printIrAfter?: string;
  batch?: string;
  batchDim?: string;
  dim?: string[];
  mode?: string;
  optimizer?: string;
  solver?: string;
  timeLimit?: string;
  microbatches?: string;
  loss?: string;
  precision?: string;
  allowOom?: boolean;
  profile?: string;
  mesh?: string;
  pin?: string;
  json?: boolean;
  debug?: boolean;
}

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new AutoparError('E_USAGE', `${flag} expects a positive integer, got '${v}'`);
  return n;
}

function readPins(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AutoparError('E_FILE', `${file}: cannot read the --pin file`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new AutoparError('E_USAGE', `${file}: not JSON (${e instanceof Error ? e.message : String(e)}); expected {"value name": "[x, -]", ...}`);
  }
  const parsed = z.record(z.string(), z.string()).safeParse(data);
  if (!parsed.success) throw new AutoparError('E_USAGE', `${file}: expected an object of value name -> sharding string such as "[x*y, -]"`);
  return parsed.data;
}

function parseMesh(v: string): number[] {
  if (!/^\d+(x\d+){0,2}$/.test(v)) throw new AutoparError('E_USAGE', `--mesh expects sizes like 8 or 2x4 or 2x2x2, got '${v}'`);
  return v.split('x').map(Number);
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new AutoparError('E_USAGE', `${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

/** The bundled example: a GPT-2-style model exported by PyTorch, on one host of 4 A100. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLE = {
  model: path.join(PACKAGE_ROOT, 'examples', 'models', 'gpt2_tiny.onnx'),
  cluster: path.join(PACKAGE_ROOT, 'examples', 'clusters', '1x4-a100.yaml'),
  loss: 'cross-entropy',
} as const;

function options(model: string, o: PlanFlags, progress?: (e: ProgressEvent) => void): PlanningOptions {
  if (!o.cluster) throw new AutoparError('E_USAGE', `--cluster FILE is required with a model (run without arguments for the bundled example, or see examples/clusters/)`);
  const timeLimit = o.timeLimit === undefined ? undefined : Number(o.timeLimit);
  if (timeLimit !== undefined && !(timeLimit > 0)) throw new AutoparError('E_USAGE', `--time-limit expects seconds > 0, got '${o.timeLimit}'`);
  return {
    model,
    cluster: o.cluster,
    batch: positiveInt('--batch', o.batch),
    batchDim: o.batchDim,
    dims: parseDims(o.dim),
    mode: oneOf('--mode', o.mode, ['train', 'infer'] as const),
    optimizer: oneOf('--optimizer', o.optimizer, ['sgd', 'adam'] as const),
    solver: oneOf('--solver', o.solver, ['highs', 'glpk', 'auto'] as const),
    timeLimitSeconds: timeLimit,
    microbatches: positiveInt('--microbatches', o.microbatches),
    loss: oneOf('--loss', o.loss, ['mse', 'cross-entropy'] as const),
    precision: oneOf('--precision', o.precision, ['model', 'mixed'] as const),
    allowOom: o.allowOom === true,
    profile: o.profile,
    mesh: o.mesh === undefined ? undefined : parseMesh(o.mesh),
    pin: o.pin === undefined ? undefined : readPins(o.pin),
    onProgress: progress,
    printIrAfter: oneOf('--print-ir-after', o.printIrAfter, PRINT_IR_PASSES),
  };
}

function planOptions(cmd: Command): Command {
  return cmd
    .argument('[model]', 'ONNX file (weights not needed); none: the bundled example on its example cluster')
    .option('--cluster <file>', 'cluster description (cluster.yaml)')
    .option('--batch <N>', 'global batch of one step (binds the leading symbolic input dimension)')
    .option('--batch-dim <name>', 'the symbolic dimension --batch binds')
    .option('--dim <NAME=VALUE>', 'bind a symbolic dimension (repeatable)', collect)
    .option('--mode <mode>', 'train or infer (default train)')
    .option('--optimizer <name>', 'sgd or adam (default adam)')
    .option('--solver <name>', 'highs, glpk or auto (default auto: exact DP where the problem is a tree, else HiGHS)')
    .option('--time-limit <seconds>', 'ILP time limit per mesh; the best plan found is kept, with its gap')
    .option('--microbatches <M>', 'micro-batches per step (1 without pipelining)')
    .option('--loss <kind>', 'training loss on the first output: mse or cross-entropy (default mse)')
    .option('--precision <p>', 'model (default) or mixed')
    .option('--allow-oom', 'plan even if it does not fit in device memory')
    .option('--profile <file>', 'calibrated cost model from `autopar profile`')
    .option('--mesh <shape>', 'only this logical mesh, e.g. 4 or 2x8 (default: try every shape)')
    .option('--pin <file>', 'JSON object of value name -> sharding fixed by hand, e.g. {"wte.weight": "[-, x]"}')
    .option('--print-ir-after <pass>', `print the IR to stderr after a pass: ${PRINT_IR_PASSES.join(', ')} (one-mesh plans)`)
    .option('--json', 'machine-readable output (CLI.md)')
    .option('--debug', 'stack traces on errors');
}

function progressPrinter(quiet: boolean): ((e: ProgressEvent) => void) | undefined {
  if (quiet || !process.stderr.isTTY) return undefined;
  // Counted phases redraw one line with a bar; a phase's end starts a new line.
  const bar = (done: number, total: number): string => `[${'#'.repeat(Math.round((20 * done) / Math.max(1, total))).padEnd(20, '.')}] ${done}/${total}`;
  let open = false;
  const line = (text: string, last: boolean): void => {
    process.stderr.write(`\r\x1b[2K  ${text}${last ? '\n' : ''}`);
    open = !last;
  };
  return (e) => {
    switch (e.kind) {
      case 'phase':
        if (open) process.stderr.write('\n');
        open = false;
        process.stderr.write(`  ${e.phase.padEnd(16)} ${e.seconds.toFixed(2)} s\n`);
        return;
      case 'mesh':
        return line(`meshes           ${bar(e.done, e.total)}  [${e.shape.join('x')}] ${e.status}`, e.done === e.total);
      case 'microbatches':
        return line(`micro-batches    ${bar(e.done, e.total)}  M=${e.microbatches} planned, ${e.seconds.toFixed(1)} s`, e.done === e.total);
      default: {
        const never: never = e;
        return never;
      }
    }
  };
}

/** No model given: the bundled example (and its cluster and loss unless given), said on stderr. */
function withExample(model: string | undefined, o: PlanFlags): string {
  if (model !== undefined) return model;
  o.cluster ??= EXAMPLE.cluster;
  o.loss ??= EXAMPLE.loss;
  if (!o.json) process.stderr.write(`autopar: no model given: planning the bundled example ${path.relative(process.cwd(), EXAMPLE.model)} on ${path.relative(process.cwd(), o.cluster)}\n`);
  return EXAMPLE.model;
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;

export function registerCompile(program: Command): void {
  planOptions(program.command('compile').description('plan a model on a cluster and write DIR/plan.json and DIR/report.html'))
    .option('--strategy <name>', 'auto (default), dp, megatron, zero3, pipeline, or dp=D,tp=T,pp=P')
    .option('--out <dir>', 'output folder (default: ./<model name>.autopar)')
    .action(async (modelArg: string | undefined, o: PlanFlags & { strategy?: string; out?: string }) => {
      await runCommand(o.debug === true, async () => {
        const model = withExample(modelArg, o);
        // Default output beside the caller, not beside the model (which may be read-only).
        const out = o.out ?? defaultOut(model);
        // The API's result without the plan object is what --json prints.
        const { planJson: plan, ...summary } = await compile({ ...options(model, o, progressPrinter(o.json === true)), strategy: o.strategy, out });
        const deviceName = plan.cluster.device;
        const batch = plan.batch;
        const file = summary.plan ?? out;
        const report = summary.report ?? out;
        const devices = summary.programs;
        if (o.json) return printJson(summary);
        const comm = Object.entries(summary.communicationByKind).map(([k, v]) => `${k} ${v.count}x ${(v.bytes / 2 ** 20).toFixed(1)} MiB`).join(', ');
        process.stdout.write(
          [
            `model       ${summary.model} (${summary.mode}, strategy ${summary.strategy})`,
            `cluster     ${summary.devices} x ${deviceName}, ${summary.stages.length > 1 ? `${summary.stages.length} stages (${summary.stages.map((st) => `layers ${st.layers[0]}-${st.layers[1]} on [${st.meshShape.join('x')}]`).join(', ')}), ${summary.microbatches} micro-batches, 1F1B` : `mesh [${summary.stages[0]?.meshShape.join(', ')}]`}`,
            `step        ${(summary.stepTimeSeconds * 1e3).toFixed(3)} ms (compute ${(plan.cost.computeSeconds * 1e3).toFixed(3)} ms, communication ${(plan.cost.communicationSeconds * 1e3).toFixed(3)} ms, not overlapped)`,
            `throughput  ${summary.throughputSamplesPerSecond.toFixed(1)} samples/s at batch ${batch}`,
            `memory      ${gib(summary.peakMemoryBytesPerDevice)} of ${gib(summary.memoryLimitBytesPerDevice)} per device (resident: parameters, optimizer states, gradients, saved activations)`,
            `collectives ${comm || 'none'}`,
            `solver      ${summary.solver.name} ${summary.solver.status}, gap ${summary.solver.gap.toExponential(1)}; planned in ${summary.planningSeconds.toFixed(2)} s`,
            `plan        ${path.resolve(file)}`,
            ...(devices ? [`programs    ${path.resolve(devices)} (one verified program per device: .json runs with autopar run, .mjs is the tfjs module)`] : []),
            `report      ${path.resolve(report)}`,
            ...(summary.notes ?? []).map((n) => `note        ${n}`),
          ].join('\n') + '\n',
        );
      });
    });
}

interface SweepFlags {
  devices?: string;
  strategies?: string;
  interHost?: string;
  minGain?: string;
  html?: string;
}

function parseSizes(v: string): number[] {
  if (!/^\d+(,\d+)*$/.test(v)) throw new AutoparError('E_USAGE', `--devices expects sizes separated by commas, e.g. 8,16,32,64; got '${v}'`);
  return v.split(',').map(Number);
}

export function registerCompare(program: Command): void {
  planOptions(program.command('compare').description('plan the model with every built-in strategy and auto, side by side; --devices: over cluster sizes'))
    .option('--devices <sizes>', 'sweep the cluster size, e.g. 8,16,32,64 (hosts of the given cluster, same devices and links)')
    .option('--strategies <list>', 'with --devices: strategies planned at each size (default dp,zero3,megatron,hybrid; also pipeline, auto)')
    .option('--inter-host <preset>', 'with --devices: network between hosts when the cluster has none (default ib-hdr)')
    .option('--min-gain <f>', 'with --devices: adding devices pays while each added device brings at least this fraction of the throughput per device (default 0.5)')
    .option('--html <file>', 'also write the chart page: the strategies side by side, or with --devices the sweep (default ./<model>.sweep.html)')
    .action(async (modelArg: string | undefined, o: PlanFlags & SweepFlags) => {
      await runCommand(o.debug === true, async () => {
        const model = withExample(modelArg, o);
        if (o.devices === undefined) {
          for (const flag of ['strategies', 'interHost', 'minGain'] as const) {
            if (o[flag] !== undefined) throw new AutoparError('E_USAGE', `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --devices (the sweep over cluster sizes)`);
          }
          return printCompare(await compare({ ...options(model, o, undefined), html: o.html }), o.json === true);
        }
        const minGain = o.minGain === undefined ? undefined : Number(o.minGain);
        if (minGain !== undefined && !Number.isFinite(minGain)) throw new AutoparError('E_USAGE', `--min-gain expects a number such as 0.5, got '${o.minGain}'`);
        const r = await sweep({
          ...options(model, o, undefined),
          devices: parseSizes(o.devices),
          strategies: o.strategies === undefined ? undefined : parseSweepStrategies(o.strategies),
          interHost: o.interHost,
          minGain,
          onPoint: o.json === true || !process.stderr.isTTY ? undefined : (p, seconds) => process.stderr.write(`  ${p.devices} devices: ${p.best ?? 'no plan'} (${seconds.toFixed(1)} s)\n`),
          html: o.html ?? `${path.basename(model).replace(/\.onnx$/i, '')}.sweep.html`,
        });
        if (o.json) return printJson(r);
        printSweep(r);
      });
    });
}

function printCompare(r: CompareApiResult, json: boolean): void {
  if (json) return printJson(r);
  const lines = [`${r.model} on ${r.devices} devices (best: ${r.best})`, 'strategy    step (ms)    samples/s    memory/device   comm/step     mesh'];
  for (const s of r.strategies) {
    if (!s.feasible) {
      lines.push(`${s.strategy.padEnd(11)} -            -            -               -             -      ${s.reason ?? ''}`);
      continue;
    }
    lines.push(
      `${s.strategy.padEnd(11)} ${((s.stepTimeSeconds ?? 0) * 1e3).toFixed(3).padEnd(12)} ${(s.throughputSamplesPerSecond ?? 0).toFixed(1).padEnd(12)} ${gib(s.peakMemoryBytesPerDevice ?? 0).padEnd(15)} ${(((s.communicationBytesPerStep ?? 0) / 2 ** 20).toFixed(1) + ' MiB').padEnd(13)} [${(s.meshShape ?? []).join('x')}]`,
    );
  }
  if (r.html) lines.push(`chart ${path.resolve(r.html)}`);
  process.stdout.write(lines.join('\n') + '\n');
}
