/**
 * Mesh axes a model cannot use. A split is even or absent (sharding/enumerate.ts,
 * intra-op/strategies.ts), so an axis of size k shards nothing when k divides no
 * dimension of any value (a split over several axes needs their product to divide):
 * every plan leaves it idle, each slice along it holding the same copy and doing the
 * same work. On 8x8 V100 with a GPT of power-of-two sizes that is every stage of 3, 5,
 * 6 or 7 hosts (16 of the 35 candidate meshes): their layer plans are those of the mesh
 * without the idle axes, which the inter-op pass has already priced.
 */
import { logicalMesh, type LogicalMesh } from '../../src/cluster/mesh.js';
import type { GroupLink } from '../../src/cluster/links.js';
import type { Cluster } from '../../src/cluster/types.js';
import type { Graph } from '../../src/ir/types.js';

/** Every dimension size of every value of `g` but its constants (which are never split: build.ts). */
export function dimensionSizes(g: Graph): Set<number> {
  const sizes = new Set<number>();
  for (const [v, t] of g.types) if (!g.constants.has(v)) for (const d of t.shape) if (typeof d === 'number') sizes.add(d);
  return sizes;
}

/**
 * The mesh without its idle axes (on the devices where those axes' index is 0), when it
 * has any and the axes kept have the same links there; else undefined. A mesh with no
 * usable axis becomes one device.
 */
export function withoutIdleAxes(cluster: Cluster, lm: LogicalMesh, sizes: ReadonlySet<number>): LogicalMesh | undefined {
  const usable = (k: number): boolean => k > 1 && [...sizes].some((d) => d % k === 0);
  const keep = lm.axes.map((a, i) => (usable(a.size) ? i : -1)).filter((i) => i >= 0);
  if (keep.length === lm.axes.length) return undefined;
  const first = lm.devices[0];
  if (first === undefined) return undefined;
  if (keep.length === 0) return logicalMesh(cluster, [1], [first]);
  // Row-major device ids: keep those whose index along every idle axis is 0.
  const strides = lm.shape.map((_, i) => lm.shape.slice(i + 1).reduce((p, s) => p * s, 1));
  const devices = lm.devices.filter((_, id) => lm.shape.every((size, i) => keep.includes(i) || Math.floor(id / (strides[i] ?? 1)) % size === 0));
  const reduced = logicalMesh(cluster, keep.map((i) => lm.shape[i] ?? 1), devices);
  // Same links on the axes kept (and their combinations), else the problems differ.
  const sameLink = (a: GroupLink | undefined, b: GroupLink | undefined): boolean =>
    a !== undefined && b !== undefined && a.size === b.size && a.alpha === b.alpha && a.beta === b.beta && a.alltoallBeta === b.alltoallBeta && a.link === b.link && a.hosts === b.hosts && a.devicesPerHost === b.devicesPerHost && a.sharedNic === b.sharedNic;
  const axesSame = keep.every((i, j) => sameLink(lm.axes[i], reduced.axes[j]));
  const oldName = (j: number): string => lm.axes[keep[j] ?? -1]?.name ?? '?';
  const multiSame = Object.entries(reduced.multiAxis).every(([names, link]) => {
    const old = names.split(',').map((n) => oldName(reduced.axes.findIndex((a) => a.name === n))).join(',');
    return sameLink(link, lm.multiAxis[old]);
  });
  return axesSame && multiSame ? reduced : undefined;
}
