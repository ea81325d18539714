/**
 * `autopar run DIR` for a one-mesh plan (dp, megatron, zero3, auto on one mesh): writes
 * each device's weight blocks at the offsets its program loads them from, starts one
 * worker per device (threads, or MPI processes), and puts the devices' output blocks
 * back together on the host (outside the counted communication) to report the losses
 * and compare the first step's gradients with a reference folder. An inference plan's
 * programs run the forward pass: its outputs are compared with the reference's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { MeshProgram } from '../../emit/lower/lower-mesh.js';
import { AutoparError } from '../../errors.js';
import { type HostTensor, hostToBytes } from '../../ir/host-tensor.js';
import { importOnnx } from '../../onnx/import.js';
import { unfuseProjections } from '../../../passes/unfuse-projections.js';
import { trainingGraphOf } from '../../planner/pipeline-task.js';
import { compareTensors } from '../../reference/compare.js';
import { assemble, meshCoords, shardOf } from '../../sharding/host-shard.js';
import { parseSpec } from '../../sharding/spec.js';
import type { TrainingGraph } from '../../training/build.js';
import { addCounts } from '../collectives/counts.js';
import { compiledSibling } from '../collectives/compiled.js';
import { runMpi } from '../collectives/mpi/launcher.js';
import { runThreads } from '../collectives/threads/launcher.js';
import { loadWeights } from '../weights.js';
import { batchFor, fusedGradient, inferenceBatch, type RunOptions, type RunSummary } from '../pipeline/run-plan.js';
import type { Graph } from '../../ir/types.js';
import type { MeshWorkerArgs, MeshWorkerResult } from './mesh-worker.js';
import { fromWireTensor, toWireTensor } from './wire.js';

const MeshPlanFile = z.object({
  mode: z.enum(['train', 'infer']).default('train'),
  cluster: z.object({ devices: z.number().int().positive() }),
  stages: z.array(z.object({ devices: z.array(z.number()), collectives: z.array(z.object({ kind: z.string(), bytes: z.number(), groups: z.array(z.array(z.number())) })) })).length(1),
  source: z.object({ model: z.string(), dims: z.record(z.string(), z.number()), loss: z.enum(['mse', 'cross-entropy']), optimizer: z.enum(['sgd', 'adam']) }),
});

/** True when DIR holds a one-mesh plan with device programs (what runMeshPlan runs). */
export function isMeshPlanDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'devices', 'device-0.json'));
}

export interface PreparedMeshRun {
  /** The planned graph: the training graph, or the model's forward graph for an inference plan. */
  readonly graph: Graph;
  /** The training graph; undefined for an inference plan. */
  readonly tg: TrainingGraph | undefined;
  readonly programs: readonly MeshProgram[];
  readonly unfused: ReadonlyMap<string, { readonly parts: readonly string[]; readonly axis: number }>;
  readonly feeds: ReadonlyMap<string, HostTensor>;
  readonly reference: ReturnType<typeof batchFor>['reference'];
  readonly planned: Record<string, { count: number; bytes: number }>;
}

/** Reads plan and programs, rebuilds the planned graph, writes DIR/weights/device-K.bin. */
export function prepareMeshRun(dir: string, opts: RunOptions = {}): PreparedMeshRun {
  const file = path.join(dir, 'plan.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new AutoparError('E_FILE', `${file}: cannot read it; give the folder \`autopar compile --out\` wrote`);
  }
  const parsed = MeshPlanFile.safeParse(raw);
  if (!parsed.success) throw new AutoparError('E_PARSE', `${file}: not a one-mesh plan this version runs (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}); compile it again with this version`);
  const plan = parsed.data;
  const n = plan.cluster.devices;
  const programs = Array.from({ length: n }, (_, d) => {
    const pf = path.join(dir, 'devices', `device-${d}.json`);
    if (!fs.existsSync(pf)) throw new AutoparError('E_FILE', `${pf} is missing: the plan has ${n} devices; compile it again with this version`);
    return JSON.parse(fs.readFileSync(pf, 'utf8')) as MeshProgram;
  });
  const src = plan.source;
  const { graph, unfused } = unfuseProjections(importOnnx(src.model, { dims: src.dims }).graph);
  const tg = plan.mode === 'train' ? trainingGraphOf({ graph, loss: src.loss, optimizer: src.optimizer }) : undefined;
  const plannedGraph = tg?.graph ?? graph;
  const weights = loadWeights(plannedGraph);
  fs.mkdirSync(path.join(dir, 'weights'), { recursive: true });
  for (const p of programs) writeWeightBlocks(dir, p, weights);
  const { full, reference } = tg ? batchFor(tg, src.loss, file, opts.reference, 17) : inferenceBatch(graph, opts.reference, 17);
  // Every member of every group of a listed collective makes the call once per step.
  const planned: Record<string, { count: number; bytes: number }> = {};
  const steps = opts.steps ?? 1;
  for (const c of plan.stages[0]?.collectives ?? []) {
    const members = c.groups.reduce((s, g) => s + g.length, 0);
    const k = (planned[c.kind] ??= { count: 0, bytes: 0 });
    k.count += members * steps;
    k.bytes += c.bytes * members * steps;
  }
  return { graph: plannedGraph, tg, programs, unfused, feeds: full, reference, planned };
}

function meshOf(p: MeshProgram): { axes: { name: string; size: number }[] } {
  return { axes: p.mesh.axes.map((name, i) => ({ name, size: p.mesh.shape[i] ?? 1 })) };
}

/** The device's weight file: each loaded tensor's block, at the offset its load names. */
function writeWeightBlocks(dir: string, p: MeshProgram, weights: ReadonlyMap<string, HostTensor>): void {
  const mesh = meshOf(p);
  const coords = meshCoords(mesh, p.mesh.devices.indexOf(p.device));
  const decls = new Map(p.tensors.map((t) => [t.name, t]));
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const ins of p.instructions) {
    if (ins.kind !== 'load') continue;
    const d = decls.get(ins.tensor);
    const w = weights.get(d?.source ?? ins.tensor);
    if (!d || !w) throw new AutoparError('E_INTERNAL', `device ${p.device}: no weights for '${ins.tensor}'`);
    if (ins.offset !== offset) throw new AutoparError('E_INTERNAL', `device ${p.device}: '${ins.tensor}' loads at ${ins.offset}, the file has it at ${offset}`);
    const bytes = hostToBytes(shardOf(w, parseSpec(d.sharding), mesh, coords));
    if (bytes.byteLength !== ins.length) throw new AutoparError('E_INTERNAL', `device ${p.device}: '${ins.tensor}' block is ${bytes.byteLength} bytes, its load reads ${ins.length}`);
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  const out = path.join(dir, 'weights', `device-${p.device}.bin`);
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat(parts));
  fs.renameSync(tmp, out);
}

export interface MeshRunResult extends RunSummary {
  /** First step's gradients, put together from the devices' blocks, by parameter (training). */
  readonly firstGrads: ReadonlyMap<string, HostTensor>;
  /** An inference plan's first pass: the model's outputs put together, in the model's order (empty for training). */
  readonly outputTensors: readonly HostTensor[];
}

export async function runMeshPlan(dir: string, opts: RunOptions = {}): Promise<MeshRunResult> {
  const prep = prepareMeshRun(dir, opts);
  const steps = opts.steps ?? 1;
  const n = prep.programs.length;
  const args: MeshWorkerArgs = { dir: path.resolve(dir), steps, feeds: [...prep.feeds].map(([k, t]) => [k, toWireTensor(t)] as const) };
  const module = compiledSibling(import.meta.url, 'mesh-worker.js');
  const run = opts.transport === 'mpi' ? await runMpi({ processes: n, module, args }) : await runThreads({ workers: n, module, args: () => args });
  const results = run.results as MeshWorkerResult[];
  const first = prep.programs[0];
  if (!first) throw new AutoparError('E_INTERNAL', 'a plan without devices');
  const mesh = meshOf(first);
  // Blocks in mesh order, whatever order the devices have.
  const byPos = first.mesh.devices.map((d) => results.find((r) => r.device === d));
  const global = (step: number, k: number): HostTensor => {
    const name = first.outputs[k] ?? '';
    const spec = parseSpec(first.tensors.find((t) => t.name === name)?.sharding ?? '[]');
    const shape = prep.graph.types.get(first.tensors.find((t) => t.name === name)?.source ?? '')?.shape.map(Number) ?? [];
    return assemble(
      byPos.map((r) => {
        const w = r?.steps[step]?.[k];
        if (!w) throw new AutoparError('E_INTERNAL', `a device returned no output ${k} for step ${step}`);
        return fromWireTensor(w);
      }),
      shape,
      spec,
      mesh,
    );
  };
  const tg = prep.tg;
  const ref = prep.reference;
  if (!tg) {
    // Inference: the programs' outputs are the model's, in order; each against the reference's.
    const outputTensors = prep.graph.outputs.map((_, k) => global(0, k));
    let outputs: Record<string, { maxAbsError: number; maxRelError: number }> | undefined;
    if (ref) {
      outputs = {};
      for (const [k, name] of prep.graph.outputs.entries()) {
        const want = ref.manifest.outputs[name];
        const got = outputTensors[k];
        if (!want || !got) throw new AutoparError('E_REFERENCE', `${opts.reference ?? ''}: manifest.json has no output '${name}', which the model computes (it has: ${Object.keys(ref.manifest.outputs).join(', ') || 'none'})`);
        const e = compareTensors(got, ref.read(want));
        outputs[name] = { maxAbsError: e.maxAbsError, maxRelError: e.maxRelError };
      }
    }
    return { mode: 'infer', devices: n, steps, loss: [], ...(outputs ? { outputs } : {}), collectives: addCounts(run.counts), plannedCollectives: prep.planned, firstGrads: new Map(), outputTensors };
  }
  const loss = Array.from({ length: steps }, (_, s) => global(s, 0).data[0] ?? NaN);
  const firstGrads = new Map([...tg.grads.keys()].map((p, i) => [p, global(0, i + 1)] as const));
  let gradients: RunSummary['gradients'];
  let outputs: Record<string, { maxAbsError: number; maxRelError: number }> | undefined;
  const outAt = tg.grads.size + 1;
  if (ref && first.outputs.length > outAt) {
    const got = global(0, outAt);
    const want = ref.manifest.outputs[tg.output] ?? Object.values(ref.manifest.outputs)[0];
    if (want) {
      const e = compareTensors(got, ref.read(want));
      outputs = { [tg.output]: { maxAbsError: e.maxAbsError, maxRelError: e.maxRelError } };
    }
  }
  if (ref) {
    let worst = '';
    let maxRelError = 0;
    const entries = Object.entries(ref.manifest.gradients ?? {});
    for (const [name, e] of entries) {
      const got = fusedGradient(name, firstGrads, prep.unfused);
      if (!got) throw new AutoparError('E_REFERENCE', `${opts.reference ?? ''}: no gradient of '${name}' was computed`);
      const err = compareTensors(got, ref.read(e)).maxRelError;
      if (!(err <= maxRelError)) {
        maxRelError = err;
        worst = name;
      }
    }
    gradients = { count: entries.length, maxRelError, worst };
  }
  return { mode: 'train', devices: n, steps, loss, ...(outputs ? { outputs } : {}), ...(gradients ? { gradients } : {}), collectives: addCounts(run.counts), plannedCollectives: prep.planned, firstGrads, outputTensors: [] };
}
