/**
 * Small tensors held on the host: constants, folded shape arithmetic, weights read for
 * execution. Floating types of 32 bits or less are stored as Float32Array (so float32
 * arithmetic rounds like a device would); float64 and every integer/bool type as
 * Float64Array, which holds int64 shape values exactly up to 2^53 (ONNX's INT64_MAX
 * sentinels in Slice become 9.2e18, which clamps the same way).
 */
import { type DType, dtypeBytes } from './dtype.js';

export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function usesFloat32Storage(dt: DType): boolean {
  return dt === 'float32' || dt === 'float16' || dt === 'bfloat16';
}

export function hostTensor(dtype: DType, shape: readonly number[], values: ArrayLike<number>): HostTensor {
  const n = numel(shape);
  if (values.length !== n) throw new Error(`hostTensor: ${values.length} values for shape [${shape.join(',')}]`);
  const data = usesFloat32Storage(dtype) ? Float32Array.from(values) : Float64Array.from(values);
  if (dtype === 'bool') for (let i = 0; i < n; i++) data[i] = data[i] ? 1 : 0;
  return { dtype, shape: [...shape], data };
}

export function scalarOf(t: HostTensor): number {
  if (t.data.length !== 1) throw new Error(`expected a scalar, got shape [${t.shape.join(',')}]`);
  return t.data[0] ?? 0;
}

export function toNumbers(t: HostTensor): number[] {
  return Array.from(t.data);
}

function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  if (e === 0) return (s ? -1 : 1) * 2 ** -14 * (f / 1024);
  if (e === 0x1f) return f ? NaN : (s ? -1 : 1) * Infinity;
  return (s ? -1 : 1) * 2 ** (e - 15) * (1 + f / 1024);
}

/** Decodes raw little-endian bytes (ONNX raw_data, external data, reference files). */
export function hostFromBytes(dtype: DType, shape: readonly number[], bytes: Uint8Array): HostTensor {
  const n = numel(shape);
  const need = n * dtypeBytes(dtype);
  if (bytes.byteLength < need) {
    throw new Error(`${bytes.byteLength} bytes for ${dtype}[${shape.join(',')}] which needs ${need}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = usesFloat32Storage(dtype) ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    switch (dtype) {
      case 'float32': v = view.getFloat32(i * 4, true); break;
      case 'float64': v = view.getFloat64(i * 8, true); break;
      case 'float16': v = halfToFloat(view.getUint16(i * 2, true)); break;
      case 'bfloat16':
        // bfloat16 is the top half of a float32.
        v = new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0] ?? 0;
        break;
      case 'int8': v = view.getInt8(i); break;
      case 'uint8': v = view.getUint8(i); break;
      case 'bool': v = view.getUint8(i) ? 1 : 0; break;
      case 'int16': v = view.getInt16(i * 2, true); break;
      case 'uint16': v = view.getUint16(i * 2, true); break;
      case 'int32': v = view.getInt32(i * 4, true); break;
      case 'uint32': v = view.getUint32(i * 4, true); break;
      case 'int64': v = Number(view.getBigInt64(i * 8, true)); break;
      case 'uint64': v = Number(view.getBigUint64(i * 8, true)); break;
      case 'string': throw new Error('string tensors have no raw byte form');
    }
    out[i] = v;
  }
  return { dtype, shape: [...shape], data: out };
}

/** Encodes as raw little-endian bytes (for reference folders and weight shards). */
export function hostToBytes(t: HostTensor): Uint8Array {
  const n = t.data.length;
  const bytes = new Uint8Array(n * dtypeBytes(t.dtype));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    const v = t.data[i] ?? 0;
    switch (t.dtype) {
      case 'float32': view.setFloat32(i * 4, v, true); break;
      case 'float64': view.setFloat64(i * 8, v, true); break;
      case 'int64': view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true); break;
      case 'uint64': view.setBigUint64(i * 8, BigInt(Math.trunc(v)), true); break;
      case 'int32': view.setInt32(i * 4, v, true); break;
      case 'uint32': view.setUint32(i * 4, v, true); break;
      case 'int16': view.setInt16(i * 2, v, true); break;
      case 'uint16': view.setUint16(i * 2, v, true); break;
      case 'int8': view.setInt8(i, v); break;
      case 'uint8':
      case 'bool': view.setUint8(i, v); break;
      case 'float16':
      case 'bfloat16':
      case 'string':
        throw new Error(`writing ${t.dtype} tensors is not supported`);
    }
  }
  return bytes;
}
