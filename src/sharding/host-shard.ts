/**
 * Device coordinates on a mesh and host-side slicing by a spec: a device's block of a
 * global tensor (weights, inputs, constants) and the inverse, a global tensor put back
 * together from every device's block (summing partial axes), to check runs against one
 * device. Devices are numbered row-major over the mesh axes (the first axis major).
 */
import { type HostTensor, hostTensor, numel } from '../ir/host-tensor.js';
import type { MeshShape } from './mesh.js';
import { shardShape, type ShardingSpec } from './spec.js';

/** Coordinates of mesh position `pos` (row-major), by axis name. */
export function meshCoords(mesh: MeshShape, pos: number): Map<string, number> {
  const out = new Map<string, number>();
  let rest = pos;
  for (let a = mesh.axes.length - 1; a >= 0; a--) {
    const ax = mesh.axes[a];
    if (!ax) continue;
    out.set(ax.name, rest % ax.size);
    rest = Math.floor(rest / ax.size);
  }
  return out;
}

/** Mesh position of coordinates (inverse of meshCoords). */
export function meshPosition(mesh: MeshShape, coords: ReadonlyMap<string, number>): number {
  let pos = 0;
  for (const ax of mesh.axes) pos = pos * ax.size + (coords.get(ax.name) ?? 0);
  return pos;
}

/** Block index of a device along a list of axes, the first major. */
export function blockIndex(axes: readonly string[], coords: ReadonlyMap<string, number>, mesh: MeshShape): number {
  let b = 0;
  for (const a of axes) b = b * (mesh.axes.find((x) => x.name === a)?.size ?? 1) + (coords.get(a) ?? 0);
  return b;
}

/** The element offset of each dimension's block for the device at `coords`. */
export function blockStarts(globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape, coords: ReadonlyMap<string, number>): number[] {
  const local = shardShape(globalShape, spec, mesh);
  return local.map((size, d) => size * blockIndex(spec.dims[d] ?? [], coords, mesh));
}

/** Copies the box [starts, starts + shape) of `t` (row-major) into a new tensor. */
export function sliceBox(t: HostTensor, starts: readonly number[], shape: readonly number[]): HostTensor {
  const rank = t.shape.length;
  const out = new (t.data instanceof Float32Array ? Float32Array : Float64Array)(numel(shape));
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = (strides[d + 1] ?? 1) * (t.shape[d + 1] ?? 1);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < out.length; i++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += ((starts[d] ?? 0) + (idx[d] ?? 0)) * (strides[d] ?? 1);
    out[i] = t.data[off] ?? 0;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] ?? 0) + 1;
      if ((idx[d] ?? 0) < (shape[d] ?? 1)) break;
      idx[d] = 0;
    }
  }
  return { dtype: t.dtype, shape: [...shape], data: out };
}

/** The block of `t` the device at `coords` holds under `spec` (partial axes: the value at coordinate 0, zeros elsewhere). */
export function shardOf(t: HostTensor, spec: ShardingSpec, mesh: MeshShape, coords: ReadonlyMap<string, number>): HostTensor {
  const shape = shardShape(t.shape, spec, mesh);
  const block = sliceBox(t, blockStarts(t.shape, spec, mesh, coords), shape);
  if (spec.partial.some((a) => (coords.get(a) ?? 0) !== 0)) return hostTensor(t.dtype, shape, new Float64Array(numel(shape)));
  return block;
}

/**
 * The global tensor from every device's block: blocks placed by their coordinates, and
 * summed over the partial axes (each block counted once per partial combination, not
 * per replica of the replicated axes).
 */
export function assemble(blocks: readonly HostTensor[], globalShape: readonly number[], spec: ShardingSpec, mesh: MeshShape): HostTensor {
  const rank = globalShape.length;
  const out = new Float64Array(numel(globalShape));
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = (strides[d + 1] ?? 1) * (globalShape[d + 1] ?? 1);
  const used = new Set([...spec.dims.flat(), ...spec.partial]);
  blocks.forEach((b, pos) => {
    const coords = meshCoords(mesh, pos);
    // One replica per block: devices at coordinate 0 of every axis the spec leaves replicated.
    if (mesh.axes.some((a) => !used.has(a.name) && (coords.get(a.name) ?? 0) !== 0)) return;
    const starts = blockStarts(globalShape, spec, mesh, coords);
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < b.data.length; i++) {
      let off = 0;
      for (let d = 0; d < rank; d++) off += ((starts[d] ?? 0) + (idx[d] ?? 0)) * (strides[d] ?? 1);
      out[off] = (out[off] ?? 0) + (b.data[i] ?? 0);
      for (let d = rank - 1; d >= 0; d--) {
        idx[d] = (idx[d] ?? 0) + 1;
        if ((idx[d] ?? 0) < (b.shape[d] ?? 1)) break;
        idx[d] = 0;
      }
    }
  });
  return hostTensor(blocks[0]?.dtype ?? 'float32', globalShape, out);
}
