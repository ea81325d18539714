/** Host tensors to tfjs tensors and back. tfjs has no int64: integers travel as int32. */
import type { DType } from '../ir/dtype.js';
import { type HostTensor, usesFloat32Storage } from '../ir/host-tensor.js';
import { tf } from './backend.js';

export type TfDType = 'float32' | 'int32' | 'bool';

export function tfDtype(dt: DType): TfDType {
  if (dt === 'bool') return 'bool';
  if (dt === 'float32' || dt === 'float16' || dt === 'bfloat16' || dt === 'float64') return 'float32';
  return 'int32';
}

export function toTf(t: HostTensor): tf.Tensor {
  const dt = tfDtype(t.dtype);
  const shape = [...t.shape];
  if (dt === 'float32') return tf.tensor(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), shape, 'float32');
  if (dt === 'bool') return tf.tensor(Uint8Array.from(t.data, (v) => (v ? 1 : 0)), shape, 'bool');
  // Saturate int64 sentinels (INT64_MAX in Slice ends) into int32's range.
  return tf.tensor(Int32Array.from(t.data, (v) => Math.max(-2147483648, Math.min(2147483647, v))), shape, 'int32');
}

export function fromTf(x: tf.Tensor, dtype: DType): HostTensor {
  const raw = x.dataSync();
  const data = usesFloat32Storage(dtype) ? (raw instanceof Float32Array ? raw.slice() : Float32Array.from(raw)) : Float64Array.from(raw);
  return { dtype, shape: [...x.shape], data };
}
