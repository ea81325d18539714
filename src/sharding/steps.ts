/**
 * The moves of resharding: what one step does to a spec, and every step possible from a
 * spec. Each step changes the axes it names and nothing else. A dimension's axes are
 * major to minor, and only the minor end of a list can grow or shrink without moving
 * data between devices out of order, so collectives act on suffixes:
 *
 * - all-reduce      partial over A → replicated over A
 * - reduce-scatter  partial over A → A appended (minor) to dimension d
 * - all-gather      a suffix A of dimension d → replicated over A
 * - all-to-all      a suffix A of dimension d → appended to dimension e
 * - permute         any layout with the same block shape (same split count per dimension,
 *                   same partial axes): each device sends its block to one other device
 *                   (an axis changing dimension or major/minor order, e.g. [x*y] → [y*x])
 * - local-slice     replicated over a → a appended to dimension d (keep one's own block)
 * - local-partial   replicated over a, or a suffix axis a of dimension d → partial over a
 *                   (keep one's block, zeros elsewhere: the sum over a is the value)
 *
 * A may be several axes: one collective over their group, priced by the cost model as a
 * flat ring/tree or hierarchically, whichever is faster. Since slices and partial marks
 * are free, single axes suffice for them.
 */
import type { CollectiveKind } from '../../cost-models/types.js';
import type { MeshShape } from './mesh.js';
import type { ShardingSpec } from './spec.js';

export type StepKind = 'all-reduce' | 'reduce-scatter' | 'all-gather' | 'all-to-all' | 'permute' | 'local-slice' | 'local-partial';

/** A step before pricing: what it does, and what part of the tensor its `bytes` count. */
export interface StepMove {
  readonly kind: StepKind;
  /** The axes it communicates over or changes, in the order they are appended where that matters. */
  readonly axes: readonly string[];
  /** The dimension split (reduce-scatter, local-slice), gathered (all-gather), left (all-to-all) or unpadded (local-partial); -1 for none. */
  readonly dim: number;
  /** The dimension an all-to-all splits; -1 otherwise. */
  readonly toDim: number;
  /** The spec after the step (partial axes in mesh order). */
  readonly spec: ShardingSpec;
  /**
   * The step's nccl-tests `bytes` are the tensor's global bytes / `divisor` (the split
   * count of the buffer it counts); local steps count no bytes whatever this says.
   */
  readonly divisor: number;
}

/** The cost-model collective a step runs, or undefined for a local step. */
export function collectiveOf(kind: StepKind): CollectiveKind | undefined {
  switch (kind) {
    case 'all-reduce':
    case 'reduce-scatter':
    case 'all-gather':
    case 'all-to-all':
      return kind;
    case 'permute':
      // Every device sends its block to one peer at the same time (XLA's collective-permute).
      return 'send';
    case 'local-slice':
    case 'local-partial':
      return undefined;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** The nccl-tests bytes of a move on a tensor of `globalBytes`. */
export function moveBytes(move: StepMove, globalBytes: number): number {
  return collectiveOf(move.kind) === undefined ? 0 : globalBytes / move.divisor;
}

/** How many blocks `spec` cuts the tensor into: global size / local size. */
export function splitCount(spec: ShardingSpec, sizes: ReadonlyMap<string, number>): number {
  let f = 1;
  for (const axes of spec.dims) for (const a of axes) f *= sizes.get(a) ?? 1;
  return f;
}

function product(axes: readonly string[], sizes: ReadonlyMap<string, number>): number {
  let f = 1;
  for (const a of axes) f *= sizes.get(a) ?? 1;
  return f;
}

/** Non-empty subsets of `items`, each in the order of `items`. */
function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => mask & (1 << i)));
  return out;
}

/** All orderings of `items`. */
function orderings<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) => orderings([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

function withDims(spec: ShardingSpec, changes: ReadonlyMap<number, readonly string[]>, partial: readonly string[]): ShardingSpec {
  return { dims: spec.dims.map((axes, d) => changes.get(d) ?? axes), partial };
}

/**
 * Every single step from a legal `spec` except permutes (which need the set of all specs,
 * see `permuteMoves`). Results are legal: splits that would not divide are left out.
 */
export function stepMoves(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape): StepMove[] {
  const sizes = new Map(mesh.axes.map((a) => [a.name, a.size]));
  const meshOrder = (axes: readonly string[]): string[] => mesh.axes.map((a) => a.name).filter((n) => axes.includes(n));
  const blocks = splitCount(spec, sizes);
  const used = new Set([...spec.dims.flat(), ...spec.partial]);
  const unused = mesh.axes.map((a) => a.name).filter((n) => !used.has(n));
  const divides = (d: number, axes: readonly string[]): boolean => (globalShape[d] ?? 0) % product(axes, sizes) === 0;
  const moves: StepMove[] = [];
  const rank = spec.dims.length;

  for (const group of subsets(meshOrder(spec.partial))) {
    const rest = meshOrder(spec.partial.filter((a) => !group.includes(a)));
    moves.push({ kind: 'all-reduce', axes: group, dim: -1, toDim: -1, spec: withDims(spec, new Map(), rest), divisor: blocks });
    for (const order of orderings(group)) {
      for (let d = 0; d < rank; d++) {
        const next = [...(spec.dims[d] ?? []), ...order];
        if (!divides(d, next)) continue;
        moves.push({ kind: 'reduce-scatter', axes: order, dim: d, toDim: -1, spec: withDims(spec, new Map([[d, next]]), rest), divisor: blocks });
      }
    }
  }

  for (let d = 0; d < rank; d++) {
    const axes = spec.dims[d] ?? [];
    for (let cut = 0; cut < axes.length; cut++) {
      const keep = axes.slice(0, cut);
      const suffix = axes.slice(cut);
      moves.push({ kind: 'all-gather', axes: suffix, dim: d, toDim: -1, spec: withDims(spec, new Map([[d, keep]]), spec.partial), divisor: blocks / product(suffix, sizes) });
      for (let e = 0; e < rank; e++) {
        if (e === d) continue;
        const grown = [...(spec.dims[e] ?? []), ...suffix];
        if (!divides(e, grown)) continue;
        const changes = new Map([
          [d, keep],
          [e, grown],
        ]);
        moves.push({ kind: 'all-to-all', axes: suffix, dim: d, toDim: e, spec: withDims(spec, changes, spec.partial), divisor: blocks });
      }
    }
    const last = axes[axes.length - 1];
    if (last !== undefined) {
      const partial = meshOrder([...spec.partial, last]);
      moves.push({ kind: 'local-partial', axes: [last], dim: d, toDim: -1, spec: withDims(spec, new Map([[d, axes.slice(0, -1)]]), partial), divisor: blocks });
    }
  }

  for (const a of unused) {
    moves.push({ kind: 'local-partial', axes: [a], dim: -1, toDim: -1, spec: withDims(spec, new Map(), meshOrder([...spec.partial, a])), divisor: blocks });
    for (let d = 0; d < rank; d++) {
      const next = [...(spec.dims[d] ?? []), a];
      if (!divides(d, next)) continue;
      moves.push({ kind: 'local-slice', axes: [a], dim: d, toDim: -1, spec: withDims(spec, new Map([[d, next]]), spec.partial), divisor: blocks });
    }
  }
  return moves;
}

/** Where an axis sits in a spec: its dimension and the block stride it contributes (product of the sizes minor to it). */
function roles(spec: ShardingSpec, sizes: ReadonlyMap<string, number>): Map<string, string> {
  const out = new Map<string, string>();
  spec.dims.forEach((axes, d) => {
    let stride = 1;
    for (let i = axes.length - 1; i >= 0; i--) {
      const a = axes[i];
      if (a === undefined) continue;
      out.set(a, `${d}/${stride}`);
      stride *= sizes.get(a) ?? 1;
    }
  });
  return out;
}

/**
 * The key of a spec's permutation class: specs with equal keys cut the tensor into the
 * same blocks (same split count per dimension) with the same partial axes, so one
 * exchange of whole blocks turns one into the other.
 */
export function permuteClass(spec: ShardingSpec, mesh: MeshShape): string {
  const sizes = new Map(mesh.axes.map((a) => [a.name, a.size]));
  const partial = mesh.axes.map((a) => a.name).filter((n) => spec.partial.includes(n));
  return `${spec.dims.map((axes) => product(axes, sizes)).join(',')}+${partial.join('+')}`;
}

/**
 * The permute from `from` to `to` (same permutation class, different specs). Its axes
 * are those whose coordinate no longer picks the same part of the block index; devices
 * that agree on every other axis exchange among themselves.
 */
export function permuteMove(from: ShardingSpec, to: ShardingSpec, mesh: MeshShape): StepMove {
  const sizes = new Map(mesh.axes.map((a) => [a.name, a.size]));
  const before = roles(from, sizes);
  const after = roles(to, sizes);
  const axes = mesh.axes.map((a) => a.name).filter((n) => (before.has(n) || after.has(n)) && before.get(n) !== after.get(n));
  return { kind: 'permute', axes, dim: -1, toDim: -1, spec: to, divisor: splitCount(from, sizes) };
}
