/**
 * The device mesh a sharding refers to: named axes with sizes, major to minor, and the
 * communication group (α-β per axis and flat) of a collective over any set of them.
 * Specs and the verifier only need the names and sizes (`MeshShape`); resharding also
 * needs `group` to price collectives through the cost model.
 */
import type { AxisLink } from '../cluster/links.js';
import { commGroup, type CommGroup, type LogicalMesh } from '../cluster/mesh.js';
import { AutoparError } from '../errors.js';

export interface MeshAxisShape {
  readonly name: string;
  readonly size: number;
}

/** What specs and the verifier need of a mesh; a `LogicalMesh` has this shape too. */
export interface MeshShape {
  readonly axes: readonly MeshAxisShape[];
}

export interface DeviceMesh extends MeshShape {
  /** The group of a collective over `axes` (names; any order), for `CostModel.collective`. */
  group(axes: readonly string[]): CommGroup;
}

/** One axis of a mesh built without a cluster: its size and the α-β of one collective step along it. */
export interface MeshAxisLink extends MeshAxisShape {
  readonly alpha: number;
  readonly beta: number;
  /** Seconds per byte for all-to-all; default `beta`. */
  readonly alltoallBeta?: number;
}

/** Axis names are identifiers so that `specToString` / `parseSpec` round-trip and memo keys stay unambiguous. */
const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkAxes(axes: readonly MeshAxisShape[]): void {
  const seen = new Set<string>();
  for (const a of axes) {
    if (!AXIS_NAME.test(a.name)) throw new AutoparError('E_INTERNAL', `mesh axis name '${a.name}' is not an identifier (letters, digits, '_')`);
    if (seen.has(a.name)) throw new AutoparError('E_INTERNAL', `mesh axis '${a.name}' is listed twice`);
    if (!Number.isInteger(a.size) || a.size < 1) throw new AutoparError('E_INTERNAL', `mesh axis '${a.name}' has size ${a.size}; expected a positive integer`);
    seen.add(a.name);
  }
}

/** A mesh from a cluster's logical mesh: its axes, and groups with the cluster's own flat α-β. */
export function meshFromLogical(mesh: LogicalMesh): DeviceMesh {
  const axes = mesh.axes.map((a): MeshAxisShape => ({ name: a.name, size: a.size }));
  checkAxes(axes);
  const cache = new Map<string, CommGroup>();
  return {
    axes,
    group(names) {
      const key = names.join(',');
      let g = cache.get(key);
      if (!g) {
        g = commGroup(mesh, names);
        cache.set(key, g);
      }
      return g;
    },
  };
}

/**
 * A mesh with given per-axis links and no cluster behind it (tests, benchmarks, what-if
 * planning). A flat group over several axes gets the slowest α and β of its axes: a ring
 * over them is as fast as its slowest hop, which is what a uniform network gives.
 */
export function deviceMesh(axes: readonly MeshAxisLink[]): DeviceMesh {
  checkAxes(axes);
  const links = new Map<string, AxisLink>(
    axes.map((a) => [a.name, { size: a.size, alpha: a.alpha, beta: a.beta, alltoallBeta: a.alltoallBeta ?? a.beta }]),
  );
  const cache = new Map<string, CommGroup>();
  const shape: MeshShape = { axes: axes.map((a) => ({ name: a.name, size: a.size })) };
  return {
    axes: shape.axes,
    group(names) {
      const key = names.join(',');
      let g = cache.get(key);
      if (g) return g;
      if (new Set(names).size !== names.length) throw new AutoparError('E_INTERNAL', `axis listed twice in [${names.join(', ')}]`);
      const parts = names.map((n) => {
        const l = links.get(n);
        if (!l) throw new AutoparError('E_INTERNAL', `${meshToString(shape)} has no axis '${n}'`);
        return l;
      });
      const [only] = parts;
      const flat: AxisLink =
        parts.length === 1 && only
          ? only
          : {
              size: parts.reduce((p, l) => p * l.size, 1),
              alpha: Math.max(0, ...parts.map((l) => l.alpha)),
              beta: Math.max(0, ...parts.map((l) => l.beta)),
              alltoallBeta: Math.max(0, ...parts.map((l) => l.alltoallBeta)),
            };
      g = { axes: parts, flat };
      cache.set(key, g);
      return g;
    },
  };
}

/** `mesh(x=2, y=4)`, for messages. */
export function meshToString(mesh: MeshShape): string {
  return `mesh(${mesh.axes.map((a) => `${a.name}=${a.size}`).join(', ')})`;
}

export function axisSize(mesh: MeshShape, name: string): number | undefined {
  return mesh.axes.find((a) => a.name === name)?.size;
}
