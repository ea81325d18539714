/**
 * The sharding verifier: a spec is legal for a tensor on a mesh when its rank matches,
 * its axes exist and each is used at most once (in all dims and partial together), and
 * every split divides its dimension. Uneven splits are rejected, not padded: the planner
 * only generates even ones, so an uneven spec is a planner bug (E_INTERNAL) or a user
 * pin that cannot be honoured (E_USAGE); the caller says which.
 */
import { AutoparError } from '../errors.js';
import { axisSize, meshToString, type MeshShape } from './mesh.js';
import { specToString, type ShardingSpec } from './spec.js';

export interface VerifyContext {
  /** The value's name, for the message (e.g. an ONNX value or parameter name). */
  readonly value: string;
  /** 'E_INTERNAL' for specs the planner made, 'E_USAGE' for specs the user pinned. */
  readonly code: 'E_INTERNAL' | 'E_USAGE';
}

/** Why the spec is illegal, or undefined when it is legal. */
export function shardingProblem(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape): string | undefined {
  for (const [d, size] of globalShape.entries()) {
    if (!Number.isInteger(size) || size < 0) return `dimension ${d} has size ${size}; a sharded tensor needs a concrete non-negative shape`;
  }
  if (spec.dims.length !== globalShape.length) return `the spec has ${spec.dims.length} dimension(s) but the value has rank ${globalShape.length}`;
  const uses = new Map<string, string>();
  const use = (axis: string, where: string): string | undefined => {
    if (axisSize(mesh, axis) === undefined) return `axis '${axis}' (${where}) is not an axis of the mesh (axes: ${mesh.axes.map((a) => a.name).join(', ') || 'none'})`;
    const before = uses.get(axis);
    if (before !== undefined) return `axis '${axis}' is used twice (${before} and ${where}); each mesh axis may appear once`;
    uses.set(axis, where);
    return undefined;
  };
  for (const [d, axes] of spec.dims.entries()) {
    for (const axis of axes) {
      const p = use(axis, `dimension ${d}`);
      if (p) return p;
    }
  }
  for (const axis of spec.partial) {
    const p = use(axis, 'partial');
    if (p) return p;
  }
  for (const [d, axes] of spec.dims.entries()) {
    const ways = axes.reduce((f, a) => f * (axisSize(mesh, a) ?? 1), 1);
    const size = globalShape[d] ?? 0;
    if (size % ways !== 0) {
      return `dimension ${d} (size ${size}) is split ${ways} ways by ${axes.join('*')}, which does not divide it; uneven splits are rejected (the planner only generates even splits)`;
    }
  }
  return undefined;
}

/** Throws an AutoparError (code from `context`) naming the value, its shape, the spec and the mesh. */
export function verifySharding(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape, context: VerifyContext): void {
  const problem = shardingProblem(globalShape, spec, mesh);
  if (problem === undefined) return;
  const who = context.code === 'E_INTERNAL' ? ' (a planner bug: it produced this sharding)' : '';
  throw new AutoparError(
    context.code,
    `sharding of '${context.value}' (shape [${globalShape.join(', ')}]) as ${specToString(spec)} on ${meshToString(mesh)}: ${problem}${who}`,
  );
}

export function isLegalSharding(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape): boolean {
  return shardingProblem(globalShape, spec, mesh) === undefined;
}
