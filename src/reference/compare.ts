/** Tensor comparison as the reference README defines it: max|got-want| / max|want| over one tensor. */
import type { HostTensor } from '../ir/host-tensor.js';

export interface TensorError {
  readonly maxAbsError: number;
  readonly maxRelError: number;
}

export function compareTensors(got: HostTensor, want: HostTensor): TensorError {
  if (got.data.length !== want.data.length) {
    throw new Error(`cannot compare [${got.shape.join(',')}] with [${want.shape.join(',')}]`);
  }
  let maxAbs = 0;
  let maxWant = 0;
  for (let i = 0; i < want.data.length; i++) {
    const w = want.data[i] ?? 0;
    const d = Math.abs((got.data[i] ?? 0) - w);
    // NaN anywhere must fail the comparison, not vanish in Math.max.
    if (Number.isNaN(d)) return { maxAbsError: NaN, maxRelError: NaN };
    if (d > maxAbs) maxAbs = d;
    if (Math.abs(w) > maxWant) maxWant = Math.abs(w);
  }
  return { maxAbsError: maxAbs, maxRelError: maxWant === 0 ? maxAbs : maxAbs / maxWant };
}
