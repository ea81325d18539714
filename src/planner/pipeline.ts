/**
 * Pipelined plans behind the CLI.md outputs: `--strategy pipeline` (and `auto` on a
 * cluster of several hosts, see plan-model.ts) with stages from the stage DP, or a
 * manual `dp=D,tp=T,pp=P` grid. Micro-batching needs a model whose batch dimension is
 * symbolic (the training graph is built at the micro-batch size); the number of
 * micro-batches is searched over powers of two dividing the batch unless --microbatches
 * says.
 */
import path from 'node:path';
import { loadCostModel } from '../../cost-models/calibrated.js';
import { isRejection, type PhaseSeconds, type PipelinePlan } from '../../passes/inter-op/pipeline.js';
import { newBestStep, offerStep } from '../../passes/inter-op/best-step.js';
import { defaultPlanWorkers, runPipelineTasks } from './pipeline-pool.js';
import { pipelineClusteringOf, type PipelineTask, trainingGraphOf } from './pipeline-task.js';
import { unfuseProjections } from '../../passes/unfuse-projections.js';
import { rejectionSummary } from '../../passes/inter-op/stage-report.js';
import { loadCluster } from '../cluster/load.js';
import { axisGroups } from '../cluster/mesh.js';
import { AutoparError } from '../errors.js';
import { importDecoded, importOnnx } from '../onnx/import.js';
import type { Graph } from '../ir/types.js';
import { parseStrategy, strategyName } from './manual.js';
import type { ShardingSpec } from '../sharding/spec.js';
import type { TrainingGraph } from '../training/build.js';
import { numel } from '../ir/host-tensor.js';
import { type ParamSync, stageMessages } from '../runtime/pipeline/stage-split.js';
import { batchBinding, type CompileOptions } from './compile.js';
import { type CollectiveJson, type CompileSummary, finiteSolver, type PlanJson, type ShardingJson } from './plan-json.js';

const json = (s: ShardingSpec | undefined, rank: number): ShardingJson => (s ? { dims: s.dims.map((d) => [...d]), partial: [...s.partial] } : { dims: Array.from({ length: rank }, () => []), partial: [] });

function byKind(cs: readonly CollectiveJson[]): Record<string, { count: number; bytes: number }> {
  const out: Record<string, { count: number; bytes: number }> = {};
  for (const c of cs) {
    const k = (out[c.kind] ??= { count: 0, bytes: 0 });
    k.count += 1;
    k.bytes += c.bytes;
  }
  return out;
}

export interface PipelineCompiled {
  readonly plan: PlanJson;
  readonly summary: CompileSummary;
}

/** What compilePipeline plans: stages by the DP ('pipeline', 'auto') or a manual grid. */
function pipelineStrategy(text: string | undefined): { label: string; grid: { dp: number; tp: number; pp: number } | undefined } {
  if (text === undefined || text === 'pipeline' || text === 'auto') return { label: text ?? 'pipeline', grid: undefined };
  const s = parseStrategy(text);
  if (s === 'auto' || s.kind !== 'grid') throw new AutoparError('E_INTERNAL', `compilePipeline: strategy ${text} is single-stage`);
  return { label: strategyName(s), grid: { dp: s.dp, tp: s.tp, pp: s.pp } };
}

export async function compilePipeline(opts: CompileOptions): Promise<PipelineCompiled> {
  const t0 = performance.now();
  if (opts.mode === 'infer') throw new AutoparError('E_USAGE', 'pipelined plans are training steps; use --mode train (or a single-stage strategy)');
  const { label, grid } = pipelineStrategy(opts.strategy);
  const cluster = typeof opts.cluster === 'string' ? loadCluster(opts.cluster) : opts.cluster;
  const device = cluster.groups[0]?.device;
  if (!device || new Set(cluster.groups.map((g) => g.device.name)).size > 1) throw new AutoparError('E_USAGE', `${cluster.file}: pipelining needs one device type in this version`);
  const cost = loadCostModel(opts.profile);
  const modelName = typeof opts.model === 'string' ? path.basename(opts.model) : opts.model.name;
  // The training graph at micro-batch size: an ONNX file is re-imported with its batch
  // dimension bound to batch / M; a graph built in memory is taken as it is (M = 1).
  let batch: number | undefined;
  let graphAt: (m: number) => Graph;
  let batchName: string | undefined;
  let sourceDims: Record<string, number> | undefined;
  const modelArg = opts.model;
  if (typeof modelArg === 'string') {
    const first = importOnnx(modelArg, { dims: opts.dims ?? {} });
    const bound = batchBinding(first.raw, opts);
    batch = bound.batch;
    batchName = opts.batchDim ?? (typeof first.raw.inputs[0]?.type.shape[0] === 'string' ? String(first.raw.inputs[0]?.type.shape[0]) : undefined);
    // Decoded once: each count binds the same decoded model to its micro-batch size.
    graphAt = (m) => importDecoded(first.raw, modelArg, { dims: batchName ? { ...bound.dims, [batchName]: (batch ?? 1) / m } : bound.dims }).graph;
    sourceDims = bound.dims;
  } else {
    const lead = modelArg.graph.inputs[0]?.type.shape[0];
    batch = typeof lead === 'number' ? lead : undefined;
    const rebuild = modelArg.rebuild;
    batchName = rebuild ? 'batch' : undefined;
    graphAt = (m) => (rebuild && m > 1 ? rebuild((batch ?? 1) / m) : modelArg.graph);
  }
  if (batch === undefined) throw new AutoparError('E_USAGE', `${modelName}: bind the batch with --batch N`);
  const total = batch;
  if (opts.microbatches !== undefined && (total % opts.microbatches !== 0 || (opts.microbatches > 1 && batchName === undefined))) {
    throw new AutoparError('E_USAGE', batchName === undefined ? `${modelName} has a fixed batch, so it cannot be split into ${opts.microbatches} micro-batches; export it with a dynamic batch dimension` : `--microbatches ${opts.microbatches} does not divide the batch ${total}`);
  }
  // Powers of two dividing the batch, every one down to micro-batches of one sample: the
  // step is not unimodal in M (a larger M shrinks the bubble and the in-flight activations,
  // and can let a faster layout fit). Stopping at 64 left GPT-175B on 1,024 devices (batch
  // 1,024) at 64 micro-batches of 16, whose activations fit only in layouts 22x slower than
  // the plan at 1,024 micro-batches of one.
  const powers: number[] = [];
  for (let m = 1; m <= total && total % m === 0; m *= 2) powers.push(m);
  const candidates = opts.microbatches !== undefined ? [opts.microbatches] : powers.filter((m) => m === 1 || batchName !== undefined);
  let best: { p: PipelinePlan; tg: TrainingGraph; m: number } | undefined;
  const rejections: { microbatches: number; reason: string }[] = [];
  // Every count is planned (in worker threads when there are cores to spare), its graph
  // built when a lane takes it: the first workers need not wait for all the graphs.
  const made = new Map<number, PipelineTask>();
  const bestStep = newBestStep();
  let graphSeconds = 0;
  const taskAt = (i: number): PipelineTask => {
    let task = made.get(i);
    if (!task) {
      const m = candidates[i] ?? 1;
      const tg0 = performance.now();
      task = { graph: unfuseProjections(graphAt(m)).graph, microbatches: m, cluster, profile: opts.profile, loss: opts.loss, optimizer: opts.optimizer, solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds, grid, bestStep };
      graphSeconds += (performance.now() - tg0) / 1000;
      made.set(i, task);
    }
    return task;
  };
  let finished = 0;
  // Counts in the order they finished, for the phases.
  const finishOrder: number[] = [];
  // The two ends first, then the rest from the largest down: the largest count has the
  // smallest bubble and one micro-batch none at all, so one of them usually gives the
  // best step early, and the counts planned after it offer the DP only stages fast enough
  // to beat it (see best-step.ts); a count that cannot is rejected before planning stages.
  const last = candidates.length - 1;
  const order = last > 0 ? [last, 0] : [0];
  for (let i = last - 1; i > 0; i--) order.push(i);
  const tSearch = performance.now();
  const outcomes = await runPipelineTasks(
    candidates.length,
    taskAt,
    opts.planWorkers ?? defaultPlanWorkers(),
    (t, o) => {
      finished++;
      finishOrder.push(candidates.indexOf(t.microbatches));
      if (!isRejection(o)) offerStep(bestStep, o.stepTimeSeconds);
      opts.progress?.({ kind: 'microbatches', microbatches: t.microbatches, done: finished, total: candidates.length, seconds: (performance.now() - t0) / 1000 });
    },
    order,
  );
  const tSearched = performance.now();
  let chosen: { p: PipelinePlan; task: PipelineTask } | undefined;
  outcomes.forEach((p, i) => {
    const task = taskAt(i);
    if (isRejection(p)) rejections.push({ microbatches: task.microbatches, reason: p.rejected });
    else if (!chosen || p.stepTimeSeconds < chosen.p.stepTimeSeconds) chosen = { p, task };
  });
  // The training graph of the chosen count, rebuilt here (deterministic: the same names).
  if (chosen) best = { p: chosen.p, tg: trainingGraphOf(chosen.task), m: chosen.task.microbatches };
  if (!best) throw new AutoparError('E_USAGE', `no ${label} plan of ${modelName} fits on ${cluster.devices.length} x ${device.name} with ${candidates.join(', ')} micro-batches: ${rejectionSummary(rejections) || 'no stage plan'}`);
  const { p, tg, m } = best;
  const phaseOf = new Map<string, CollectiveJson['phase']>();
  tg.graph.nodes.forEach((n, i) => phaseOf.set(n.name, i < tg.forwardNodes ? 'forward' : i < tg.gradientNodes ? 'backward' : 'update'));
  const firstState = new Map<string, string>();
  for (const [st, prm] of tg.stateOf) if (!firstState.has(prm)) firstState.set(prm, st);
  const { boundaries: messages, paramSync } = boundaryMessages(tg, p);
  let peak = 0;
  let communication = 0;
  let compute = 0;
  const stages = p.stages.map((st, i) => {
    const inFlight = Math.min(p.stages.length - i, m);
    const layouts = new Map<string, ShardingSpec>();
    const strategies = new Map<string, string>();
    const collectives: CollectiveJson[] = [];
    let memory = 0;
    for (const lp of [st.plan]) {
      for (const [k, v] of lp.layouts) layouts.set(k, v);
      for (const [k, v] of lp.strategies) strategies.set(k, v);
      memory += lp.staticBytes + lp.activationBytes * inFlight;
      // Forward and backward run once per micro-batch, the update (and its gradient sync) once.
      communication += (lp.communicationSeconds - lp.stepCommunicationSeconds) * m + lp.stepCommunicationSeconds;
      compute += (lp.computeSeconds - lp.stepComputeSeconds) * m + lp.stepComputeSeconds;
      for (const c of lp.collectives) {
        const groups = axisGroups(st.mesh.shape, st.mesh.devices, c.axes.map((ax) => st.mesh.axes.findIndex((x) => x.name === ax)));
        const phase = phaseOf.get(c.consumer) ?? 'update';
        // Forward and backward collectives repeat per micro-batch; the update's happen once.
        collectives.push({ kind: c.kind, axes: c.axes, group: groups[0] ?? [], groups, bytes: c.bytes * (phase === 'update' ? 1 : m), seconds: c.seconds, value: c.value, consumer: c.consumer, phase });
      }
    }
    peak = Math.max(peak, memory);
    // Activations go forward and gradients back across each boundary, every micro-batch.
    const link = (a: number, b: number): number[] => [p.stages[a]?.devices.at(-1) ?? 0, p.stages[b]?.devices[0] ?? 0];
    const push = (kind: 'send' | 'recv', bytes: number, pair: number[], value: string, consumer: string): void => {
      collectives.push({ kind, axes: [], group: pair, groups: [pair], bytes, seconds: 0, value, consumer, phase: 'pipeline' });
    };
    if (i + 1 < p.stages.length) {
      push('send', (messages[i]?.forward ?? 0) * m, link(i, i + 1), `activations ${i}->${i + 1}`, `stage ${i + 1}`);
      push('recv', (messages[i]?.backward ?? 0) * m, link(i, i + 1), `gradients ${i + 1}->${i}`, `stage ${i}`);
    }
    if (i > 0) {
      push('recv', (messages[i - 1]?.forward ?? 0) * m, link(i - 1, i), `activations ${i - 1}->${i}`, `stage ${i}`);
      push('send', (messages[i - 1]?.backward ?? 0) * m, link(i - 1, i), `gradients ${i}->${i - 1}`, `stage ${i - 1}`);
    }
    // A parameter several stages read: its owner sends the updated value to each, once a step.
    for (const sync of paramSync) {
      if (sync.from !== i && sync.to !== i) continue;
      const pair = [p.stages[sync.from]?.devices[0] ?? 0, p.stages[sync.to]?.devices[0] ?? 0];
      collectives.push({ kind: sync.from === i ? 'send' : 'recv', axes: [], group: pair, groups: [pair], bytes: numel(sync.shape) * 4, seconds: 0, value: sync.param, consumer: `stage ${sync.to}`, phase: 'update' });
    }
    const names = new Set(tg.graph.nodes.filter((n) => (p.clustering.layerOf.get(n.name) ?? -1) >= st.layers[0] && (p.clustering.layerOf.get(n.name) ?? -1) <= st.layers[1]).map((n) => n.name));
    const rank = (v: string): number => tg.graph.types.get(v)?.shape.length ?? 0;
    return {
      devices: [...st.devices],
      mesh: { shape: [...st.mesh.shape], axes: st.mesh.axes.map((a) => a.name) },
      layers: [st.layers[0], st.layers[1]] as [number, number],
      memoryBytesPerDevice: memory,
      parameters: tg.params
        .filter((q) => {
          const l = p.clustering.paramLayer.get(q) ?? -1;
          return l >= st.layers[0] && l <= st.layers[1];
        })
        .map((q) => {
          const s = firstState.get(q);
          return { name: q, shape: (tg.graph.types.get(q)?.shape ?? []).map(Number), sharding: json(layouts.get(q), rank(q)), optimizerStateSharding: s ? json(layouts.get(s), rank(s)) : null };
        }),
      nodes: tg.graph.nodes
        .filter((n) => names.has(n.name))
        .map((n) => ({ name: n.name, op: n.op, strategy: strategies.get(n.name) ?? 'replicated', inputs: n.inputs.filter((x) => x !== ''), outputs: n.outputs.filter((o) => o !== '').map((o) => ({ name: o, shape: (tg.graph.types.get(o)?.shape ?? []).map(Number), sharding: json(layouts.get(o), rank(o)) })) })),
      collectives,
    };
  });
  const stepTimeSeconds = p.stepTimeSeconds;
  const communicationBytesPerStep = stages.reduce((s, st) => s + st.collectives.reduce((t, c) => t + (c.kind === 'recv' ? 0 : c.bytes), 0), 0);
  // The stage DP is exact over its per-layer estimates; the gap reported is the worst of
  // the layers' intra-op solves (stages are their layers' plans stitched, see stitch.ts).
  const stageSolutions = p.stages.flatMap((st) => st.plan.solutions);
  const solver = finiteSolver({
    name: `stage-dp + ${[...new Set(stageSolutions.map((x) => x.solver))].join('/')}`,
    status: stageSolutions.every((x) => x.status === 'optimal') ? 'optimal-stages' : 'time-limit',
    objective: stepTimeSeconds,
    bound: stepTimeSeconds * (1 - Math.max(0, ...stageSolutions.map((x) => x.gap))),
    gap: Math.max(0, ...stageSolutions.map((x) => x.gap)),
  });
  const plan: PlanJson = {
    version: 1,
    model: modelName,
    mode: 'train',
    strategy: label,
    batch,
    cluster: { name: cluster.name, file: cluster.file, devices: cluster.devices.length, hosts: cluster.hosts.length, device: device.name },
    schedule: { kind: '1f1b', microbatches: m, stageCosts: p.stageCosts },
    ...(typeof modelArg === 'string' && sourceDims
      ? { source: { model: path.resolve(modelArg), dims: sourceDims, batchDim: batchName ?? null, loss: opts.loss ?? 'mse', optimizer: opts.optimizer ?? 'adam', layers: p.clustering.layers, clustering: pipelineClusteringOf(tg, cluster.devices.length, grid?.pp ?? 1).method } }
      : {}),
    stages,
    cost: {
      stepTimeSeconds,
      computeSeconds: compute,
      communicationSeconds: communication,
      bubbleSeconds: p.simulation.bubbleSeconds,
      peakMemoryBytesPerDevice: peak,
      memoryLimitBytesPerDevice: device.memoryBytes,
      communicationBytesPerStep,
      costModel: cost.name,
    },
    solver,
  };
  const summary: CompileSummary = {
    model: plan.model,
    devices: cluster.devices.length,
    mode: 'train',
    strategy: label,
    stepTimeSeconds,
    throughputSamplesPerSecond: batch / stepTimeSeconds,
    peakMemoryBytesPerDevice: peak,
    memoryLimitBytesPerDevice: device.memoryBytes,
    communicationBytesPerStep,
    microbatches: m,
    stages: p.stages.map((s) => ({ layers: s.layers, devices: s.devices, meshShape: s.mesh.shape, stageTimeSeconds: s.seconds })),
    planningSeconds: (performance.now() - t0) / 1000,
    solver,
    phases: searchPhases(
      graphSeconds,
      finishOrder.flatMap((i) => {
        const o = outcomes[i];
        return o ? [{ microbatches: candidates[i] ?? 1, seconds: o.seconds, rejected: isRejection(o) }] : [];
      }),
      (tSearched - tSearch) / 1000,
      (performance.now() - tSearched) / 1000,
    ),
    communicationByKind: byKind(stages.flatMap((st) => st.collectives)),
    notes: p.memoryNote ? [p.memoryNote] : [],
  };
  return { plan, summary };
}

/**
 * The phases of a micro-batch search, for `compile --json` and bench/scale: the main
 * thread's building of each count's graph; each count's pricing, stage DP and stage
 * plans in its planning thread (phases it never reached left out, a rejected count's
 * marked), in the order the counts finished; the search's wall clock (the counts run
 * side by side, so their phases overlap and add up to more); and assembling the plan.
 */
export function searchPhases(graphSeconds: number, counts: readonly { readonly microbatches: number; readonly seconds: PhaseSeconds; readonly rejected: boolean }[], searchSeconds: number, planSeconds: number): { phase: string; seconds: number }[] {
  const phases = [{ phase: 'model graphs', seconds: graphSeconds }];
  for (const { microbatches, seconds, rejected } of counts) {
    const tag = rejected ? ' (rejected)' : '';
    const { pricing, stageDp, stagePlans } = seconds;
    for (const [name, s] of [['pricing', pricing], ['stage DP', stageDp], ['stage plans', stagePlans]] as const) if (s > 0) phases.push({ phase: `M=${microbatches} ${name}${tag}`, seconds: s });
  }
  phases.push({ phase: 'micro-batch search', seconds: searchSeconds }, { phase: 'plan', seconds: planSeconds });
  return phases;
}

/**
 * Bytes per micro-batch crossing each stage boundary, each way: the messages the
 * runtime sends (src/runtime/pipeline/stage-split.ts, values packed as float32). Where
 * the runtime cannot cut the graph (a parameter read by two stages), the clustering's
 * forward cut stands for both directions.
 */
function boundaryMessages(tg: TrainingGraph, p: PipelinePlan): { boundaries: { forward: number; backward: number }[]; paramSync: readonly ParamSync[] } {
  const bytes = (vs: readonly { readonly shape: readonly number[] }[]): number => vs.reduce((t, v) => t + numel(v.shape) * 4, 0);
  try {
    const m = stageMessages(tg, p.clustering.layerOf, p.stages.map((s) => s.layers));
    return { boundaries: m.forward.map((f, b) => ({ forward: bytes(f), backward: bytes(m.backward[b] ?? []) })), paramSync: m.paramSync };
  } catch (e) {
    if (!(e instanceof AutoparError) || e.code !== 'E_USAGE') throw e;
    const boundaries = p.stages.slice(0, -1).map((st) => {
      const b = p.clustering.boundaryBytes[st.layers[1]] ?? 0;
      return { forward: b, backward: b };
    });
    return { boundaries, paramSync: [] };
  }
}
