/**
 * The inter-op pass: cluster the training graph into layers (aligned with repeated
 * blocks), price each distinct layer on every candidate (submesh, logical mesh) with
 * the intra-op pass, price the resharding between consecutive layers, build stages
 * with the stage DP (or a manual dp,tp,pp grid), place them on devices, stitch each
 * stage from its layers' plans (stitch.ts), and estimate the step by simulating a 1F1B
 * schedule with the update once per step.
 */
import type { CostModel } from '../../cost-models/cost-model.js';
import { logicalMesh, logicalMeshes, type LogicalMesh } from '../../src/cluster/mesh.js';
import type { GroupLink } from '../../src/cluster/links.js';
import { submeshes, type Submesh } from '../../src/cluster/submesh.js';
import { AutoparError } from '../../src/errors.js';
import type { Cluster, DeviceType } from '../../src/cluster/types.js';
import { dtypeBytes } from '../../src/ir/dtype.js';
import type { Graph } from '../../src/ir/types.js';
import { meshFromLogical } from '../../src/sharding/mesh.js';
import { shardBytes } from '../../src/sharding/spec.js';
import type { SolverName } from '../../src/solver/problem.js';
import type { TrainingGraph } from '../../src/training/build.js';
import { clusterByBlocks, clusterLayers, layerRangeGraph, type LayerClustering } from '../cluster-layers.js';
import { buildSchedule, type Schedule } from '../schedule/schedule.js';
import { simulateSchedule, type SimulationResult, type StageCosts } from '../schedule/simulate.js';
import { trainingRoles, type ValueRoles } from '../intra-op/build.js';
import { planIntraOp, withBound, type IntraOpPlan } from '../intra-op/plan.js';
import { PROVEN_GAP } from '../../src/solver/diffusion-bound.js';
import { createResharder, type Resharder } from '../../src/sharding/reshard.js';
import { type LayerPlan, stitchStage, type StitchedStage } from './stitch.js';
import { fixedStages, planFits, planStages, type StageOption, type StagePlan, type StageProblem } from './stage-dp.js';
import { place, stageMeshes } from './placement.js';
import { dimensionSizes, withoutIdleAxes } from './idle-axes.js';
import { evenRanges, memoryShortfall } from './stage-report.js';
import { bytesText } from '../../src/explain/text.js';
import { type BestStep, bestStepSeconds, STAGE_CAP_SLACK, stageCap } from './best-step.js';
import { couldStepUnder, FORWARD_SHARE, stepUnder } from './step-bound.js';
import { axisRelaxation, relaxedBound, relaxedFloor } from './relaxed-floors.js';
import { type LayerCost, layerFloors, type MeshCosts } from './time-floors.js';

export { evenRanges } from './stage-report.js';
export { stageMeshes } from './placement.js';
import { manualMeshShape, manualPins } from '../../src/planner/manual.js';
import type { DeviceMesh } from '../../src/sharding/mesh.js';
import type { ShardingSpec } from '../../src/sharding/spec.js';

/** Layers the stage DP slices one by one; past this, interior layers go in runs (dpSpans). */
export const MAX_DP_LAYERS = 40;

/**
 * Rounds of stage DPs that price only the meshes at their floors their plans pick, and the
 * DP work (spans² x logical meshes) past which a count prices every mesh up front (see
 * planPipeline). GPT-1.3B on 8x8 (26² x 35) takes 1 to 3 rounds of 0.1-0.4 s and leaves 6
 * to 8 of its 9 meshes across hosts unpriced. GPT-175B on 1,024 (40² x 515) needs meshes
 * across hosts, rounds there picked 1 to 5 more each for 8 rounds of 1.8 s, and its
 * floors, one axis's links short, left the counts the DP rejects to be priced all the same.
 */
const LAZY_ROUNDS = 4;
const LAZY_DP_WORK = 2e5;

/**
 * The work (spans² x logical meshes x min(M, spans)) up to which the step bound's test
 * counts the round trips through later stages (step-bound.ts stepUnder): GPT-1.3B on 8x8
 * (26² x 35 x 26 at most) takes tens of ms; GPT-175B on 1,024 (40² x 515 x 40) ran for
 * minutes, and tests the prefix bound alone.
 */
const ROUND_TRIP_DP_WORK = 2e6;

/** A chosen layer's gap above which it is solved again exactly (see realize), and that solve's time limit. */
const EXACT_GAP = 0.01;
const EXACT_SECONDS = 5;

/**
 * The stage DP's units as [first, last] layer spans: every layer when there are at most
 * `max`; else the first and last alone and the interior in runs of g, the least g that
 * makes at most `max` units (the last run takes the remainder).
 */
export function dpSpans(L: number, max: number): (readonly [number, number])[] {
  if (L <= max || L <= 2) return Array.from({ length: L }, (_, l) => [l, l] as const);
  const g = Math.ceil((L - 2) / Math.max(1, max - 2));
  const spans: (readonly [number, number])[] = [[0, 0]];
  for (let l = 1; l < L - 1; l += g) spans.push([l, Math.min(l + g - 1, L - 2)]);
  spans.push([L - 1, L - 1]);
  return spans;
}

export interface PipelineOptions {
  readonly cluster: Cluster;
  readonly device: DeviceType;
  readonly cost: CostModel;
  readonly layers: number;
  /** A clustering made already (e.g. clusterByBlocks); `layers` is then its count. */
  readonly clustering?: LayerClustering;
  readonly microbatches: number;
  readonly solver?: SolverName | 'auto';
  readonly timeLimitSeconds?: number;
  /**
   * A manual grid instead of the stage DP: pp stages of (nearly) equal layer counts,
   * each on dp x tp devices with Megatron's layouts pinned (see planner/manual.ts).
   */
  readonly grid?: { readonly dp: number; readonly tp: number; readonly pp: number };
  /** How layers and stages are solved on their meshes (default 'fast': axis descent on 2-D meshes). */
  readonly search?: 'exact' | 'fast';
  /** Called after each intra-op solve. */
  readonly progress?: (event: { readonly solves: number; readonly layer: number; readonly mesh: readonly number[] }) => void;
  /**
   * The best step other micro-batch counts of the same search have reached (shared while
   * they are planned side by side): stages too slow to beat it are not offered to the DP
   * (see stageCap), and a count is rejected before its stages are planned when no plan of
   * it could step under it by stepLowerBound (step-bound.ts) or the DP finds none left.
   */
  readonly bestStep?: BestStep;
}

export interface LayerOnMesh extends LayerPlan {
  readonly plan: IntraOpPlan;
  /** Per micro-batch: forward and backward. */
  readonly seconds: number;
  /** Once per step: the update and the gradient synchronisation before it. */
  readonly stepSeconds: number;
}

export interface PipelineStage {
  readonly layers: readonly [number, number];
  readonly devices: readonly number[];
  readonly mesh: LogicalMesh;
  /** Per micro-batch: its layers, the resharding between them, and its incoming boundary. */
  readonly seconds: number;
  /** Once per step, after the last backward: the update and its gradient synchronisation. */
  readonly stepSeconds: number;
  /** What the DP saw (the same sum on the submesh it priced). */
  readonly estimatedSeconds: number;
  readonly plan: StitchedStage;
}

export interface PipelinePlan {
  readonly microbatches: number;
  readonly clustering: LayerClustering;
  readonly stages: readonly PipelineStage[];
  readonly simulation: SimulationResult;
  /** What the simulation was given: plan.json keeps it so a report can replay the schedule. */
  readonly stageCosts: StageCosts;
  readonly stepTimeSeconds: number;
  readonly intraOpSolves: number;
  readonly distinctLayers: number;
  /** Set when the memory limit changed the plan: what the fastest plan would have needed. */
  readonly memoryNote: string | undefined;
  /** Wall clock of the phases: layer pricing, stage DP, planning the chosen stages. */
  readonly seconds: PhaseSeconds;
}

/**
 * Wall clock of a count's phases, in its planning thread: pricing (from the start, the
 * layers' graphs and the floors included), the stage DP (with any lean pricing) and
 * planning the chosen stages; a phase the count never reached is 0.
 */
export interface PhaseSeconds {
  readonly pricing: number;
  readonly stageDp: number;
  readonly stagePlans: number;
}

type Variant = 'fast' | 'lean';

/** A layer's structure without names: identical blocks share it (and their plans). */
function signature(g: Graph): string {
  const shape = (v: string): string => g.types.get(v)?.shape.join('x') ?? '?';
  return g.nodes.map((n) => `${n.op}(${n.inputs.map(shape).join(',')})${[...n.attrs.values()].map((a) => JSON.stringify(a.kind === 'tensor' ? a.value.shape : a.value)).join('')}`).join(';');
}

export function rangeRoles(all: ValueRoles, g: Graph): ValueRoles {
  const updates = new Map([...all.updates].filter(([p, next]) => g.initializers.has(p) && g.types.has(next)));
  const resident = new Set([...all.resident].filter((v) => g.types.has(v)));
  return { updates, resident };
}

/** Splits a plan's resident bytes into what a stage holds once and what it holds per micro-batch in flight. */
function memorySplit(plan: IntraOpPlan, g: Graph, roles: ValueRoles, grads: ReadonlySet<string>): { staticBytes: number; activationBytes: number } {
  let staticBytes = 0;
  let activationBytes = 0;
  const bytes = (v: string): number => {
    const t = g.types.get(v);
    const l = plan.layouts.get(v);
    return t && l ? shardBytes(t.shape.map(Number), dtypeBytes(t.dtype), l, plan.mesh) : 0;
  };
  for (const v of g.initializers.keys()) staticBytes += bytes(v);
  for (const v of roles.resident) {
    if (grads.has(v)) staticBytes += bytes(v);
    else activationBytes += bytes(v);
  }
  return { staticBytes, activationBytes };
}

/** memorySplit of a range with every value whole (replicated). */
function replicatedSplit(g: Graph, roles: ValueRoles, grads: ReadonlySet<string>): { staticBytes: number; activationBytes: number } {
  const bytes = (v: string): number => {
    const t = g.types.get(v);
    return t ? t.shape.reduce<number>((p, d) => p * Number(d), 1) * dtypeBytes(t.dtype) : 0;
  };
  let staticBytes = 0;
  let activationBytes = 0;
  for (const v of g.initializers.keys()) staticBytes += bytes(v);
  for (const v of roles.resident) {
    if (grads.has(v)) staticBytes += bytes(v);
    else activationBytes += bytes(v);
  }
  return { staticBytes, activationBytes };
}

/**
 * The clustering the pipeline planner uses, and how to make it again: the model's
 * repeated blocks as layers where it repeats into at least `fallback` of them (one block
 * priced per mesh), else
 * `fallback` balanced layers (at least `atLeast`, e.g. a grid's pp).
 */
export function pipelineClustering(tg: TrainingGraph, fallback: number, atLeast = 1): { clustering: LayerClustering; method: 'blocks' | 'balanced' } {
  const blocks = clusterByBlocks(tg);
  // Blocks only when there are as many as a balanced clustering would give: a model of a
  // few large blocks (a Wide-ResNet's 4 groups and its head) would otherwise cap the
  // stages at that count, where 8 balanced layers let the DP cut finer.
  if (blocks && blocks.layers >= Math.max(atLeast, fallback)) return { clustering: blocks, method: 'blocks' };
  return { clustering: clusterLayers(tg, { layers: Math.max(fallback, atLeast) }), method: 'balanced' };
}

export function isRejection(p: PipelinePlan | PipelineRejection): p is PipelineRejection {
  return 'rejected' in p;
}

export interface PipelineRejection {
  readonly rejected: string;
  readonly memoryNote: string | undefined;
  /** How long the count took, by phase, before it was rejected. */
  readonly seconds: PhaseSeconds;
}

export async function planPipeline(tg: TrainingGraph, opts: PipelineOptions): Promise<PipelinePlan | PipelineRejection> {
  const t0 = performance.now();
  // When pricing and the stage DP ended (phaseSeconds; undefined until they have).
  const clock: { priced?: number; staged?: number } = {};
  const phaseSeconds = (): PhaseSeconds => {
    const now = performance.now();
    const priced = clock.priced ?? now;
    const staged = clock.staged ?? now;
    return { pricing: (priced - t0) / 1000, stageDp: clock.priced === undefined ? 0 : (staged - priced) / 1000, stagePlans: clock.staged === undefined ? 0 : (now - staged) / 1000 };
  };
  const reject = (rejected: string, memoryNote: string | undefined): PipelineRejection => ({ rejected, memoryNote, seconds: phaseSeconds() });
  const clustering = opts.clustering ?? clusterLayers(tg, { layers: opts.layers });
  const roles = trainingRoles(tg);
  const grads = new Set(tg.grads.values());
  const L = clustering.layers;
  const ranges = Array.from({ length: L }, (_, l) => layerRangeGraph(tg, clustering, l, l));
  // Each layer's roles, once: filtering the whole graph's roles per solve was 2% of a GPT-175B count.
  const layerRoles = ranges.map((g) => rangeRoles(roles, g));
  // The 1F1B schedule of each stage count realize() simulates (the primary plan and the alternative often share it).
  const schedules = new Map<number, Schedule>();
  // Each layer's kind: the index of the first layer with its signature. Cache keys use it:
  // a signature is the whole layer spelled out (tens of kB for a GPT block), and keys
  // built from it cost seconds to hash at GPT-175B scale (98 layers on hundreds of meshes).
  const signatures = ranges.map(signature);
  const firstOf = new Map<string, number>();
  const kinds = signatures.map((s, l) => {
    const k = firstOf.get(s) ?? l;
    firstOf.set(s, k);
    return k;
  });
  // What a mesh's problems depend on: its shape, size, axes and links. With the axes'
  // names (`named`) for the caches of plans (their layouts name axes); without, for the
  // relaxed bounds (numbers: a relaxation keeps the name of the axis it keeps).
  const linkText = (a: GroupLink): string => `${a.size}:${a.alpha}:${a.beta}:${a.alltoallBeta}:${a.link}:${a.hosts}:${a.devicesPerHost}:${a.sharedNic}`;
  const meshKey = (lm: LogicalMesh, named = true): string =>
    `${lm.shape.join('x')}|${lm.devices.length}|${lm.axes.map((a) => `${named ? a.name : ''}=${linkText(a)}`).join(',')}|${Object.entries(lm.multiAxis)
      .map(([axes, a]) => `${named ? axes : ''}=${linkText(a)}`)
      .join(',')}`;
  const shapes = submeshes(opts.cluster);
  const grid = opts.grid;
  const N = opts.cluster.devices.length;
  const stageSize = grid ? grid.dp * grid.tp : 0;
  if (grid && grid.dp * grid.tp * grid.pp !== N) return reject(`dp=${grid.dp},tp=${grid.tp},pp=${grid.pp} uses ${grid.dp * grid.tp * grid.pp} devices, the cluster has ${N}`, undefined);
  if (grid && grid.pp > L) return reject(`pp=${grid.pp} stages but the model has ${L} layers`, undefined);
  // Optimizer states keep their parameter's layout in a manual grid.
  const forwardNames = new Set(tg.graph.nodes.slice(0, tg.forwardNodes).map((n) => n.name));
  // Values crossing between stages whose leading dimension is not the micro-batch carry
  // no batch for the grid's data axis to split (BERT's tied embedding: the gradient
  // reaching it from the head's stage is [vocab, hidden]); they are kept whole.
  const microBatch = tg.graph.inputs[0]?.type.shape[0];
  const notBatch = new Set<string>();
  if (typeof microBatch === 'number') for (const [v, t] of tg.graph.types) if (t.shape.length > 0 && t.shape[0] !== microBatch) notBatch.add(v);
  const gridPins = (gr: NonNullable<PipelineOptions['grid']>, g: Graph, mesh: DeviceMesh): Map<string, ShardingSpec> => {
    const params = tg.params.filter((q) => g.initializers.has(q));
    const pins = manualPins({ kind: 'grid', dp: gr.dp, tp: gr.tp, pp: 1 }, g, g.nodes.filter((n) => forwardNames.has(n.name)).length, params, mesh, notBatch);
    for (const [st, q] of tg.stateOf) {
      const spec = pins.get(q);
      if (spec && g.types.has(st)) pins.set(st, spec);
    }
    return pins;
  };
  // Per layer, per submesh shape: the best mesh's result (by that layer alone), and per mesh shape.
  // What runs once per step: update nodes, and reshards whose consumer is one (or a parameter).
  // (Optimizer states too: the reshard of a state's next value into its layout follows the update.)
  const perStepNames = new Set([...tg.graph.nodes.slice(tg.gradientNodes).map((n) => n.name), ...tg.params, ...tg.states.keys()]);
  const layerResult = (plan: IntraOpPlan, g: Graph, r: ValueRoles): LayerOnMesh => {
    let stepComputeSeconds = 0;
    plan.problem.origins.forEach((o, i) => {
      if (o.kind === 'op' && perStepNames.has(o.node.name)) stepComputeSeconds += plan.problem.computeSeconds[i]?.[plan.solution.choice[i] ?? 0] ?? 0;
    });
    const stepCommunicationSeconds = plan.collectives.filter((c) => perStepNames.has(c.consumer)).reduce((t, c) => t + c.seconds, 0);
    const total = plan.computeSeconds + plan.communicationSeconds;
    return {
      plan,
      graph: g,
      layouts: plan.layouts,
      strategies: plan.strategies,
      collectives: plan.collectives,
      computeSeconds: plan.computeSeconds,
      communicationSeconds: plan.communicationSeconds,
      solution: plan.solution,
      stepComputeSeconds,
      stepCommunicationSeconds,
      seconds: total - stepComputeSeconds - stepCommunicationSeconds,
      stepSeconds: stepComputeSeconds + stepCommunicationSeconds,
      ...memorySplit(plan, g, r, grads),
    };
  };
  // The update runs once per step, forward and backward once per micro-batch.
  const stepWeight = { names: perStepNames, weight: 1 / Math.max(1, opts.microbatches) };
  // One DeviceMesh and resharder per priced mesh: the layers on it share the resharder's
  // caches (the same activation shapes recur in every layer).
  const meshCache = new Map<string, { readonly mesh: DeviceMesh; readonly resharder: Resharder }>();
  const onMesh = (lm: LogicalMesh): { readonly mesh: DeviceMesh; readonly resharder: Resharder } => {
    const key = meshKey(lm);
    let entry = meshCache.get(key);
    if (!entry) {
      const mesh = meshFromLogical(lm);
      meshCache.set(key, (entry = { mesh, resharder: createResharder(mesh, opts.cost) }));
    }
    return entry;
  };
  const cache = new Map<string, LayerOnMesh | null>();
  // Per layer kind and relaxed mesh: its solve's bound (relaxedFloors).
  const relaxedBounds = new Map<string, number>();
  // oneDeviceFloors' answer (null: none), once asked.
  let oneDeviceMemo: LayerCost[] | null | undefined;
  const reasons = new Map<string, string>();
  let solves = 0;
  // Two variants of each layer on each mesh: the fastest, and (priced only when memory
  // binds) a lean one that trades time for memory at the fastest one's own rate (its time
  // per byte held): a stage of many layers with micro-batches in flight may only fit
  // with the lean one.
  const layerOn = async (l: number, lm: LogicalMesh, variant: Variant = 'fast'): Promise<LayerOnMesh | undefined> => {
    if (variant === 'lean') {
      const fast = await layerOn(l, lm, 'fast');
      if (!fast || opts.grid) return fast;
      const key = `${kinds[l]}|${meshKey(lm)}|lean`;
      if (cache.has(key)) return cache.get(key) ?? undefined;
      const g = ranges[l] as Graph;
      const r = layerRoles[l] as ValueRoles;
      solves++;
      const held = fast.staticBytes + fast.activationBytes;
      // The fast one's problem at a memory price: reused (not rebuilt), searched from its choice.
      const { mesh, resharder } = onMesh(lm);
      const plan = await planIntraOp(g, r, mesh, opts.cost, opts.device, { solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds, search: opts.search ?? 'fast', memoryPrice: held > 0 ? (fast.seconds + fast.stepSeconds) / held : 0, stepWeight, deferBound: true, reuse: fast.plan, resharder });
      const lean = plan.solution.status === 'infeasible' ? null : layerResult(plan, g, r);
      // Kept only when it saves memory worth having; else the fast one stands in.
      const value = lean && lean.staticBytes + lean.activationBytes < 0.9 * held ? lean : fast;
      cache.set(key, value);
      return value;
    }
    const g = ranges[l] as Graph;
    const key = `${kinds[l]}|${meshKey(lm)}`;
    if (cache.has(key)) return cache.get(key) ?? undefined;
    const r = layerRoles[l] as ValueRoles;
    solves++;
    const { mesh, resharder } = onMesh(lm);
    let pinned: Map<string, ShardingSpec> | undefined;
    try {
      pinned = opts.grid ? gridPins(opts.grid, g, mesh) : undefined;
    } catch (e) {
      // A grid whose layouts cannot apply here (a batch dp cannot split) has no plan on this mesh.
      if (!(e instanceof AutoparError) || e.code === 'E_INTERNAL') throw e;
      reasons.set(key, e.message);
      cache.set(key, null);
      return undefined;
    }
    const plan = await planIntraOp(g, r, mesh, opts.cost, opts.device, { solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds, search: opts.search ?? 'fast', pinned, stepWeight, deferBound: true, resharder });
    opts.progress?.({ solves, layer: l, mesh: lm.shape });
    const value: LayerOnMesh | null =
      plan.solution.status === 'infeasible'
        ? null
        : layerResult(plan, g, r);
    cache.set(key, value);
    return value ?? undefined;
  };
  // Every (submesh, logical mesh), the per-layer results on it, and the resharding
  // between consecutive layers when both are on it (by the pair's structure, cached).
  const sizes = dimensionSizes(tg.graph);
  /**
   * An entry at its floors (`floor`) stands for a 2-D mesh across hosts not yet priced:
   * each layer at its 1-D relaxation's time floor and its memory floor (relaxed-floors.ts),
   * which no plan of the mesh, fast or lean, goes under; priced once a stage plan needs it.
   */
  type MeshEntry = { submesh: Submesh; index: number; mesh: LogicalMesh; on: LogicalMesh; variant: Variant; layers: (LayerCost | undefined)[]; joins: number[]; floor: boolean };
  const meshes: MeshEntry[] = [];
  const joinCache = new Map<string, number>();
  // Each layer's resident bytes unsharded: no layout on n devices holds less than this / n.
  const whole = ranges.map((g, l) => replicatedSplit(g, layerRoles[l] as ValueRoles, grads));
  // Every stage holds its layers' parameters, gradients and optimizer states and at least
  // one micro-batch of their saved activations, and no layout on n devices holds less than
  // 1/n of them: when all of that spread over every device exceeds a device, no stage plan
  // fits at this micro-batch count, and pricing would only confirm it.
  const floorPerDevice = whole.reduce((sum, w) => sum + w.staticBytes + w.activationBytes, 0) / N;
  if (floorPerDevice > opts.device.memoryBytes) {
    return reject(`spread evenly over all ${N} devices, the parameters, gradients, optimizer states and one micro-batch of saved activations need ${bytesText(floorPerDevice)} per device, and a device has ${bytesText(opts.device.memoryBytes)}`, undefined);
  }
  const deepest = Math.min(opts.microbatches, L, N);
  /**
   * Whether a lean variant could give a stage on this mesh an option the fast one lacks:
   * some layer range whose fast plan does not fit with the most micro-batches in flight
   * but whose floor fits with one, and which is fast enough to be a stage of a plan
   * better than the best one found (a stage of a plan of latency U takes at most U / B,
   * and a lean layout is priced no faster than the fast one). Elsewhere the lean solves
   * (half the pricing when memory binds) cannot change the DP's answer.
   */
  let slowestUseful = Infinity;
  const leanCanHelp = (fast: (typeof meshes)[number]): boolean => {
    const n = fast.submesh.size;
    const limit = opts.device.memoryBytes;
    for (let a = 0; a < L; a++) {
      let [held, perBatch, floor, seconds] = [0, 0, 0, 0];
      for (let b = a; b < L; b++) {
        const x = fast.layers[b];
        const w = whole[b];
        if (!x || !w) break;
        seconds += x.seconds + (b > a ? (fast.joins[b - 1] ?? 0) : 0);
        if (seconds > slowestUseful) break;
        held += x.staticBytes;
        perBatch += x.activationBytes;
        floor += (w.staticBytes + w.activationBytes) / n;
        if (held + perBatch * deepest > limit && floor <= limit) return true;
      }
    }
    return false;
  };
  /** The entry of a mesh (`on`: the mesh it is priced as) with every layer priced, and the joins between them. */
  const pricedEntry = async (sm: Submesh, index: number, lm: LogicalMesh, on: LogicalMesh, variant: Variant): Promise<MeshEntry> => {
    const layers: (LayerOnMesh | undefined)[] = [];
    for (let l = 0; l < L; l++) layers.push(await layerOn(l, on, variant));
    const { resharder } = onMesh(on);
    const joins: number[] = [];
    for (let l = 0; l + 1 < L; l++) {
      const [a, b] = [layers[l], layers[l + 1]];
      const key = `${kinds[l]}|${kinds[l + 1]}|${meshKey(on)}|${variant}`;
      let cost = joinCache.get(key);
      if (cost === undefined && a && b) {
        cost = stitchStage([{ graph: ranges[l] as Graph, rep: a }, { graph: ranges[l + 1] as Graph, rep: b }], resharder).boundarySeconds;
        joinCache.set(key, cost);
      }
      joins.push(cost ?? 0);
    }
    return { submesh: sm, index, mesh: lm, on, variant, layers, joins, floor: false };
  };
  /** Whether a mesh's devices span several hosts. */
  const acrossHosts = (lm: LogicalMesh): boolean => new Set(lm.devices.map((d) => opts.cluster.devices[d]?.host)).size > 1;
  // Positions of the fast entries whose lean variants the lean pass has added.
  const leaned = new Set<number>();
  /**
   * Adds every mesh's entry (fast), or the lean variant of those where it can help. With
   * `lazy`, a 2-D mesh across hosts enters at its floors (planPipeline prices it when a
   * stage plan picks it; elsewhere pricing cannot change the DP's answer).
   */
  const addMeshes = async (variant: Variant, lazy = false): Promise<void> => {
    let position = 0;
    for (const [index, sm] of shapes.entries()) {
      if (grid && sm.size !== stageSize) continue;
      for (const lm of grid ? [logicalMesh(opts.cluster, manualMeshShape({ kind: 'grid', dp: grid.dp, tp: grid.tp, pp: 1 }, stageSize), sm.devices)] : stageMeshes(opts.cluster, sm)) {
        // The lean pass walks the meshes in the fast pass's order.
        const at = position++;
        const fast = variant === 'lean' ? meshes[at] : undefined;
        if (fast && (fast.floor || leaned.has(at) || !leanCanHelp(fast))) continue;
        if (fast) leaned.add(at);
        // A mesh with axes no value can be split over is priced as the mesh without them
        // (the same problem: see idle-axes.ts); a stage placed on it is planned on itself.
        const on = (grid ? undefined : withoutIdleAxes(opts.cluster, lm, sizes)) ?? lm;
        const floors = lazy && variant === 'fast' && axisRelaxation(on) && acrossHosts(on) ? await oneDeviceFloors() : undefined;
        if (floors) meshes.push({ submesh: sm, index, mesh: lm, on, variant, layers: await relaxedFloors(on, layerFloors(floors, sm.size)), joins: [], floor: true });
        else meshes.push(await pricedEntry(sm, index, lm, on, variant));
      }
    }
  };
  // Set after pricing: the best step another count had reached, and the stage cap it gives.
  let best = Infinity;
  let cap = Infinity;
  /**
   * Per mesh, running sums over layers (time with the joins between layers, static and
   * activation bytes) and, per layer, the first layer at or after it without a plan: a
   * range's option is two subtractions, not a walk over its layers (at GPT-175B scale,
   * 4,851 ranges on hundreds of meshes).
   */
  interface Sums {
    readonly seconds: Float64Array;
    readonly joins: Float64Array;
    readonly staticBytes: Float64Array;
    readonly activationBytes: Float64Array;
    /** Once per step: the layers' updates (step-bound.ts). */
    readonly stepSeconds: Float64Array;
    readonly gap: Int32Array;
  }
  // Weak: the floors' tests make MeshCosts of their own, round after round.
  const sumsOf = new WeakMap<MeshCosts, Sums>();
  const sums = (m: MeshCosts): Sums => {
    let s = sumsOf.get(m);
    if (s) return s;
    const seconds = new Float64Array(L + 1);
    const joins = new Float64Array(L);
    const staticBytes = new Float64Array(L + 1);
    const activationBytes = new Float64Array(L + 1);
    const stepSeconds = new Float64Array(L + 1);
    const gap = new Int32Array(L + 1).fill(L);
    m.layers.forEach((x, l) => {
      seconds[l + 1] = (seconds[l] ?? 0) + (x?.seconds ?? 0);
      staticBytes[l + 1] = (staticBytes[l] ?? 0) + (x?.staticBytes ?? 0);
      activationBytes[l + 1] = (activationBytes[l] ?? 0) + (x?.activationBytes ?? 0);
      stepSeconds[l + 1] = (stepSeconds[l] ?? 0) + (x?.stepSeconds ?? 0);
      if (l + 1 < L) joins[l + 1] = (joins[l] ?? 0) + (m.joins[l] ?? 0);
    });
    for (let l = L - 1; l >= 0; l--) gap[l] = m.layers[l] === undefined ? l : (gap[l + 1] ?? L);
    s = { seconds, joins, staticBytes, activationBytes, stepSeconds, gap };
    sumsOf.set(m, s);
    return s;
  };
  // What the stage DP slices: the layers themselves, or (for the DP without a grid, past
  // MAX_DP_LAYERS) runs of g consecutive interior layers, as Alpa clusters a model into a
  // modest number of layers before its DP (whose cost grows with their square times the
  // in-flight levels). The first and last layer (embedding, head) stay alone.
  const spans = grid ? dpSpans(L, Infinity) : dpSpans(L, MAX_DP_LAYERS);
  type Link = NonNullable<Cluster['interHost']>;
  const slowest: Link | undefined = opts.cluster.interHost ?? opts.cluster.groups[0]?.intraHost;
  // Prefix sums of the layers' unsharded bytes, for the floors of `problem(..., floors)`.
  const floorSums = (key: 'staticBytes' | 'activationBytes'): Float64Array => {
    const out = new Float64Array(L + 1);
    whole.forEach((w, l) => (out[l + 1] = (out[l] ?? 0) + w[key]));
    return out;
  };
  const [wholeStatic, wholeActivation] = [floorSums('staticBytes'), floorSums('activationBytes')];
  /**
   * The stage DP's problem: memory tracked or not, boundaries over `link`; with `floors`,
   * every option holds only its memory floor (the range's bytes spread evenly over its
   * devices, which no layout goes below), a relaxation no lean layout can beat. Options
   * from the priced meshes under the stage cap, unless given others (see pricing).
   */
  const problem = (memory: boolean, link: Link | undefined = slowest, floors = false, over: readonly MeshCosts[] = meshes, stageLimit = cap): StageProblem => ({
    layers: spans.length,
    devices: opts.cluster.devices.length,
    microbatches: opts.microbatches,
    tmaxStep: 1e-3,
    options: (a, b) => {
      const [first, last] = [spans[a]?.[0] ?? 0, spans[b]?.[1] ?? 0];
      const out: StageOption[] = [];
      over.forEach((m, index) => {
        const s = sums(m);
        if ((s.gap[first] ?? L) <= last) return;
        const at = (a: Float64Array, i: number): number => a[i] ?? 0;
        const seconds = at(s.seconds, last + 1) - at(s.seconds, first) + at(s.joins, last) - at(s.joins, first);
        if (seconds > stageLimit) return;
        out.push({
          submesh: index,
          devices: m.submesh.size,
          seconds,
          staticBytes: floors ? (at(wholeStatic, last + 1) - at(wholeStatic, first)) / m.submesh.size : at(s.staticBytes, last + 1) - at(s.staticBytes, first),
          activationBytes: floors ? (at(wholeActivation, last + 1) - at(wholeActivation, first)) / m.submesh.size : at(s.activationBytes, last + 1) - at(s.activationBytes, first),
          memoryLimit: memory ? opts.device.memoryBytes : Infinity,
          stepSeconds: at(s.stepSeconds, last + 1) - at(s.stepSeconds, first),
          wholeHosts: m.submesh.shape[1] === opts.cluster.groups[m.submesh.group]?.devicesPerHost,
        });
      });
      return out;
    },
    // Activations forward and gradients back across the boundary, over `link` (before
    // placement the DP cannot tell which boundaries stay inside a host).
    boundarySeconds: (a) => {
      const bytes = clustering.boundaryBytes[(spans[a]?.[0] ?? 0) - 1] ?? 0;
      return link ? 2 * (link.latency + bytes / link.bandwidth) : 0;
    },
  });
  /**
   * With another count's step to beat before pricing starts, the count is tested at
   * floors first (hopelessAtFloors): GPT-1.3B's M=16 to 2 on 8x8 are rejected there in
   * 0.6-1.4 s each with no mesh priced (M=16 and 8 had been priced and planned, 6-7 s);
   * GPT-175B's M=128, 64 and 32 on 1,024 in 2-3 s (17-20 s priced).
   *
   * Then, where a round of stage DPs is cheap (LAZY_DP_WORK), the 2-D meshes across hosts
   * enter at those floors, and one is priced only once a stage plan the count would act
   * on picks it: a DP over options no slower and no larger than the real ones that picks
   * only real ones has picked the plan the DP over every real option would (to its ties).
   * GPT-1.3B's counts on 8x8 price 0 to 3 of their 9 meshes across hosts, in 1 to 4 rounds.
   */
  const floorsHold = !grid && opts.cost.computeScalesDown === true;
  // Only where a round of stage DPs is cheap (see LAZY_DP_WORK).
  const meshCount = shapes.reduce((n, sm) => n + stageMeshes(opts.cluster, sm).length, 0);
  const lazy = floorsHold && spans.length ** 2 * meshCount <= LAZY_DP_WORK;
  const roundTrips = spans.length ** 2 * meshCount * Math.min(opts.microbatches, spans.length) <= ROUND_TRIP_DP_WORK;
  if (floorsHold && opts.bestStep && bestStepSeconds(opts.bestStep) < Infinity) {
    const hopeless = await hopelessAtFloors();
    if (hopeless) return reject(hopeless, undefined);
  }
  await addMeshes('fast', lazy);
  clock.priced = performance.now();
  // Read after pricing, the longest phase: a count finished meanwhile tightens it.
  best = opts.bestStep ? bestStepSeconds(opts.bestStep) : Infinity;
  cap = stageCap(best, opts.microbatches);
  // The DP's stages in layer indices.
  const inLayers = (plan: StagePlan | undefined): StagePlan | undefined => (plan ? { ...plan, stages: plan.stages.map((st) => ({ ...st, first: spans[st.first]?.[0] ?? 0, last: spans[st.last]?.[1] ?? 0 })) } : undefined);
  const stages0 = (memory: boolean, link: Link | undefined = slowest): StagePlan | undefined => inLayers(grid ? fixedStages(problem(memory, link), evenRanges(L, grid.pp)) : planStages(problem(memory, link)));
  const unpriced = (): string => {
    const left = meshes.filter((m) => m.floor).length;
    return left > 0 ? ` (${foundAtFloors(left, meshes.length)})` : '';
  };
  // Before any stage DP, with another count's step to beat: a count none of whose plans
  // could step under it by stepLowerBound (step-bound.ts; memory aside, with the cap's
  // slack) is rejected. The cap alone lets through counts with few micro-batches whose
  // stages are each fast enough but whose bubble (the stages before the slowest) and
  // update lose.
  if (cap < Infinity && !couldStepUnder(problem(false), STAGE_CAP_SLACK * best, roundTrips)) return reject(`${cannotBeat(best)}${unpriced()}`, undefined);
  // Under another count's cap, whether lean layouts could give a plan at all: the DP with
  // every option at its fast time and its memory floor (a lean layout is priced no faster
  // and holds no less) finding none means they cannot, and they are not priced.
  const leanHopeless = (): boolean => cap < Infinity && planStages(problem(true, slowest, true)) === undefined;
  // The same DP with every boundary over the fastest link: on a cluster of several hosts
  // the plans differ where boundaries are dear (a CNN's feature maps), and the one whose
  // placed, simulated step is faster is kept (the slowest-link DP alone chose 4 stages of
  // 4 devices for a Wide-ResNet on 2x8 A100 where 8 stages of 2, their boundaries mostly
  // on NVLink, step 1.5x faster).
  const fastest = opts.cluster.groups[0]?.intraHost;
  let stagePlan: StagePlan | undefined;
  let memoryNote: string | undefined;
  let alternative: StagePlan | undefined;
  for (let round = 0; ; round++) {
    // The fastest plan regardless of memory first: when it fits, it is the answer (no plan
    // is faster) and the DP that tracks memory, costlier by its in-flight levels, is not run.
    const free = stages0(false);
    stagePlan = free && planFits(free, opts.microbatches, opts.device.memoryBytes) ? free : stages0(true);
    // The memory limit, when it changed the answer: what the fastest plan would need.
    memoryNote = free && (!stagePlan || free.latency < stagePlan.latency * (1 - 1e-9)) ? memoryShortfall(free, opts.microbatches, opts.device.memoryBytes) : undefined;
    if (memoryNote && !grid && !leanHopeless()) {
      // Memory binds: offer each layer's lean variant too, and plan again.
      slowestUseful = Math.min(cap, stagePlan ? stagePlan.latency / Math.max(1, opts.microbatches) : Infinity);
      await addMeshes('lean');
      stagePlan = stages0(true);
    }
    // No plan within the cap even with the meshes at their floors: none with them priced.
    if (!stagePlan && cap < Infinity) break;
    alternative = undefined;
    if (!grid && fastest && slowest && fastest !== slowest) {
      const freeFast = stages0(false, fastest);
      alternative = freeFast && planFits(freeFast, opts.microbatches, opts.device.memoryBytes) ? freeFast : stages0(true, fastest);
    }
    // The meshes at their floors these plans pick are priced, and the DPs run again, at
    // most LAZY_ROUNDS times; then every mesh left is (one more round settles it).
    const picked = new Set([free, stagePlan, alternative].flatMap((p) => p?.stages.map((st) => st.option.submesh) ?? []).filter((i) => meshes[i]?.floor));
    if (picked.size === 0) break;
    for (const [i, m] of meshes.entries()) {
      if (!m.floor || (round < LAZY_ROUNDS && !picked.has(i))) continue;
      meshes[i] = await pricedEntry(m.submesh, m.index, m.mesh, m.on, m.variant);
    }
    // The meshes priced make the step bound's test stronger: taken again. (With meshes left
    // at their floors it may let through a count that pricing them would reject; that
    // count's plan steps over the slack x the best all the same, so the search's answer
    // does not change.)
    if (cap < Infinity && !couldStepUnder(problem(false), STAGE_CAP_SLACK * best, roundTrips)) return reject(`${cannotBeat(best)}${unpriced()}`, undefined);
  }
  // The layers of realized stages with the bounds their solves deferred, shared by the
  // plans realize() is asked for (the DP's over the slowest and over the fastest link).
  const withBounds = new Map<LayerOnMesh, LayerOnMesh>();
  const bounded = async (rep: LayerOnMesh, l: number): Promise<LayerOnMesh> => {
    let b = withBounds.get(rep);
    if (!b) {
      const plan = withBound(rep.plan, stepWeight);
      b = { ...rep, plan, solution: plan.solution };
      if (plan.solution.gap > EXACT_GAP && !grid) b = await solvedExactly(b, l);
      withBounds.set(rep, b);
    }
    return b;
  };
  /**
   * A chosen layer whose bound leaves more than EXACT_GAP, where axis descent stopped at
   * a local optimum (GPT-175B's LM head priced lean on 8x8: 2.1%, which HiGHS closes in
   * half a second), solved again exactly: HiGHS on the same problem at the same memory
   * price, within EXACT_SECONDS. Its plan is kept when it is no slower per micro-batch
   * nor per step and holds no more, static or per micro-batch: the DP placed the stage
   * with the first plan's figures.
   */
  const solvedExactly = async (rep: LayerOnMesh, l: number): Promise<LayerOnMesh> => {
    const g = ranges[l] as Graph;
    const r = layerRoles[l] as ValueRoles;
    const plan = await planIntraOp(g, r, rep.plan.mesh, opts.cost, opts.device, { solver: 'highs', timeLimitSeconds: EXACT_SECONDS, search: 'exact', memoryPrice: rep.plan.memoryPrice, stepWeight, reuse: rep.plan });
    if (plan.solution.status === 'infeasible') return rep;
    const exact = layerResult(plan, g, r);
    const noMore = (a: number, b: number): boolean => a <= b * (1 + 1e-12);
    const better = exact.solution.objective < rep.solution.objective && noMore(exact.seconds, rep.seconds) && noMore(exact.stepSeconds, rep.stepSeconds) && noMore(exact.staticBytes, rep.staticBytes) && noMore(exact.activationBytes, rep.activationBytes);
    if (better) return exact;
    // Not kept, the exact solve still bounds the same problem at the same price: its bound
    // is priced bound - price x its bytes, so for the first plan's bytes it moves by the
    // difference. Where axis descent had reached the optimum and only the relaxation was
    // loose (GPT-175B's block on 4x8: 5.2% by min-sum diffusion, 0 by HiGHS), this proves it.
    const price = plan.memoryPrice;
    const lifted = Math.min(plan.solution.bound + price * (plan.memoryBytes - rep.plan.memoryBytes), rep.solution.objective);
    if (!(lifted > rep.solution.bound)) return rep;
    const gap = (rep.solution.objective - lifted) / Math.max(Math.abs(rep.solution.objective), 1e-12);
    const solution = { ...rep.solution, bound: lifted, gap, solver: `${rep.solution.solver}, bound by ${plan.solution.solver}`, status: gap <= PROVEN_GAP ? ('optimal' as const) : rep.solution.status };
    return { ...rep, plan: { ...rep.plan, solution }, solution };
  };
  if (!stagePlan && cap < Infinity) {
    const slowerThan = `every stage plan ${memoryNote ? 'that fits ' : ''}has a stage slower than ${(cap * 1000).toPrecision(3)} ms per micro-batch (${STAGE_CAP_SLACK} x the best step ${best.toPrecision(4)} s / ${opts.microbatches} micro-batches), so it steps slower than the plan another micro-batch count reached`;
    return reject(memoryNote ? `${memoryNote}; and ${slowerThan}` : slowerThan, memoryNote);
  }
  if (!stagePlan) return reject(memoryNote ?? [...reasons.values()][0] ?? `no stage plan of ${L} layers on ${N} devices`, memoryNote);
  clock.staged = performance.now();
  const primary = await realize(stagePlan);
  const same = (a: StagePlan, b: StagePlan): boolean => a.stages.length === b.stages.length && a.stages.every((x, i) => x.first === b.stages[i]?.first && x.last === b.stages[i]?.last && x.option.submesh === b.stages[i]?.option.submesh);
  if (alternative && !same(alternative, stagePlan)) {
    const second = await realize(alternative);
    if (!isRejection(second) && (isRejection(primary) || second.stepTimeSeconds < primary.stepTimeSeconds)) return finish(second);
  }
  return isRejection(primary) ? primary : finish(primary);

  /** Where a rejection by floors stood: how many logical meshes it left unpriced. */
  function foundAtFloors(left: number, of: number): string {
    return `found with ${left} of its ${of} logical meshes at their floors, not priced`;
  }

  /** Why a count none of whose plans could step under `slack` x `bestSeconds` is rejected. */
  function cannotBeat(bestSeconds: number, slack = STAGE_CAP_SLACK): string {
    return `no stage plan could step under ${slack === 1 ? '' : `${slack} x `}the best step ${bestSeconds.toPrecision(4)} s another micro-batch count reached: a 1F1B step of ${opts.microbatches} micro-batches takes, for every stage, at least the work of the stages before it and of the boundaries between them that cross hosts, plus ${opts.microbatches} times its own, and an update, and waits out the first and the last micro-batch's round trips through the stages after it`;
  }

  /**
   * Each kind of layer on one device, memory aside (the time the floors of time-floors.ts
   * divide), with its bytes unsharded; undefined when a layer has no plan there. Once.
   */
  async function oneDeviceFloors(): Promise<LayerCost[] | undefined> {
    if (oneDeviceMemo !== undefined) return oneDeviceMemo ?? undefined;
    oneDeviceMemo = null;
    const single = shapes.find((sm) => sm.size === 1);
    const lm1 = single ? stageMeshes(opts.cluster, single)[0] : undefined;
    if (!lm1) return undefined;
    const { mesh, resharder } = onMesh(lm1);
    const alone = new Map<number, { seconds: number; stepSeconds: number }>();
    const out: LayerCost[] = [];
    for (let l = 0; l < L; l++) {
      const kind = kinds[l] ?? l;
      let t = alone.get(kind);
      if (!t) {
        const g = ranges[l] as Graph;
        const r = layerRoles[l] as ValueRoles;
        const plan = await planIntraOp(g, r, mesh, opts.cost, opts.device, { solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds, search: opts.search ?? 'fast', stepWeight, deferBound: true, resharder, memoryBudget: Infinity });
        if (plan.solution.status === 'infeasible') return undefined;
        const x = layerResult(plan, g, r);
        alone.set(kind, (t = { seconds: x.seconds, stepSeconds: x.stepSeconds }));
      }
      const w = whole[l];
      out.push({ ...t, staticBytes: w?.staticBytes ?? 0, activationBytes: w?.activationBytes ?? 0 });
    }
    oneDeviceMemo = out;
    return out;
  }

  /**
   * Tests the count at floors, before any mesh is priced, against the best step another
   * count reached: every mesh's layers at their one-device floors, each mesh's tightened
   * to its relaxation's floors (relaxed-floors.ts; a 1-D mesh is its own relaxation) once
   * a plan the tests accept uses it, until the tests reject the count or accept a plan on
   * tightened meshes only. The tests: no plan could step under the best by couldStepUnder,
   * or the stage DP finds none whose stages all take at most best / M with every layer at
   * the least memory any layout holds. Every floor is proven (no plan of the mesh, fast,
   * lean or solved exactly, goes under it), so the tests take the best step itself, not
   * the cap's slack over it (which covers priced times, upper bounds): no plan of a count
   * rejected here steps under the best. The rejection, or undefined when the count stands.
   */
  async function hopelessAtFloors(): Promise<string | undefined> {
    const oneDevice = await oneDeviceFloors();
    if (!oneDevice) return undefined;
    // Every (submesh, logical mesh) as addMeshes walks them, at its floors; one device's are its plan's.
    const entries: { sm: Submesh; on: LogicalMesh; layers: LayerCost[]; tight: boolean; costs?: MeshCosts }[] = [];
    for (const sm of shapes) for (const lm of stageMeshes(opts.cluster, sm)) entries.push({ sm, on: withoutIdleAxes(opts.cluster, lm, sizes) ?? lm, layers: layerFloors(oneDevice, sm.size), tight: sm.size === 1 });
    const best = opts.bestStep ? bestStepSeconds(opts.bestStep) : Infinity;
    // Every stage of a 1F1B step runs M micro-batches: one slower than best / M loses.
    const limit = best / Math.max(1, opts.microbatches);
    // Joins at 0, their floor: resharding between layers only adds.
    // (The same objects while a mesh's floors stand: the DPs' running sums are kept by them.)
    const over = (): MeshCosts[] => entries.map((e) => (e.costs ??= { submesh: e.sm, layers: e.layers, joins: [] }));
    /**
     * Tightens the meshes a plan uses (every mesh, past LAZY_DP_WORK: there a round of DPs
     * costs more than the solves it would save); false when they all were.
     */
    const tighten = async (used: readonly StageOption[]): Promise<boolean> => {
      let any = false;
      for (const e of lazy ? used.map((o) => entries[o.submesh]) : entries) {
        if (!e || e.tight) continue;
        e.layers = await relaxedFloors(e.on, e.layers);
        e.costs = undefined;
        e.tight = true;
        any = true;
      }
      return any;
    };
    const found = (): string => `found with every logical mesh at its floors, ${entries.filter((e) => e.tight).length} of ${entries.length} by their relaxations, none priced`;
    for (;;) {
      const plan = stepUnder(problem(false, slowest, false, over(), limit), best, roundTrips);
      if (!plan) return `${cannotBeat(best, 1)} (${found()})`;
      if (!(await tighten(plan))) break;
    }
    for (;;) {
      const plan = planStages(problem(true, slowest, true, over(), limit));
      if (!plan) return `every stage plan that fits, even with each layer holding only its bytes spread over its stage's devices, has a stage slower than ${(limit * 1000).toPrecision(3)} ms per micro-batch (the best step ${best.toPrecision(4)} s another micro-batch count reached / ${opts.microbatches} micro-batches) (${found()})`;
      if (!(await tighten(plan.stages.map((st) => st.option)))) break;
    }
    return undefined;
  }

  /**
   * Each layer's floors on a mesh: its time per micro-batch at least its relaxation's
   * proven bound / the dropped axis's size, less the tie-break (relaxed-floors.ts; the
   * better of a 2-D mesh's two, a 1-D mesh's own exact solve), and `base` (its one-device
   * floors) for the rest.
   */
  async function relaxedFloors(lm: LogicalMesh, base: readonly LayerCost[]): Promise<LayerCost[]> {
    const relaxations = lm.axes.length === 1 ? [{ mesh: lm, divisor: 1 }] : [axisRelaxation(lm, 0), axisRelaxation(lm, 1)].flatMap((r) => (r ? [r] : []));
    const out: LayerCost[] = [];
    for (let l = 0; l < L; l++) {
      let seconds = (base[l] as LayerCost).seconds;
      const g = ranges[l] as Graph;
      for (const relaxation of relaxations) {
        // The relaxed mesh's bound, shared by the meshes that relax to it.
        const key = `${kinds[l] ?? l}|${meshKey(relaxation.mesh, false)}`;
        let bound = relaxedBounds.get(key);
        if (bound === undefined) {
          bound = await relaxedBound(g, layerRoles[l] as ValueRoles, onMesh(relaxation.mesh), opts.cost, opts.device, perStepNames, { solver: opts.solver ?? 'auto', timeLimitSeconds: opts.timeLimitSeconds });
          relaxedBounds.set(key, bound);
        }
        seconds = Math.max(seconds, relaxedFloor(bound, relaxation.divisor, g));
      }
      out.push({ ...(base[l] as LayerCost), seconds });
    }
    return out;
  }

  function finish(p: PipelinePlan): PipelinePlan {
    return { ...p, seconds: phaseSeconds() };
  }

  async function realize(stagePlan: StagePlan): Promise<PipelinePlan | PipelineRejection> {
    const placement = place(opts.cluster, stagePlan.stages.map((s) => s.option.devices));
    if (!placement) return reject(`the chosen stages (${stagePlan.stages.map((x) => x.option.devices).join(' + ')} devices) cannot be placed on whole hosts`, memoryNote);
    // Each stage is its layers' plans stitched on the devices it was placed on, with the
    // bounds their solves deferred (the plan reports its gap from them): see bounded below.
    const stages: PipelineStage[] = [];
    for (const [i, s] of stagePlan.stages.entries()) {
      const m = meshes[s.option.submesh];
      const devices = placement[i] ?? [];
      const mesh = m ? logicalMesh(opts.cluster, m.mesh.shape, devices) : (logicalMeshes(opts.cluster, devices)[0] as LogicalMesh);
      const parts: { graph: Graph; rep: LayerOnMesh }[] = [];
      for (let l = s.first; l <= s.last; l++) {
        const rep = await layerOn(l, mesh, m?.variant ?? 'fast');
        if (!rep) return reject(`layer ${l} has no plan on the placed mesh [${mesh.shape.join('x')}]`, memoryNote);
        parts.push({ graph: ranges[l] as Graph, rep: await bounded(rep, l) });
      }
      const plan = stitchStage(parts, createResharder(meshFromLogical(mesh), opts.cost));
      const boundary = s.first > 0 ? s.seconds - s.option.seconds : 0;
      const stepSeconds = plan.stepComputeSeconds + plan.stepCommunicationSeconds;
      stages.push({ layers: [s.first, s.last] as const, devices, mesh, seconds: plan.computeSeconds + plan.communicationSeconds - stepSeconds + boundary, stepSeconds, estimatedSeconds: s.seconds, plan });
    }
    const S = stages.length;
    // Each boundary over the link between the placed stages: NVLink when the sender's last
    // device and the receiver's first share a host, else the network. (The DP, before
    // placement, priced every boundary over one link: the slowest, or the fastest.)
    const hostOf = (d: number | undefined): number => opts.cluster.devices[d ?? -1]?.host ?? -1;
    const transfer = stages.slice(1).map((s, i) => {
      const bytes = clustering.boundaryBytes[s.layers[0] - 1] ?? 0;
      const from = stages[i]?.devices.at(-1);
      const sameHost = hostOf(from) === hostOf(s.devices[0]);
      const link = sameHost ? opts.cluster.groups[opts.cluster.devices[from ?? -1]?.group ?? 0]?.intraHost : (opts.cluster.interHost ?? opts.cluster.groups[0]?.intraHost);
      return link ? link.latency + bytes / link.bandwidth : 0;
    });
    // The schedule times the boundaries itself (send, then receive): stage work without them.
    const work = stages.map((s, i) => s.seconds - (i > 0 ? (stagePlan.stages[i]?.seconds ?? 0) - (stagePlan.stages[i]?.option.seconds ?? 0) : 0));
    // Forward is about a third of a training step's work, backward two thirds (FORWARD_SHARE:
    // the round-trip bound of step-bound.ts assumes this split).
    const stageCosts: StageCosts = {
      forwardSeconds: work.map((w) => FORWARD_SHARE * w),
      backwardSeconds: work.map((w) => w - FORWARD_SHARE * w),
      activationTransferSeconds: transfer,
      gradientTransferSeconds: transfer,
      updateSeconds: stages.map((s) => s.stepSeconds),
    };
    let schedule = schedules.get(S);
    if (!schedule) schedules.set(S, (schedule = buildSchedule('1f1b', S, opts.microbatches)));
    const simulation = simulateSchedule(schedule, stageCosts);
    return { microbatches: opts.microbatches, clustering, stages, simulation, stageCosts, stepTimeSeconds: simulation.stepSeconds, intraOpSolves: solves, distinctLayers: firstOf.size, memoryNote, seconds: { pricing: 0, stageDp: 0, stagePlans: 0 } };
  }
}
