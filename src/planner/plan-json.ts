/**
 * plan.json (CLI.md's stable form) and the summary `autopar compile --json` prints.
 * Written to a temporary name and renamed, so a reader never sees half a plan.
 */
import fs from 'node:fs';
import path from 'node:path';
import { axisGroups } from '../cluster/mesh.js';
import type { StageCosts } from '../../passes/schedule/simulate.js';
import type { ShardingSpec } from '../sharding/spec.js';
import { bestAlternatives } from './alternatives.js';
import type { Compiled } from './compile.js';

export interface ShardingJson {
  readonly dims: readonly (readonly string[])[];
  readonly partial: readonly string[];
}

export interface CollectiveJson {
  readonly kind: string;
  readonly axes: readonly string[];
  /** Devices of one instance (the one with the lowest device id). */
  readonly group: readonly number[];
  /** Every instance's devices (all groups run the collective at once). */
  readonly groups: readonly (readonly number[])[];
  readonly bytes: number;
  readonly seconds: number;
  readonly value: string;
  readonly consumer: string;
  readonly phase: 'forward' | 'backward' | 'update' | 'pipeline';
}

export interface NodeJson {
  readonly name: string;
  readonly op: string;
  readonly strategy: string;
  /** Value names read, in order (`explain` finds each weight's op from them). */
  readonly inputs?: readonly string[];
  readonly outputs: readonly { readonly name: string; readonly shape: readonly number[]; readonly sharding: ShardingJson }[];
  /**
   * Single-stage plans, for a forward op that reads a parameter: its best other strategy
   * with the rest of the plan fixed (src/planner/alternatives.ts) and the seconds it adds.
   */
  readonly alternative?: {
    readonly strategy: string;
    readonly weight: string;
    readonly weightSharding: ShardingJson | null;
    readonly outputSharding: ShardingJson | null;
    readonly extraSeconds: number;
    /** Ops changed together (the op and its tied repeats). */
    readonly ops: number;
  };
}

export interface PlanJson {
  readonly version: 1;
  readonly model: string;
  readonly mode: 'train' | 'infer';
  readonly strategy: string;
  readonly batch: number;
  readonly cluster: { readonly name: string; readonly file: string; readonly devices: number; readonly hosts: number; readonly device: string };
  readonly schedule: {
    readonly kind: 'none' | 'gpipe' | '1f1b';
    readonly microbatches: number;
    /**
     * Seconds per stage of one micro-batch's forward and backward, of the update, and of
     * each boundary's transfer: what the planner simulated the schedule with, so a report
     * can replay it (passes/schedule/). A single-stage plan is one stage, one micro-batch.
     */
    readonly stageCosts?: StageCosts;
  };
  /**
   * How to rebuild the planned graph (`autopar run` needs it): the model file, its bound
   * dimensions (full batch), the batch dimension split into micro-batches, the loss, the
   * optimizer and the layer count of the clustering. An inference plan's graph is the
   * model's forward graph: its loss and optimizer are recorded but not used.
   */
  readonly source?: {
    readonly model: string;
    readonly dims: Readonly<Record<string, number>>;
    readonly batchDim: string | null;
    readonly loss: 'mse' | 'cross-entropy';
    readonly optimizer: 'sgd' | 'adam';
    readonly layers: number;
    /** 'blocks': one layer per repeated block (clusterByBlocks); 'balanced': `layers` balanced layers. */
    readonly clustering: 'blocks' | 'balanced';
  };
  readonly stages: readonly {
    readonly devices: readonly number[];
    readonly mesh: { readonly shape: readonly number[]; readonly axes: readonly string[] };
    readonly layers: readonly [number, number];
    /** The planner's resident estimate on each device of this stage (cost.peakMemoryBytesPerDevice is the largest). */
    readonly memoryBytesPerDevice?: number;
    readonly parameters: readonly {
      readonly name: string;
      readonly shape: readonly number[];
      readonly sharding: ShardingJson;
      readonly optimizerStateSharding: ShardingJson | null;
      /** For a parameter cut out of a fused one (q|k|v): where it lies in the model's initializer. */
      readonly source?: { readonly name: string; readonly axis: number; readonly start: number };
    }[];
    readonly nodes: readonly NodeJson[];
    readonly collectives: readonly CollectiveJson[];
  }[];
  readonly cost: {
    readonly stepTimeSeconds: number;
    readonly computeSeconds: number;
    readonly communicationSeconds: number;
    readonly bubbleSeconds: number;
    readonly peakMemoryBytesPerDevice: number;
    readonly memoryLimitBytesPerDevice: number;
    readonly communicationBytesPerStep: number;
    readonly costModel: string;
  };
  readonly solver: SolverJson;
}

export interface SolverJson {
  readonly name: string;
  readonly status: string;
  readonly objective: number;
  readonly bound: number;
  readonly gap: number;
}

export interface CompileSummary {
  readonly model: string;
  readonly devices: number;
  readonly mode: 'train' | 'infer';
  readonly strategy: string;
  readonly stepTimeSeconds: number;
  readonly throughputSamplesPerSecond: number;
  readonly peakMemoryBytesPerDevice: number;
  readonly memoryLimitBytesPerDevice: number;
  readonly communicationBytesPerStep: number;
  readonly microbatches: number;
  readonly stages: readonly { readonly layers: readonly [number, number]; readonly devices: readonly number[]; readonly meshShape: readonly number[]; readonly stageTimeSeconds: number }[];
  readonly planningSeconds: number;
  readonly solver: SolverJson;
  readonly phases: readonly { readonly phase: string; readonly seconds: number }[];
  readonly communicationByKind: Readonly<Record<string, { readonly count: number; readonly bytes: number }>>;
  /** What the planner wants the user to know (e.g. a faster plan rejected for memory). */
  readonly notes?: readonly string[];
}

const json = (s: ShardingSpec): ShardingJson => ({ dims: s.dims.map((d) => [...d]), partial: [...s.partial] });

export function buildPlanJson(c: Compiled): PlanJson {
  const { plan, mesh } = c.best;
  const g = c.graph;
  const phaseOf = new Map<string, CollectiveJson['phase']>();
  g.nodes.forEach((n, i) => phaseOf.set(n.name, !c.training ? 'forward' : i < c.training.forwardNodes ? 'forward' : i < c.training.gradientNodes ? 'backward' : 'update'));
  const axisIndex = new Map(mesh.axes.map((a, i) => [a.name, i]));
  const collectives: CollectiveJson[] = plan.collectives.map((col) => {
    const groups = axisGroups(mesh.shape, mesh.devices, col.axes.map((a) => axisIndex.get(a) ?? 0));
    return { kind: col.kind, axes: col.axes, group: groups[0] ?? [], groups, bytes: col.bytes, seconds: col.seconds, value: col.value, consumer: col.consumer, phase: phaseOf.get(col.consumer) ?? 'update' };
  });
  const params = c.training?.params ?? [...g.initializers.keys()];
  const firstState = new Map<string, string>();
  for (const [st, p] of c.training?.stateOf ?? []) if (!firstState.has(p)) firstState.set(p, st);
  const sources = new Map<string, { name: string; axis: number; start: number }>();
  for (const p of params) {
    const d = g.initializers.get(p)?.data;
    if (d && 'kind' in d && d.kind === 'slice') sources.set(p, { name: d.source.name, axis: d.axis, start: d.start });
  }
  const replicatedOf = (rank: number): ShardingJson => ({ dims: Array.from({ length: rank }, () => []), partial: [] });
  const layoutOf = (v: string): ShardingJson => {
    const l = plan.layouts.get(v);
    return l ? json(l) : replicatedOf(g.types.get(v)?.shape.length ?? 0);
  };
  // The forward ops that read a parameter (the first they read): where explain prices alternatives.
  const paramSet = new Set(params);
  const weightOf = new Map<string, string>();
  g.nodes.forEach((n, i) => {
    const w = n.inputs.find((x) => paramSet.has(x));
    if (w !== undefined && (!c.training || i < c.training.forwardNodes)) weightOf.set(n.name, w);
  });
  const alternatives = bestAlternatives(plan, weightOf);
  const communicationBytesPerStep = collectives.reduce((s, x) => s + x.bytes, 0);
  const stepTimeSeconds = plan.computeSeconds + plan.communicationSeconds;
  // One stage, one micro-batch: forward and backward are their ops' compute and their
  // phase's collectives; the update takes the rest, so the three add up to the step.
  const seconds = { forward: 0, backward: 0 };
  plan.problem.origins.forEach((o, i) => {
    const ph = o.kind === 'op' ? phaseOf.get(o.node.name) : undefined;
    if (ph === 'forward' || ph === 'backward') seconds[ph] += plan.problem.computeSeconds[i]?.[plan.solution.choice[i] ?? 0] ?? 0;
  });
  for (const col of collectives) if (col.phase === 'forward' || col.phase === 'backward') seconds[col.phase] += col.seconds;
  const stageCosts: StageCosts = {
    forwardSeconds: [seconds.forward],
    backwardSeconds: [seconds.backward],
    activationTransferSeconds: [],
    gradientTransferSeconds: [],
    updateSeconds: [Math.max(0, stepTimeSeconds - seconds.forward - seconds.backward)],
  };
  return {
    version: 1,
    model: c.model,
    mode: c.mode,
    strategy: c.strategy,
    batch: c.batch,
    cluster: { name: c.cluster.name, file: c.cluster.file, devices: c.cluster.devices.length, hosts: c.cluster.hosts.length, device: c.device.name },
    schedule: { kind: 'none', microbatches: 1, stageCosts },
    ...(c.source ? { source: { ...c.source, layers: 1, clustering: 'balanced' as const } } : {}),
    stages: [
      {
        devices: [...mesh.devices],
        mesh: { shape: [...mesh.shape], axes: mesh.axes.map((a) => a.name) },
        layers: [0, 0],
        memoryBytesPerDevice: plan.memoryBytes,
        parameters: params.map((p) => {
          const st = firstState.get(p);
          const src = sources.get(p);
          return {
            name: p,
            shape: (g.types.get(p)?.shape ?? []).map(Number),
            sharding: layoutOf(p),
            optimizerStateSharding: st ? layoutOf(st) : null,
            ...(src ? { source: src } : {}),
          };
        }),
        nodes: g.nodes.map((n): NodeJson => {
          const alt = alternatives.get(n.name);
          return {
            name: n.name,
            op: n.op,
            strategy: plan.strategies.get(n.name) ?? 'replicated',
            inputs: n.inputs.filter((i) => i !== ''),
            outputs: n.outputs.filter((o) => o !== '').map((o) => ({ name: o, shape: (g.types.get(o)?.shape ?? []).map(Number), sharding: layoutOf(o) })),
            ...(alt
              ? { alternative: { strategy: alt.strategy, weight: weightOf.get(n.name) ?? '', weightSharding: alt.weightSharding ? json(alt.weightSharding) : null, outputSharding: alt.outputSharding ? json(alt.outputSharding) : null, extraSeconds: alt.extraSeconds, ops: alt.ops } }
              : {}),
          };
        }),
        collectives,
      },
    ],
    cost: {
      stepTimeSeconds,
      computeSeconds: plan.computeSeconds,
      communicationSeconds: plan.communicationSeconds,
      bubbleSeconds: 0,
      peakMemoryBytesPerDevice: plan.memoryBytes,
      memoryLimitBytesPerDevice: c.memoryLimitBytes,
      communicationBytesPerStep,
      costModel: c.costModel.name,
    },
    solver: solverJson(c),
  };
}

function solverJson(c: Compiled): SolverJson {
  const s = c.best.plan.solution;
  return finiteSolver({ name: s.solver, status: s.status, objective: s.objective, bound: s.bound, gap: s.gap });
}

/**
 * JSON has no Infinity: an unknown gap (no bound was proven) is written as 1 (100%)
 * and an unknown bound as 0, so `gap` stays a number as CLI.md promises.
 */
export function finiteSolver(s: SolverJson): SolverJson {
  return { ...s, bound: Number.isFinite(s.bound) ? s.bound : 0, gap: Number.isFinite(s.gap) ? s.gap : 1 };
}

export function compileSummary(c: Compiled, plan: PlanJson): CompileSummary {
  const byKind: Record<string, { count: number; bytes: number }> = {};
  for (const col of plan.stages[0]?.collectives ?? []) {
    const k = (byKind[col.kind] ??= { count: 0, bytes: 0 });
    k.count += 1;
    k.bytes += col.bytes;
  }
  return {
    model: c.model,
    devices: c.cluster.devices.length,
    mode: c.mode,
    strategy: c.strategy,
    stepTimeSeconds: plan.cost.stepTimeSeconds,
    throughputSamplesPerSecond: c.batch / plan.cost.stepTimeSeconds,
    peakMemoryBytesPerDevice: plan.cost.peakMemoryBytesPerDevice,
    memoryLimitBytesPerDevice: plan.cost.memoryLimitBytesPerDevice,
    communicationBytesPerStep: plan.cost.communicationBytesPerStep,
    microbatches: 1,
    stages: plan.stages.map((s) => ({ layers: s.layers, devices: s.devices, meshShape: s.mesh.shape, stageTimeSeconds: plan.cost.stepTimeSeconds })),
    planningSeconds: c.planningSeconds,
    solver: plan.solver,
    phases: c.phases,
    communicationByKind: byKind,
  };
}

/** Writes DIR/plan.json atomically (temporary file, then rename). */
export function writePlan(dir: string, plan: PlanJson): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'plan.json');
  const tmp = path.join(dir, `.plan.json.tmp-${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(plan, null, 1) + '\n');
  fs.renameSync(tmp, file);
  return file;
}
