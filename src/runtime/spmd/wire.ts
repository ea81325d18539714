/**
 * Host tensors as structured-cloneable objects that MPI's JSON wire also keeps
 * (collectives/mpi/wire.ts encodes Float32Array): float data travels as Float32Array
 * (a quarter of a JS number array's size), integers as numbers.
 */
import type { DType } from '../../ir/dtype.js';
import { type HostTensor, hostTensor } from '../../ir/host-tensor.js';

export interface WireTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | readonly number[];
}

export const toWireTensor = (t: HostTensor): WireTensor => ({ dtype: t.dtype, shape: [...t.shape], data: t.data instanceof Float32Array ? t.data : Array.from(t.data) });
export const fromWireTensor = (w: WireTensor): HostTensor => hostTensor(w.dtype, w.shape, w.data);
