/**
 * Which devices take part in a collective over some mesh axes, and in what order the
 * collective library sees them (sorted global ids) versus the order the sharding wants
 * (block index along the axes, first axis major). Where the two differ, the lowering
 * permutes chunks locally around the collective.
 */
import type { MeshShape } from '../../sharding/mesh.js';
import { blockIndex, meshCoords, meshPosition } from '../../sharding/host-shard.js';

export interface MeshGroup {
  /** Global device ids, sorted (the collective library's group). */
  readonly devices: readonly number[];
  /** Block index along the axes of each member, in `devices` order. */
  readonly blocks: readonly number[];
}

/** The devices that agree with mesh position `pos` on every axis but `axes`. */
export function groupOver(mesh: MeshShape, ids: readonly number[], pos: number, axes: readonly string[]): MeshGroup {
  const base = meshCoords(mesh, pos);
  const members: { id: number; block: number }[] = [];
  const sizes = axes.map((a) => mesh.axes.find((x) => x.name === a)?.size ?? 1);
  const total = sizes.reduce((p, s) => p * s, 1);
  for (let b = 0; b < total; b++) {
    const coords = new Map(base);
    let rest = b;
    for (let i = axes.length - 1; i >= 0; i--) {
      coords.set(axes[i] ?? '', rest % (sizes[i] ?? 1));
      rest = Math.floor(rest / (sizes[i] ?? 1));
    }
    const id = ids[meshPosition(mesh, coords)];
    if (id === undefined) throw new Error(`mesh position out of range for ${axes.join(',')}`);
    members.push({ id, block: blockIndex(axes, coords, mesh) });
  }
  members.sort((x, y) => x.id - y.id);
  return { devices: members.map((m) => m.id), blocks: members.map((m) => m.block) };
}

/** order[j] = the sorted position of the member whose block is j; undefined when that is the identity. */
export function gatheredOrder(g: MeshGroup): number[] | undefined {
  const order = g.blocks.map(() => 0);
  g.blocks.forEach((blk, i) => (order[blk] = i));
  return order.every((v, i) => v === i) ? undefined : order;
}

/** order[i] = the block the member at sorted position i must get; undefined when the identity. */
export function scatteredOrder(g: MeshGroup): number[] | undefined {
  return g.blocks.every((b, i) => b === i) ? undefined : [...g.blocks];
}
