/**
 * `autopar run DIR`. One-mesh plans run their device programs (spmd/run-mesh.ts). Plans
 * whose stages each hold one device (pipeline parallelism without sharding inside a
 * stage, e.g. `--strategy dp=1,tp=1,pp=N`) run here: the planned training graph is
 * rebuilt from plan.json's `source`, cut at the plan's stages and trained on worker
 * threads. Pipelines of sharded stages are not lowered yet: refused with that reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { clusterByBlocks, clusterLayers } from '../../../passes/cluster-layers.js';
import { unfuseProjections } from '../../../passes/unfuse-projections.js';
import { AutoparError } from '../../errors.js';
import { type HostTensor, hostTensor, numel } from '../../ir/host-tensor.js';
import { importOnnx } from '../../onnx/import.js';
import type { Graph } from '../../ir/types.js';
import { trainingGraphOf } from '../../planner/pipeline-task.js';
import { compareTensors } from '../../reference/compare.js';
import { type ReferenceFolder, readReference } from '../../reference/folder.js';
import type { TrainingGraph } from '../../training/build.js';
import { addCounts } from '../collectives/counts.js';
import type { CollectiveCounts } from '../collectives/communicator.js';
import { compiledSibling } from '../collectives/compiled.js';
import { runMpi } from '../collectives/mpi/launcher.js';
import { collectResults, type PipelineRunOptions, type PipelineRunResult, runPipeline, stageArgsFor } from './run-pipeline.js';
import { fromWire } from './wire.js';
import { isMeshPlanDir, runMeshPlan } from '../spmd/run-mesh.js';

const PlanFile = z.object({
  cluster: z.object({ devices: z.number().int().positive() }),
  stages: z.array(z.object({ devices: z.array(z.number()), layers: z.tuple([z.number(), z.number()]), collectives: z.array(z.object({ kind: z.string(), bytes: z.number() })) })),
  schedule: z.object({ kind: z.enum(['none', 'gpipe', '1f1b']), microbatches: z.number().int().positive() }),
  source: z
    .object({ model: z.string(), dims: z.record(z.string(), z.number()), batchDim: z.string().nullable(), loss: z.enum(['mse', 'cross-entropy']), optimizer: z.enum(['sgd', 'adam']), layers: z.number().int().positive(), clustering: z.enum(['blocks', 'balanced']).default('balanced') })
    .optional(),
});

export interface RunOptions {
  readonly steps?: number;
  readonly reference?: string;
  readonly transport?: 'threads' | 'mpi';
}

export interface RunSummary {
  /** What ran: training steps, or forward passes of an inference plan. */
  readonly mode: 'train' | 'infer';
  readonly devices: number;
  readonly steps: number;
  /** Each training step's loss (empty for an inference plan). */
  readonly loss: readonly number[];
  /** The first step's model outputs against the reference folder's (one-mesh plans). */
  readonly outputs?: Readonly<Record<string, { readonly maxAbsError: number; readonly maxRelError: number }>>;
  /** The first step's gradients against the reference folder's. */
  readonly gradients?: { readonly count: number; readonly maxRelError: number; readonly worst: string };
  /** Counted by the transport over all steps, summed over workers. */
  readonly collectives: CollectiveCounts;
  /** What plan.json predicts for as many steps (pipeline sends and receives only). */
  readonly plannedCollectives: Readonly<Record<string, { readonly count: number; readonly bytes: number }>>;
}

function readPlan(dir: string): z.infer<typeof PlanFile> {
  const file = path.join(dir, 'plan.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AutoparError('E_FILE', `${file}: cannot read it; give the folder \`autopar compile --out\` wrote`);
  }
  const parsed = PlanFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new AutoparError('E_PARSE', `${file}: not a plan.json this version reads (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`);
  return parsed.data;
}

/**
 * Seeded inputs of `g`: token ids below the size of the table they index, the loss
 * target (`target`, of a training graph) below the class count, floats in [-1, 1).
 */
function syntheticInputs(g: Graph, seed: number, target?: { readonly name: string; readonly classes: number }): Map<string, HostTensor> {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const rowsOf = (v: string): number => {
    const n = g.nodes.find((x) => x.op === 'Gather' && x.inputs[1] === v);
    return Number(g.types.get(n?.inputs[0] ?? '')?.shape[0] ?? 2);
  };
  return new Map(
    g.inputs.map((i) => {
      const shape = i.type.shape.map(Number);
      const isInt = i.type.dtype.startsWith('int');
      const limit = i.name === target?.name ? target.classes : rowsOf(i.name);
      return [i.name, hostTensor(i.type.dtype, shape, Array.from({ length: numel(shape) }, () => (isInt ? Math.floor(next() * limit) : next() * 2 - 1)))] as const;
    }),
  );
}

function syntheticBatch(tg: TrainingGraph, seed: number): Map<string, HostTensor> {
  return syntheticInputs(tg.graph, seed, { name: tg.target, classes: Number(tg.graph.types.get(tg.output)?.shape.at(-1) ?? 2) });
}

function sliceBatch(t: HostTensor, parts: number, k: number): HostTensor {
  const rows = t.shape[0] ?? 1;
  const per = t.data.length / rows;
  const b = rows / parts;
  return hostTensor(t.dtype, [b, ...t.shape.slice(1)], t.data.subarray(k * b * per, (k + 1) * b * per));
}

/** Everything a run needs from plan.json, rebuilt the same way in every process. */
export interface PreparedRun {
  readonly plan: z.infer<typeof PlanFile>;
  readonly pipeline: PipelineRunOptions;
  readonly unfused: ReadonlyMap<string, { readonly parts: readonly string[]; readonly axis: number }>;
  readonly reference: ReferenceFolder | undefined;
}

/**
 * The batch of a run: a reference folder's inputs and targets (refused when the
 * reference uses another loss than the plan), or seeded synthetic data.
 */
export function batchFor(tg: TrainingGraph, loss: 'mse' | 'cross-entropy', file: string, reference: string | undefined, seed: number): { full: Map<string, HostTensor>; reference: ReferenceFolder | undefined } {
  const ref = reference ? readReference(reference) : undefined;
  if (!ref) return { full: syntheticBatch(tg, seed), reference: undefined };
  const lossRef = ref.manifest.loss;
  if (!lossRef) throw new AutoparError('E_REFERENCE', `${reference ?? ''}: manifest.json has no 'loss' entry, which run --reference needs`);
  const planned = loss === 'cross-entropy' ? 'cross_entropy' : 'mse';
  if (lossRef.kind !== planned) throw new AutoparError('E_USAGE', `${reference ?? ''} uses the ${lossRef.kind} loss but ${file} was planned with ${loss}; compile with --loss ${lossRef.kind === 'cross_entropy' ? 'cross-entropy' : 'mse'}`);
  const full = new Map(Object.entries(ref.manifest.inputs).map(([k, e]) => [k, ref.read(e)] as const));
  full.set(tg.target, ref.read(lossRef.target));
  return { full, reference: ref };
}

/** The inputs of an inference run of the forward graph `g`: a reference folder's, or seeded synthetic ones. */
export function inferenceBatch(g: Graph, reference: string | undefined, seed: number): { full: Map<string, HostTensor>; reference: ReferenceFolder | undefined } {
  const ref = reference ? readReference(reference) : undefined;
  if (!ref) return { full: syntheticInputs(g, seed), reference: undefined };
  const full = new Map<string, HostTensor>();
  for (const i of g.inputs) {
    const e = ref.manifest.inputs[i.name];
    if (!e) throw new AutoparError('E_REFERENCE', `${reference ?? ''}: manifest.json has no input '${i.name}', which the model reads (it has: ${Object.keys(ref.manifest.inputs).join(', ') || 'none'})`);
    full.set(i.name, ref.read(e));
  }
  return { full, reference: ref };
}

export function preparePlan(dir: string, opts: RunOptions = {}): PreparedRun {
  const plan = readPlan(dir);
  const file = path.join(dir, 'plan.json');
  const wide = plan.stages.find((s) => s.devices.length !== 1);
  if (wide && plan.stages.length === 1) throw new AutoparError('E_USAGE', `${file}: a one-mesh plan runs from the device programs in ${path.join(dir, 'devices')}, which are missing; compile it again with this version`);
  if (wide) throw new AutoparError('E_USAGE', `${file}: stage ${plan.stages.indexOf(wide)} has ${wide.devices.length} devices; this version runs one-mesh plans (dp, megatron, zero3, auto on one host) and pipelines whose stages each hold one device (e.g. --strategy dp=1,tp=1,pp=${plan.cluster.devices}); pipelines of sharded stages are not lowered yet`);
  const src = plan.source;
  if (!src) throw new AutoparError('E_USAGE', `${file} has no 'source' (the model and how it was bound); compile it again with this version`);
  const M = plan.schedule.microbatches;
  const batch = src.batchDim ? (src.dims[src.batchDim] ?? 1) : 1;
  if (M > 1 && !src.batchDim) throw new AutoparError('E_USAGE', `${file}: ${M} micro-batches need a symbolic batch dimension`);
  const dims = src.batchDim ? { ...src.dims, [src.batchDim]: batch / M } : src.dims;
  const { graph, unfused } = unfuseProjections(importOnnx(src.model, { dims }).graph);
  const tg = trainingGraphOf({ graph, loss: src.loss, optimizer: src.optimizer });
  const clustering = src.clustering === 'blocks' ? clusterByBlocks(tg) : clusterLayers(tg, { layers: src.layers });
  if (!clustering || clustering.layers !== src.layers) throw new AutoparError('E_USAGE', `${file}: the model no longer clusters into the ${src.layers} layers it was planned with; compile it again`);
  const { full, reference: ref } = batchFor(tg, src.loss, file, opts.reference, 17);
  const microbatches = ref ? Array.from({ length: M }, (_, k) => new Map([...full].map(([n, t]) => [n, M > 1 ? sliceBatch(t, M, k) : t] as const))) : Array.from({ length: M }, (_, k) => syntheticBatch(tg, 17 + k));
  const schedule = plan.schedule.kind === 'gpipe' ? 'gpipe' : '1f1b';
  return { plan, unfused, reference: ref, pipeline: { tg, layerOf: clustering.layerOf, ranges: plan.stages.map((s) => s.layers), schedule, microbatches, steps: opts.steps ?? 1 } };
}

export async function runPlan(dir: string, opts: RunOptions = {}): Promise<RunSummary> {
  if (isMeshPlanDir(dir)) {
    const { firstGrads: _grads, outputTensors: _outputs, ...summary } = await runMeshPlan(dir, opts);
    return summary;
  }
  const prepared = preparePlan(dir, opts);
  const { plan, unfused } = prepared;
  const ref = prepared.reference;
  const steps = prepared.pipeline.steps;
  let r: PipelineRunResult;
  if (opts.transport === 'mpi') {
    // Every rank rebuilds the run from plan.json (as `mpirun ... plan-worker.js` across hosts would).
    const { splits } = stageArgsFor(prepared.pipeline);
    const run = await runMpi({ processes: plan.stages.length, module: compiledSibling(import.meta.url, 'plan-worker.js'), args: { dir: path.resolve(dir), steps, reference: opts.reference ? path.resolve(opts.reference) : undefined } });
    r = collectResults(splits, run.results.map(fromWire), run.counts);
  } else {
    r = await runPipeline(prepared.pipeline);
  }
  const collectives = addCounts(r.counts);
  const plannedCollectives: Record<string, { count: number; bytes: number }> = {};
  for (const st of plan.stages) {
    for (const c of st.collectives) {
      const k = (plannedCollectives[c.kind] ??= { count: 0, bytes: 0 });
      k.count += steps;
      k.bytes += c.bytes * steps;
    }
  }
  let gradients: RunSummary['gradients'];
  if (ref) {
    let worst = '';
    let maxRelError = 0;
    const entries = Object.entries(ref.manifest.gradients ?? {});
    for (const [name, e] of entries) {
      const got = fusedGradient(name, r.firstGrads, unfused);
      if (!got) throw new AutoparError('E_REFERENCE', `${opts.reference}: no gradient of '${name}' was computed`);
      const err = compareTensors(got, ref.read(e)).maxRelError;
      if (!(err <= maxRelError)) {
        maxRelError = err;
        worst = name;
      }
    }
    gradients = { count: entries.length, maxRelError, worst };
  }
  return { mode: 'train', devices: plan.stages.length, steps, loss: r.losses, ...(gradients ? { gradients } : {}), collectives, plannedCollectives };
}

/** A parameter's gradient; a fused q|k|v one is its sections' gradients put back together. */
export function fusedGradient(name: string, grads: ReadonlyMap<string, HostTensor>, unfused: ReadonlyMap<string, { readonly parts: readonly string[]; readonly axis: number }>): HostTensor | undefined {
  const direct = grads.get(name);
  if (direct) return direct;
  const u = unfused.get(name);
  if (!u) return undefined;
  const parts = u.parts.map((p) => grads.get(p));
  if (parts.some((p) => !p)) return undefined;
  const ts = parts as HostTensor[];
  const first = ts[0] as HostTensor;
  const shape = [...first.shape];
  shape[u.axis] = ts.reduce((s, t) => s + (t.shape[u.axis] ?? 0), 0);
  // Concatenate along `axis`: outer blocks of each part in turn.
  const outer = first.shape.slice(0, u.axis).reduce((a, b) => a * b, 1);
  const out = new Float32Array(numel(shape));
  let off = 0;
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const inner = t.data.length / outer;
      out.set(t.data.subarray(o * inner, (o + 1) * inner), off);
      off += inner;
    }
  }
  return hostTensor(first.dtype, shape, out);
}
