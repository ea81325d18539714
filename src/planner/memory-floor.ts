/**
 * The least memory per device any layout can reach on a mesh: every resident value
 * (parameters, optimizer states, gradients, saved activations) at its most sharded
 * legal layout. What "does not fit" error messages quote.
 */
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
