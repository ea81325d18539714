/**
 * Sharding specs (the plan.json form, after Shardy/JAX): for each tensor dimension the
 * mesh axes that split it, major to minor, and the axes over which the value is an
 * unreduced partial sum. An axis in neither is one the value is replicated over.
 *
 * Written form (messages, tests): `[x*y, -]+z` is dimension 0 split by x then y (x
 * major: device (i, j) holds block i·|y| + j), dimension 1 whole, and a partial sum over
 * z. A scalar is `[]`.
 */
import { AutoparError } from '../errors.js';
import { axisSize, meshToString, type MeshShape } from './mesh.js';

export interface ShardingSpec {
  readonly dims: readonly (readonly string[])[];
  /** A set: order carries no meaning (`specEquals` ignores it). */
  readonly partial: readonly string[];
}

/** Whole on every device. */
export function replicated(rank: number): ShardingSpec {
  return { dims: Array.from({ length: rank }, () => []), partial: [] };
}

/** The product of the sizes of `axes` (1 for none); throws on an axis the mesh lacks. */
export function splitFactor(axes: readonly string[], mesh: MeshShape): number {
  let f = 1;
  for (const a of axes) {
    const s = axisSize(mesh, a);
    if (s === undefined) throw new AutoparError('E_INTERNAL', `${meshToString(mesh)} has no axis '${a}'`);
    f *= s;
  }
  return f;
}

/**
 * The shape each device holds. Assumes a legal spec (see verify.ts); an uneven split
 * still throws here rather than return a shape some devices would not have.
 */
export function shardShape(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape): number[] {
  checkRank(globalShape, spec);
  return globalShape.map((size, d) => size / evenSplit(globalShape, spec, mesh, d));
}

/** Bytes each device holds: shardShape's product, without making the shape (asked per strategy and value). */
export function shardBytes(globalShape: readonly number[], dtypeBytes: number, spec: ShardingSpec, mesh: MeshShape): number {
  checkRank(globalShape, spec);
  let bytes = dtypeBytes;
  for (let d = 0; d < globalShape.length; d++) bytes *= (globalShape[d] ?? 0) / evenSplit(globalShape, spec, mesh, d);
  return bytes;
}

function checkRank(globalShape: readonly number[], spec: ShardingSpec): void {
  if (spec.dims.length !== globalShape.length) {
    throw new AutoparError('E_INTERNAL', `sharding ${specToString(spec)} has rank ${spec.dims.length} but the shape [${globalShape.join(', ')}] has rank ${globalShape.length}`);
  }
}

/** How many ways `spec` splits dimension d, which must divide it. */
function evenSplit(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape, d: number): number {
  const size = globalShape[d] ?? 0;
  const f = splitFactor(spec.dims[d] ?? [], mesh);
  if (size % f !== 0) {
    throw new AutoparError('E_INTERNAL', `sharding ${specToString(spec)} splits dimension ${d} (size ${size}) of [${globalShape.join(', ')}] ${f} ways on ${meshToString(mesh)}; uneven splits are not supported`);
  }
  return f;
}

export function specToString(spec: ShardingSpec): string {
  const dims = spec.dims.map((axes) => (axes.length === 0 ? '-' : axes.join('*'))).join(', ');
  return `[${dims}]${spec.partial.map((a) => `+${a}`).join('')}`;
}

/** Reads the form `specToString` writes, e.g. `[x*y, -]+z`; whitespace is ignored. */
export function parseSpec(text: string): ShardingSpec {
  const s = text.replace(/\s+/g, '');
  const m = /^\[([^\]]*)\]((?:\+[A-Za-z_][A-Za-z0-9_]*)*)$/.exec(s);
  const bad = (why: string): never => {
    throw new AutoparError('E_USAGE', `cannot read sharding '${text}': ${why}; expected e.g. '[x*y, -]+z' (per dimension '-' or axes joined by '*', then '+axis' per partial axis)`);
  };
  if (!m) return bad('not of the form [dims]+partial');
  const body = m[1] ?? '';
  const dims = body === '' ? [] : body.split(',').map((d) => (d === '-' ? [] : d.split('*')));
  for (const axes of dims) for (const a of axes) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(a)) bad(`'${a}' is not an axis name`);
  const partial = (m[2] ?? '').split('+').filter((a) => a !== '');
  return { dims, partial };
}

export function specEquals(a: ShardingSpec, b: ShardingSpec): boolean {
  if (a.dims.length !== b.dims.length || a.partial.length !== b.partial.length) return false;
  for (let d = 0; d < a.dims.length; d++) {
    const x = a.dims[d] ?? [];
    const y = b.dims[d] ?? [];
    if (x.length !== y.length || x.some((axis, i) => axis !== y[i])) return false;
  }
  return a.partial.every((axis) => b.partial.includes(axis)) && b.partial.every((axis) => a.partial.includes(axis));
}

const keys = new WeakMap<ShardingSpec, string>();

/**
 * A string equal exactly for `specEquals` specs (partial sorted), for memo keys. Names
 * are length-prefixed, so the key is injective whatever they contain; the cache makes
 * repeated lookups of the same spec object (the planner's habit) a WeakMap hit.
 */
export function specKey(spec: ShardingSpec): string {
  let k = keys.get(spec);
  if (k !== undefined) return k;
  k = '';
  for (const axes of spec.dims) {
    k += '[';
    for (const a of axes) k += `${a.length}:${a}`;
    k += ']';
  }
  k += '+';
  const partial = spec.partial.length <= 1 ? spec.partial : [...spec.partial].sort();
  for (const a of partial) k += `${a.length}:${a}`;
  keys.set(spec, k);
  return k;
}
