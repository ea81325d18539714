/**
 * The least memory per device any layout can reach on a mesh: every resident value
 * (parameters, optimizer states, gradients, saved activations) at its most sharded
 * legal layout. What "does not fit" error messages quote.
 */
import type { DeviceType } from '../cluster/types.js';
import { bytesText } from '../explain/text.js';
import { dtypeBytes } from '../ir/dtype.js';
import { numel } from '../ir/host-tensor.js';
import type { Graph } from '../ir/types.js';
import type { ValueRoles } from '../../passes/intra-op/build.js';
import { legalSpecs } from '../sharding/enumerate.js';
import type { MeshShape } from '../sharding/mesh.js';
import { shardBytes } from '../sharding/spec.js';

export function minimumMemory(g: Graph, roles: ValueRoles, mesh: MeshShape): number {
  const values = new Set<string>([...g.initializers.keys(), ...g.inputs.map((i) => i.name), ...roles.resident]);
  let total = 0;
  for (const v of values) {
    const t = g.types.get(v);
    if (!t) continue;
    const shape = t.shape.map(Number);
    const b = dtypeBytes(t.dtype);
    let least = numel(shape) * b;
    // Only the number of devices a layout splits over matters here, so the shape of
    // the most-split legal spec is enough.
    for (const s of legalSpecs(shape, mesh)) if (s.partial.length === 0) least = Math.min(least, shardBytes(shape, b, s, mesh));
    total += least;
  }
  return total;
}

/**
 * The message of a model that fits nowhere on the cluster: by how much it is short and how
 * many devices would do. `floor` is minimumMemory on the cluster's devices; `needed` the
 * best layout's peak when the floor would fit (the strategy is what does not).
 */
export function doesNotFit(o: { readonly model: string; readonly strategy: string; readonly devices: number; readonly device: DeviceType; readonly floor: number; readonly needed: number | undefined }): string {
  const has = o.device.memoryBytes;
  const where = `${o.model} does not fit on ${o.devices} x ${o.device.name}`;
  if (o.needed !== undefined && o.needed > has) {
    return (
      `${where} with strategy ${o.strategy}: its best layout needs ${bytesText(o.needed)} per device and each has ${bytesText(has)} (short by ${bytesText(o.needed - has)}); ` +
      // More devices do not help a strategy that replicates, so the way out is a layout that shards more.
      `${o.strategy === 'auto' ? 'a' : 'strategy auto or zero3 (a'} layout sharding everything over all ${o.devices} devices would need ${bytesText(o.floor)} per device${o.strategy === 'auto' ? ' but the solver found none that fits' : ')'}; or a smaller batch, or --allow-oom to plan anyway`
    );
  }
  if (o.needed !== undefined || !(o.floor > has)) {
    return `${where} with strategy ${o.strategy}: no layout the solver found stays within the ${bytesText(has)} of each device (sharding everything would need ${bytesText(o.floor)} per device); try strategy auto or zero3, a smaller batch, or --allow-oom to plan anyway`;
  }
  return (
    `${where}: even sharding every parameter, optimizer state and activation over all ${o.devices} devices needs ${bytesText(o.floor)} per device, and each has ${bytesText(has)} (short by ${bytesText(o.floor - has)}); ` +
    `use about ${Math.ceil((o.devices * o.floor) / has)} devices, a smaller batch, or --allow-oom to plan anyway`
  );
}
