/** One message per stage boundary, direction and micro-batch: the crossing values packed end to end as float32. */
import { AutoparError } from '../../errors.js';
import { type HostTensor, hostTensor, numel } from '../../ir/host-tensor.js';
import type { BoundaryValue } from './stage-split.js';

export function messageLength(values: readonly BoundaryValue[]): number {
  return values.reduce((s, v) => s + numel(v.shape), 0);
}

export function pack(values: readonly BoundaryValue[], env: ReadonlyMap<string, HostTensor>, what: string): Float32Array {
  const out = new Float32Array(messageLength(values));
  let off = 0;
  for (const v of values) {
    const t = env.get(v.name);
    if (!t) throw new AutoparError('E_INTERNAL', `${what}: '${v.name}' is not available to send`);
    // Integers and booleans crossing stages are small (indices, masks): exact in float32.
    out.set(t.data, off);
    off += t.data.length;
  }
  return out;
}

export function unpack(values: readonly BoundaryValue[], buf: Float32Array, env: Map<string, HostTensor>): void {
  let off = 0;
  for (const v of values) {
    const n = numel(v.shape);
    env.set(v.name, hostTensor(v.dtype, v.shape, buf.subarray(off, off + n)));
    off += n;
  }
}
