/**
 * `autopar compile` for one mesh (a single stage): import, bind the batch, build the
 * training graph, unfuse projections, then run the intra-op pass on every logical
 * mesh of the cluster (or the manual strategy's) and keep the fastest plan that fits.
 */
import path from 'node:path';
import { loadCostModel } from '../../cost-models/calibrated.js';
import type { CostModel } from '../../cost-models/cost-model.js';
import { type IntraOpPlan, planIntraOp } from '../../passes/intra-op/plan.js';
import { trainingRoles, type ValueRoles } from '../../passes/intra-op/build.js';
import { unfuseProjections, type UnfusedParameter } from '../../passes/unfuse-projections.js';
import { loadCluster, parseCluster } from '../cluster/load.js';
import { logicalMesh, logicalMeshes, type LogicalMesh } from '../cluster/mesh.js';
import type { Cluster, DeviceType } from '../cluster/types.js';
import { AutoparError } from '../errors.js';
import type { Graph } from '../ir/types.js';
import { importOnnx } from '../onnx/import.js';
import { meshFromLogical } from '../sharding/mesh.js';
import { parseSpec, specToString, type ShardingSpec } from '../sharding/spec.js';
import { printGraph } from '../ir/print.js';
import { verifySharding } from '../sharding/verify.js';
import type { SolverName } from '../solver/problem.js';
import { buildTrainingGraph, type TrainingGraph } from '../training/build.js';
import { manualMeshShape, manualPins, parseStrategy, type StrategyName, strategyName } from './manual.js';
import { doesNotFit, minimumMemory } from './memory-floor.js';

export interface CompileOptions {
  /**
   * An ONNX file, or a graph built in memory (e.g. by `buildGpt`), with a name for
   * reports and, for micro-batching, a way to build it at another batch size.
   */
  readonly model: string | { readonly graph: Graph; readonly name: string; readonly rebuild?: (batch: number) => Graph };
  readonly cluster: string | Cluster;
  readonly batch?: number;
  readonly batchDim?: string;
  readonly dims?: Readonly<Record<string, number>>;
  readonly mode?: 'train' | 'infer';
  readonly optimizer?: 'sgd' | 'adam';
  readonly strategy?: string;
  readonly solver?: SolverName | 'auto';
  readonly timeLimitSeconds?: number;
  readonly loss?: 'mse' | 'cross-entropy';
  readonly precision?: 'model' | 'mixed';
  readonly microbatches?: number;
  readonly allowOom?: boolean;
  readonly profile?: string;
  /** Only this logical mesh shape (e.g. [4] or [2, 8]); default: every shape of the cluster. */
  readonly mesh?: readonly number[];
  /** Tie repeated layers (default true). */
  readonly tieRepeats?: boolean;
  /** Layouts the user fixes, by value name (graph inputs, parameters, op outputs); the rest is planned. */
  readonly pin?: Readonly<Record<string, string | ShardingSpec>>;
  /** Worker threads for the pipeline search over micro-batch counts (default: the cores, at most 4). */
  readonly planWorkers?: number;
  /**
   * Print the IR after a pass (`--print-ir-after`): 'import' (bound, folded, dead code
   * removed), 'unfuse-projections', 'training' (the training graph) or 'intra-op' (the
   * training graph, then each op's chosen strategy and each value's layout). Written to
   * `printIr` (default: stderr).
   */
  readonly printIrAfter?: PrintIrPass;
  readonly printIr?: (text: string) => void;
  /** Progress: each phase as it starts and the meshes as they are solved. */
  readonly progress?: (event: ProgressEvent) => void;
}

export const PRINT_IR_PASSES = ['import', 'unfuse-projections', 'training', 'intra-op'] as const;
export type PrintIrPass = (typeof PRINT_IR_PASSES)[number];

export type ProgressEvent =
  | { readonly kind: 'phase'; readonly phase: string; readonly seconds: number }
  | { readonly kind: 'mesh'; readonly shape: readonly number[]; readonly done: number; readonly total: number; readonly status: string }
  /** A pipelined plan's micro-batch count planned (stage candidates priced, stage DP run). */
  | { readonly kind: 'microbatches'; readonly microbatches: number; readonly done: number; readonly total: number; readonly seconds: number };

export interface Candidate {
  readonly mesh: LogicalMesh;
  readonly plan: IntraOpPlan | undefined;
  readonly stepTimeSeconds: number;
  readonly reason?: string;
}

export interface Compiled {
  readonly model: string;
  readonly cluster: Cluster;
  readonly device: DeviceType;
  readonly mode: 'train' | 'infer';
  readonly strategy: string;
  readonly batch: number;
  readonly graph: Graph;
  readonly training: TrainingGraph | undefined;
  readonly unfused: ReadonlyMap<string, UnfusedParameter>;
  readonly roles: ValueRoles;
  readonly best: Candidate & { readonly plan: IntraOpPlan };
  readonly candidates: readonly Candidate[];
  readonly memoryLimitBytes: number;
  readonly planningSeconds: number;
  readonly phases: readonly { readonly phase: string; readonly seconds: number }[];
  readonly costModel: CostModel;
  /** How to rebuild the planned graph (plan.json's `source`), for a model read from a file. */
  readonly source?: { readonly model: string; readonly dims: Readonly<Record<string, number>>; readonly batchDim: string | null; readonly loss: 'mse' | 'cross-entropy'; readonly optimizer: 'sgd' | 'adam' };
}

/** The symbolic dimension `--batch` binds: --batch-dim, else the first input's leading dim. */
export function batchBinding(raw: Graph, opts: CompileOptions): { dims: Record<string, number>; batch: number | undefined } {
  const dims: Record<string, number> = { ...(opts.dims ?? {}) };
  const lead = raw.inputs[0]?.type.shape[0];
  if (opts.batch === undefined) return { dims, batch: typeof lead === 'number' ? lead : typeof lead === 'string' ? dims[lead] : undefined };
  const name = opts.batchDim ?? (typeof lead === 'string' ? lead : undefined);
  if (name === undefined) {
    if (lead !== opts.batch) throw new AutoparError('E_USAGE', `--batch ${opts.batch}: ${raw.source} has a fixed batch of ${String(lead)} in input '${raw.inputs[0]?.name ?? ''}'; use --batch ${String(lead)} or re-export with a dynamic batch dimension`);
    return { dims, batch: opts.batch };
  }
  dims[name] = opts.batch;
  return { dims, batch: opts.batch };
}

export async function compileModel(opts: CompileOptions): Promise<Compiled> {
  const t0 = performance.now();
  const phases: { phase: string; seconds: number }[] = [];
  let last = t0;
  const phase = (name: string): void => {
    const now = performance.now();
    phases.push({ phase: name, seconds: (now - last) / 1000 });
    opts.progress?.({ kind: 'phase', phase: name, seconds: (now - last) / 1000 });
    last = now;
  };
  if (opts.precision === 'mixed') throw new AutoparError('E_USAGE', "--precision mixed is not implemented yet (the cost model has the formulas, the planner does not lower dtypes); use --precision model");
  if (opts.microbatches !== undefined && opts.microbatches !== 1) throw new AutoparError('E_USAGE', `--microbatches ${opts.microbatches}: micro-batches belong to pipelined plans; use --strategy pipeline`);
  const strategy: StrategyName = parseStrategy(opts.strategy ?? 'auto');
  const cluster = typeof opts.cluster === 'string' ? loadCluster(opts.cluster) : opts.cluster;
  const types = new Set(cluster.groups.map((gr) => gr.device.name));
  if (types.size > 1) throw new AutoparError('E_USAGE', `${cluster.file}: a heterogeneous cluster (${[...types].join(', ')}) needs the inter-op planner to give each device type its own stage; this version plans one mesh of identical devices`);
  const device = cluster.groups[0]?.device;
  if (!device) throw new AutoparError('E_CLUSTER', `${cluster.file}: no devices`);
  const costModel = loadCostModel(opts.profile);

  const modelName = typeof opts.model === 'string' ? path.basename(opts.model) : opts.model.name;
  let imported: Graph;
  let batch: number | undefined;
  let source: Compiled['source'];
  if (typeof opts.model === 'string') {
    const first = importOnnx(opts.model, { dims: opts.dims ?? {} });
    const bound = batchBinding(first.raw, opts);
    batch = bound.batch;
    const lead = first.raw.inputs[0]?.type.shape[0];
    const batchDim = opts.batchDim ?? (typeof lead === 'string' ? lead : null);
    source = { model: path.resolve(opts.model), dims: bound.dims, batchDim, loss: opts.loss ?? 'mse', optimizer: opts.optimizer ?? 'adam' };
    imported = Object.keys(bound.dims).length ? importOnnx(opts.model, { dims: bound.dims }).graph : first.graph;
  } else {
    imported = opts.model.graph;
    const lead = imported.inputs[0]?.type.shape[0];
    batch = typeof lead === 'number' ? lead : undefined;
    if (opts.batch !== undefined && opts.batch !== batch) throw new AutoparError('E_USAGE', `--batch ${opts.batch}: the graph ${modelName} has batch ${String(lead)}; build it with the batch you want`);
  }
  phase('import');
  const printIr = (pass: PrintIrPass, text: () => string): void => {
    if (opts.printIrAfter === pass) (opts.printIr ?? ((t: string) => void process.stderr.write(t)))(`# IR after ${pass}\n${text()}`);
  };
  printIr('import', () => printGraph(imported));
  const { graph, unfused } = unfuseProjections(imported);
  printIr('unfuse-projections', () => printGraph(graph));
  const mode = opts.mode ?? 'train';
  let training: TrainingGraph | undefined;
  let roles: ValueRoles;
  let planned: Graph;
  if (mode === 'train') {
    const loss = opts.loss === 'cross-entropy' ? 'cross_entropy' : 'mse';
    training = buildTrainingGraph(graph, { loss, optimizer: opts.optimizer === 'sgd' ? { kind: 'sgd', lr: 1e-2 } : { kind: 'adam', lr: 1e-3 } });
    roles = trainingRoles(training);
    planned = training.graph;
  } else {
    roles = { updates: new Map(), resident: new Set() };
    planned = graph;
  }
  phase(mode === 'train' ? 'training graph' : 'forward graph');
  printIr('training', () => printGraph(planned));

  const n = cluster.devices.length;
  if (opts.mesh && strategy !== 'auto') throw new AutoparError('E_USAGE', `--mesh goes with --strategy auto; ${strategyName(strategy)} sets its own mesh`);
  const meshes = strategy !== 'auto' ? [logicalMesh(cluster, manualMeshShape(strategy, n))] : opts.mesh ? [meshOf(cluster, opts.mesh)] : logicalMeshes(cluster);
  // When even the most sharded layouts exceed a device on every mesh, no plan fits: say so
  // before planning (it took 34 s to reach this verdict for GPT-175B on one host of 8 by
  // building the problem of each of its four meshes). The message is the one the failed
  // search below gives, from the last mesh's floor. Only for auto without pins: pins and
  // manual strategies can be rejected for other reasons first, which are reported instead.
  const lastMesh = meshes[meshes.length - 1];
  if (strategy === 'auto' && !opts.allowOom && Object.keys(opts.pin ?? {}).length === 0 && lastMesh) {
    const floorOn = (lm: LogicalMesh): number => minimumMemory(planned, roles, meshFromLogical(lm));
    // The last mesh first: for a model that fits, that one floor is all this costs.
    const floor = floorOn(lastMesh);
    if (floor > device.memoryBytes && meshes.slice(0, -1).every((lm) => floorOn(lm) > device.memoryBytes)) throw new AutoparError('E_USAGE', doesNotFit({ model: modelName, strategy: strategyName(strategy), devices: n, device, floor, needed: undefined }));
  }
  const candidates: Candidate[] = [];
  // The meshes whose plans did not fit, with their pins: an error re-plans one to say by how much.
  const overBudget: { readonly mesh: ReturnType<typeof meshFromLogical>; readonly pinned: Map<string, ShardingSpec> }[] = [];
  for (const [i, lm] of meshes.entries()) {
    const mesh = meshFromLogical(lm);
    let pinned = new Map<string, ShardingSpec>();
    if (strategy !== 'auto') {
      pinned = manualPins(strategy, planned, training?.forwardNodes ?? planned.nodes.length, training?.params ?? [...planned.initializers.keys()], mesh);
      // Optimizer states keep their parameter's layout in a manual strategy.
      for (const [st, p] of training?.stateOf ?? []) {
        const spec = pinned.get(p);
        if (spec) pinned.set(st, spec);
      }
    }
    try {
      // A pin naming an axis this mesh lacks rejects the mesh, with the reason.
      for (const [name, spec] of userPins(opts.pin, planned, lm)) pinned.set(name, spec);
      const plan = await planIntraOp(planned, roles, mesh, costModel, device, { solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds, pinned, tieRepeats: opts.tieRepeats, memoryBudget: opts.allowOom ? Number.MAX_SAFE_INTEGER : undefined });
      const feasible = plan.solution.status !== 'infeasible';
      if (!feasible) overBudget.push({ mesh, pinned });
      candidates.push({ mesh: lm, plan: feasible ? plan : undefined, stepTimeSeconds: feasible ? plan.computeSeconds + plan.communicationSeconds : Infinity, reason: feasible ? undefined : 'does not fit in device memory' });
      opts.progress?.({ kind: 'mesh', shape: lm.shape, done: i + 1, total: meshes.length, status: plan.solution.status });
    } catch (e) {
      if (!(e instanceof AutoparError) || e.code === 'E_INTERNAL') throw e;
      candidates.push({ mesh: lm, plan: undefined, stepTimeSeconds: Infinity, reason: e.message });
      opts.progress?.({ kind: 'mesh', shape: lm.shape, done: i + 1, total: meshes.length, status: 'rejected' });
    }
  }
  phase('intra-op');
  const feasible = candidates.filter((c): c is Candidate & { plan: IntraOpPlan } => c.plan !== undefined).sort((a, b) => a.stepTimeSeconds - b.stepTimeSeconds);
  const best = feasible[0];
  if (!best) {
    const rejected = candidates.find((c) => c.reason && c.reason !== 'does not fit in device memory');
    if (rejected && candidates.every((c) => c.reason !== 'does not fit in device memory')) throw new AutoparError('E_USAGE', rejected.reason ?? 'no plan');
    const memoryMesh = meshes[meshes.length - 1];
    const floor = memoryMesh ? minimumMemory(planned, roles, meshFromLogical(memoryMesh)) : NaN;
    // Where even the fully sharded layout would fit, it is the strategy (or the solver's layouts) that
    // does not: plan one mesh again without the budget to say by how much.
    const retry = floor <= device.memoryBytes ? overBudget[overBudget.length - 1] : undefined;
    const needed = retry
      ? (await planIntraOp(planned, roles, retry.mesh, costModel, device, { solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds, pinned: retry.pinned, tieRepeats: opts.tieRepeats, memoryBudget: Number.MAX_SAFE_INTEGER })).memoryBytes
      : undefined;
    throw new AutoparError('E_USAGE', doesNotFit({ model: modelName, strategy: strategyName(strategy), devices: n, device, floor, needed }));
  }
  printIr('intra-op', () => {
    const { plan } = best;
    const lines = [printGraph(planned).trimEnd(), `# mesh ${best.mesh.shape.join('x')} (${best.mesh.axes.map((a) => a.name).join(', ')}): strategy per op, layout per value`];
    for (const node of planned.nodes) lines.push(`${node.name}: ${plan.strategies.get(node.name) ?? 'replicated'}`);
    for (const [v, spec] of plan.layouts) lines.push(`${v} ${specToString(spec)}`);
    return lines.join('\n') + '\n';
  });
  return {
    model: modelName,
    cluster,
    device,
    mode,
    strategy: strategyName(strategy),
    batch: batch ?? 1,
    graph: planned,
    training,
    unfused,
    roles,
    best,
    candidates,
    memoryLimitBytes: device.memoryBytes,
    planningSeconds: (performance.now() - t0) / 1000,
    phases,
    costModel,
    ...(source ? { source } : {}),
  };
}

/** User pins, read and checked against the graph and the mesh (errors name the value). */
function userPins(pin: CompileOptions['pin'], g: Graph, mesh: LogicalMesh): Map<string, ShardingSpec> {
  const out = new Map<string, ShardingSpec>();
  for (const [name, raw] of Object.entries(pin ?? {})) {
    const t = g.types.get(name);
    if (!t) {
      const hint = [...g.initializers.keys()].filter((k) => k.startsWith(name)).slice(0, 3);
      throw new AutoparError('E_USAGE', `pinned value '${name}' is not in the planned graph${hint.length ? ` (did you mean ${hint.join(', ')}? fused q|k|v weights are planned per section)` : ''}`);
    }
    const spec = typeof raw === 'string' ? parseSpec(raw) : raw;
    verifySharding(t.shape.map(Number), spec, mesh, { value: name, code: 'E_USAGE' });
    out.set(name, spec);
  }
  return out;
}

function meshOf(cluster: Cluster, shape: readonly number[]): LogicalMesh {
  const n = cluster.devices.length;
  if (shape.reduce((p, s) => p * s, 1) !== n || shape.length < 1 || shape.length > 3) {
    throw new AutoparError('E_USAGE', `--mesh ${shape.join('x')} does not cover the ${n} devices of ${cluster.file}; give 1 to 3 sizes whose product is ${n} (e.g. ${n} or 2x${n / 2})`);
  }
  return logicalMesh(cluster, shape);
}

export { parseCluster };
