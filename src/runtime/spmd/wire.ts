/** Host tensors as plain JSON-able objects: MPI ranks return results as JSON files. */
import type { DType } from '../../ir/dtype.js';
import { type HostTensor, hostTensor } from '../../ir/host-tensor.js';

export interface WireTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export const toWireTensor = (t: HostTensor): WireTensor => ({ dtype: t.dtype, shape: [...t.shape], data: Array.from(t.data) });
export const fromWireTensor = (w: WireTensor): HostTensor => hostTensor(w.dtype, w.shape, w.data);
