/** ONNX TensorProto to the IR: inline data decoded, external data referenced but not read. */
import path from 'node:path';
import { AutoparError } from '../errors.js';
import { type DType, dtypeFromOnnx } from '../ir/dtype.js';
import { type HostTensor, hostFromBytes, hostTensor, numel } from '../ir/host-tensor.js';
import type { ExternalData } from '../ir/types.js';
import { type ITensorProto, toNum } from './proto.js';

export interface DecodedTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: HostTensor | ExternalData;
}

/** Largest tensor (elements) autopar accepts from a model file: guards corrupted dims. */
const MAX_ELEMENTS = 2 ** 46;

export function decodeTensor(t: ITensorProto, where: string, modelDir: string): DecodedTensor {
  const name = t.name ?? '';
  const code = t.dataType ?? 0;
  const dtype = dtypeFromOnnx(code);
  if (!dtype) throw new AutoparError('E_PARSE', `${where}: tensor '${name}' has unknown data type ${code}`);
  const shape = (t.dims ?? []).map(toNum);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new AutoparError('E_PARSE', `${where}: tensor '${name}' has invalid dims [${shape.join(',')}]`);
  }
  const n = numel(shape);
  if (n > MAX_ELEMENTS) throw new AutoparError('E_PARSE', `${where}: tensor '${name}' claims ${n} elements`);
  if (t.dataLocation === 1) {
    const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = kv.get('location');
    if (!location) throw new AutoparError('E_PARSE', `${where}: external tensor '${name}' has no location`);
    const offset = Number(kv.get('offset') ?? '0');
    const lengthStr = kv.get('length');
    const ext: ExternalData = {
      kind: 'external',
      location,
      path: path.resolve(modelDir, location),
      offset: Number.isFinite(offset) ? offset : 0,
      length: lengthStr === undefined ? undefined : Number(lengthStr),
    };
    return { name, dtype, shape, data: ext };
  }
  return { name, dtype, shape, data: inlineData(t, dtype, shape, name, where) };
}

function inlineData(t: ITensorProto, dtype: DType, shape: readonly number[], name: string, where: string): HostTensor {
  const n = numel(shape);
  const raw = t.rawData;
  try {
    if (raw && raw.byteLength > 0) return hostFromBytes(dtype, shape, raw);
    let vals: ArrayLike<number>;
    switch (dtype) {
      case 'float32':
        vals = t.floatData ?? [];
        break;
      case 'float64':
        vals = t.doubleData ?? [];
        break;
      case 'int64':
        vals = (t.int64Data ?? []).map(toNum);
        break;
      case 'uint64':
      case 'uint32':
        vals = (t.uint64Data ?? []).map(toNum);
        break;
      case 'int32':
      case 'int16':
      case 'int8':
      case 'uint16':
      case 'uint8':
      case 'bool':
        vals = t.int32Data ?? [];
        break;
      case 'float16':
      case 'bfloat16': {
        // Stored as uint16 bit patterns in int32_data.
        const bits = t.int32Data ?? [];
        const bytes = new Uint8Array(bits.length * 2);
        const view = new DataView(bytes.buffer);
        bits.forEach((b, i) => view.setUint16(i * 2, b, true));
        return hostFromBytes(dtype, shape, bytes);
      }
      case 'string':
        throw new AutoparError('E_UNSUPPORTED_OP', `${where}: string tensor '${name}' is not supported`);
    }
    if (vals.length !== n) throw new Error(`has ${vals.length} values for shape [${shape.join(',')}]`);
    return hostTensor(dtype, shape, vals);
  } catch (e) {
    if (e instanceof AutoparError) throw e;
    throw new AutoparError('E_PARSE', `${where}: tensor '${name}' ${e instanceof Error ? e.message : String(e)}`);
  }
}
