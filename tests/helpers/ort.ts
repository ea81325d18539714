/** onnxruntime-node as the independent reference: HostTensor in, HostTensor out. */
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../../src/ir/host-tensor.js';

export function toOrt(t: HostTensor): ort.Tensor {
  const dims = [...t.shape];
  switch (t.dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(t.data), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(t.data), dims);
    default:
      throw new Error(`no onnxruntime conversion for ${t.dtype}`);
  }
}

export function fromOrt(t: ort.Tensor): HostTensor {
  const data = t.data;
  const shape = t.dims.map(Number);
  if (data instanceof Float32Array) return { dtype: 'float32', shape, data: Float32Array.from(data) };
  if (data instanceof BigInt64Array) return { dtype: 'int64', shape, data: Float64Array.from(data, (v) => Number(v)) };
  throw new Error(`unexpected onnxruntime output type ${t.type}`);
}

/** Runs a model file (external data read beside it) unoptimised on one thread. */
export async function runOrt(file: string, feeds: ReadonlyMap<string, HostTensor>): Promise<Map<string, HostTensor>> {
  const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    const input: Record<string, ort.Tensor> = {};
    for (const [k, v] of feeds) input[k] = toOrt(v);
    const out = await session.run(input);
    return new Map(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
  } finally {
    await session.release();
  }
}
