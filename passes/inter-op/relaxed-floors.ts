/**
 * Floors under a layer's time per micro-batch on a 2-D mesh from one 1-D solve, for
 * rejecting a micro-batch count before its 2-D meshes are priced, and pricing them only
 * when a stage plan picks them (pipeline.ts). The one-device floor (time-floors.ts)
 * ignores the network, so on meshes across hosts it sits at a tenth to a half of the
 * price; this one came within
 * 1-5% of it for GPT blocks on 8x8 V100, and a 2-D mesh's descent costs 3-10x its solve.
 *
 * The relaxation. Take any plan p on a mesh [A0, A1] and drop axis 1 (or, the same way
 * with the roles swapped, axis 0) from every layout and strategy (an axis given to a factor or a partial sum is simply not given): d(p) is
 * a plan of the 1-D mesh [A0] (an even split by A0·A1 is one by A0; enumerateStrategies
 * and legalSpecs list every such assignment). Under a cost model whose compute scales
 * down (CostModel.computeScalesDown), each device of d(p) does at most A1 times the
 * flops and bytes of each op of p, so at most A1 times its time. Each resharding step of
 * p maps to a step of d(p) (or to none: whatever moves over axis 1 alone), holding at
 * most A1 times the bytes: a value partial over both axes is split over neither, so an
 * all-reduce or reduce-scatter over both keeps its size; a gather over both ends in the
 * same whole; a permute whose block shapes differ once axis 1 is gone becomes an
 * all-to-all over axis 0. With axis 0's link taken at the least of its own and the flat
 * group's (β at most A1 times the flat β: a flat ring crosses each host's port once
 * where A1 rings of axis 0 share it; α also scaled so that A0 - 1 messages of an
 * all-to-all cost no more than A1 permutes' one), every such step costs at most A1 times
 * the step of p, ring, tree or hierarchical (an all-reduce's ring is a reduce-scatter
 * and an all-gather on the same group, and its slow-axis part moves the shard over the
 * same axis 0). The resharder's shortest path is no dearer than the mapped one. So
 *     time(d(p)) <= A1 · time(p),  hence  time(p) >= OPT([A0]) / A1
 * for every plan p, lean or fast, and at least the solve's proven bound / A1.
 *
 * What is bounded is the per-micro-batch time as the inter-op pass counts it: the
 * update's ops, parameters and the reshards whose consumer is one weigh 0 (a value read
 * by several ops is resharded once, before its first reader: when that reader runs once
 * per step, so does the reshard). The solve also charges resident bytes a tie-break
 * (MEMORY_TIE_BREAK), which the bound gives back whole.
 */
import type { CostModel } from '../../cost-models/cost-model.js';
import type { DeviceType } from '../../src/cluster/types.js';
import { type LogicalMesh } from '../../src/cluster/mesh.js';
import { dtypeBytes } from '../../src/ir/dtype.js';
import type { Graph } from '../../src/ir/types.js';
import type { DeviceMesh } from '../../src/sharding/mesh.js';
import type { Resharder } from '../../src/sharding/reshard.js';
import type { SolveOptions } from '../../src/solver/problem.js';
import { MEMORY_TIE_BREAK, type ValueRoles } from '../intra-op/build.js';
import { planIntraOp } from '../intra-op/plan.js';

/**
 * The 1-D mesh of one axis of a 2-D mesh (`keep`: 0, the major, or 1) with the links
 * above, and the size of the other, which its floor divides by; undefined unless both
 * axes have several devices. Either axis gives a bound: dropping the minor one keeps the
 * network and loses the links inside a host, dropping the major one the reverse.
 */
export function axisRelaxation(lm: LogicalMesh, keep: 0 | 1 = 0): { readonly mesh: LogicalMesh; readonly divisor: number } | undefined {
  const [major, minor] = lm.axes;
  const flat = major && minor ? lm.multiAxis[`${major.name},${minor.name}`] : undefined;
  if (lm.axes.length !== 2 || !major || !minor || !flat || major.size < 2 || minor.size < 2) return undefined;
  const [kept, dropped] = keep === 0 ? [major, minor] : [minor, major];
  const d = dropped.size;
  const link = {
    ...kept,
    alpha: Math.min(kept.alpha, flat.alpha) * Math.min(1, d / (kept.size - 1)),
    beta: Math.min(kept.beta, d * flat.beta),
    alltoallBeta: Math.min(kept.alltoallBeta, flat.alltoallBeta),
  };
  const strides = keep === 0 ? minor.size : 1;
  return { mesh: { shape: [kept.size], devices: Array.from({ length: kept.size }, (_, i) => lm.devices[i * strides] ?? 0), axes: [link], multiAxis: {} }, divisor: d };
}

// Per graph (immutable): asked for every layer on every relaxed mesh of every count.
const ceilings = new WeakMap<Graph, number>();
const stepNames = new WeakMap<Graph, { readonly perStep: ReadonlySet<string>; readonly names: Set<string> }>();

/** The most any plan of `g` can be charged for its resident bytes: every value whole, once. */
export function tieBreakCeiling(g: Graph): number {
  const known = ceilings.get(g);
  if (known !== undefined) return known;
  let bytes = 0;
  for (const t of g.types.values()) bytes += t.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1) * dtypeBytes(t.dtype);
  ceilings.set(g, bytes * MEMORY_TIE_BREAK);
  return bytes * MEMORY_TIE_BREAK;
}

/**
 * The names a per-micro-batch time leaves out: `perStep` (update ops, parameters), and
 * the values several ops read whose first reader is one of them (their shared reshard
 * runs once per step; intra-op/plan.ts names it after that reader).
 */
export function perStepNamesOf(g: Graph, perStep: ReadonlySet<string>): ReadonlySet<string> {
  const known = stepNames.get(g);
  if (known?.perStep === perStep) return known.names;
  const out = new Set(perStep);
  const readers = new Map<string, number>();
  const first = new Map<string, string>();
  for (const n of g.nodes) {
    for (const v of new Set(n.inputs)) {
      if (v === '' || g.constants.has(v)) continue;
      readers.set(v, (readers.get(v) ?? 0) + 1);
      if (!first.has(v)) first.set(v, n.name);
    }
  }
  for (const [v, count] of readers) if (count > 1 && perStep.has(first.get(v) ?? '')) out.add(v);
  stepNames.set(g, { perStep, names: out });
  return out;
}

/**
 * A proven lower bound on `g`'s time per micro-batch (the tie-break included) on the
 * relaxed 1-D mesh (an axisRelaxation's, as a DeviceMesh, with its resharder): one exact
 * solve, the update weighing 0; -Infinity when the solve proves nothing. Shared by every
 * 2-D mesh that relaxes to this one (see relaxedFloor). `perStep`: what runs once per
 * step (update ops, parameters).
 */
export async function relaxedBound(g: Graph, roles: ValueRoles, relaxed: { readonly mesh: DeviceMesh; readonly resharder: Resharder }, cost: CostModel, device: DeviceType, perStep: ReadonlySet<string>, solve: SolveOptions = {}): Promise<number> {
  const plan = await planIntraOp(g, roles, relaxed.mesh, cost, device, { ...solve, search: 'exact', stepWeight: { names: perStepNamesOf(g, perStep), weight: 0 }, resharder: relaxed.resharder, memoryBudget: Infinity });
  return plan.solution.status === 'infeasible' ? -Infinity : plan.solution.bound;
}

/** The floor of `g`'s time per micro-batch on every plan of the 2-D mesh: the relaxed bound / the dropped axis's size, less the tie-break. */
export function relaxedFloor(bound: number, divisor: number, g: Graph): number {
  return bound / divisor - tieBreakCeiling(g);
}
