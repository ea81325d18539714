/**
 * Logical meshes: a set of devices viewed as a 1-, 2- or 3-D array with named axes,
 * laid out row-major over the devices in the order given (host-major by default), so
 * the last axis is the innermost: `[hosts, devicesPerHost]` puts axis x across hosts
 * and axis y inside them. Each axis gets α-β from the links its groups use (links.ts).
 */
import { AutoparError } from '../errors.js';
import { groupLink, type AxisLink, type GroupLink } from './links.js';
import type { Cluster } from './types.js';

export const AXIS_NAMES = ['x', 'y', 'z'] as const;

export interface MeshAxis extends GroupLink {
  readonly name: string;
}

/** A collective over one or several mesh axes: the axes one by one, and all of them as one flat group. */
export interface CommGroup {
  readonly axes: readonly AxisLink[];
  readonly flat: AxisLink;
}

export interface LogicalMesh {
  readonly shape: readonly number[];
  /** Device ids, row-major over `shape`. */
  readonly devices: readonly number[];
  readonly axes: readonly MeshAxis[];
  /** α-β of flat groups over two or more axes, keyed by axis names joined with ','. */
  readonly multiAxis: Readonly<Record<string, GroupLink>>;
}

/** All shapes of `n` devices with 1, 2 or 3 axes of size > 1 (just [n] for n = 1). */
export function meshShapes(n: number): number[][] {
  if (!Number.isInteger(n) || n < 1) throw new AutoparError('E_INTERNAL', `mesh size must be a positive integer, got ${n}`);
  const shapes: number[][] = [[n]];
  const divisors = (m: number): number[] => Array.from({ length: m }, (_, i) => i + 1).filter((d) => d > 1 && d < m && m % d === 0);
  for (const a of divisors(n)) shapes.push([a, n / a]);
  for (const a of divisors(n)) for (const b of divisors(n / a)) shapes.push([a, b, n / a / b]);
  return shapes;
}

/** The groups of devices that differ only along `axes` (the others fixed). */
export function axisGroups(shape: readonly number[], devices: readonly number[], axes: readonly number[]): number[][] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, s) => p * s, 1));
  const groups = new Map<number, number[]>();
  devices.forEach((device, index) => {
    let key = 0;
    shape.forEach((size, axis) => {
      if (!axes.includes(axis)) key = key * size + (Math.floor(index / (strides[axis] ?? 1)) % size);
    });
    const g = groups.get(key);
    if (g) g.push(device);
    else groups.set(key, [device]);
  });
  return [...groups.values()];
}

function subsets(n: number): number[][] {
  const out: number[][] = [];
  for (let mask = 1; mask < 1 << n; mask++) {
    const s = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i));
    if (s.length >= 2) out.push(s);
  }
  return out;
}

/** One logical mesh of the given shape over `devices` (default: all, host-major). */
export function logicalMesh(cluster: Cluster, shape: readonly number[], devices?: readonly number[]): LogicalMesh {
  const ids = devices ?? cluster.devices.map((d) => d.id);
  const total = shape.reduce((p, s) => p * s, 1);
  if (shape.length < 1 || shape.length > AXIS_NAMES.length || total !== ids.length) {
    throw new AutoparError('E_CLUSTER', `a mesh of shape [${shape.join(', ')}] does not fit ${ids.length} devices (1 to 3 axes whose product is the device count)`);
  }
  if (new Set(ids).size !== ids.length) throw new AutoparError('E_CLUSTER', 'a mesh cannot use a device twice');
  const names = AXIS_NAMES.slice(0, shape.length);
  const axes = shape.map((size, i): MeshAxis => ({ name: names[i] ?? `a${i}`, ...groupLink(cluster, axisGroups(shape, ids, [i])) }));
  const multiAxis: Record<string, GroupLink> = {};
  for (const s of subsets(shape.length)) multiAxis[s.map((i) => names[i]).join(',')] = groupLink(cluster, axisGroups(shape, ids, s));
  return { shape: [...shape], devices: ids, axes, multiAxis };
}

/** Every 1-, 2- and 3-D logical mesh of `devices` (default: the whole cluster). */
export function logicalMeshes(cluster: Cluster, devices?: readonly number[]): LogicalMesh[] {
  const ids = devices ?? cluster.devices.map((d) => d.id);
  return meshShapes(ids.length).map((shape) => logicalMesh(cluster, shape, ids));
}

/** The group a collective over `axisNames` of `mesh` runs on, for the cost model. */
export function commGroup(mesh: LogicalMesh, axisNames: readonly string[]): CommGroup {
  const axes = axisNames.map((n) => {
    const a = mesh.axes.find((x) => x.name === n);
    if (!a) throw new AutoparError('E_INTERNAL', `mesh [${mesh.shape.join(', ')}] has no axis '${n}' (axes: ${mesh.axes.map((x) => x.name).join(', ')})`);
    return a;
  });
  if (new Set(axisNames).size !== axisNames.length) throw new AutoparError('E_INTERNAL', `axis listed twice in [${axisNames.join(', ')}]`);
  const [only] = axes;
  if (axes.length === 1 && only) return { axes, flat: only };
  if (axes.length === 0) return { axes, flat: { size: 1, alpha: 0, beta: 0, alltoallBeta: 0 } };
  const key = mesh.axes.filter((a) => axisNames.includes(a.name)).map((a) => a.name).join(',');
  const flat = mesh.multiAxis[key];
  if (!flat) throw new AutoparError('E_INTERNAL', `no flat group for axes ${key}`);
  return { axes, flat };
}
