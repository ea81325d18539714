/** Element types, their sizes, and the mapping from ONNX's TensorProto.DataType. */
export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'
  | 'string';

export function dtypeBytes(dt: DType): number {
  switch (dt) {
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'int8':
    case 'uint8':
    case 'bool':
      return 1;
    case 'string':
      return 8; // a reference; strings never reach devices
  }
}

export function isFloat(dt: DType): boolean {
  return dt === 'float32' || dt === 'float16' || dt === 'bfloat16' || dt === 'float64';
}

export function isInteger(dt: DType): boolean {
  switch (dt) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'uint64':
      return true;
    default:
      return false;
  }
}

/** ONNX TensorProto.DataType codes (onnx.proto3). */
const ONNX_CODES: ReadonlyMap<number, DType> = new Map<number, DType>([
  [1, 'float32'],
  [2, 'uint8'],
  [3, 'int8'],
  [4, 'uint16'],
  [5, 'int16'],
  [6, 'int32'],
  [7, 'int64'],
  [8, 'string'],
  [9, 'bool'],
  [10, 'float16'],
  [11, 'float64'],
  [12, 'uint32'],
  [13, 'uint64'],
  [16, 'bfloat16'],
]);

export function dtypeFromOnnx(code: number): DType | undefined {
  return ONNX_CODES.get(code);
}

export function dtypeToOnnx(dt: DType): number {
  for (const [code, name] of ONNX_CODES) if (name === dt) return code;
  throw new Error(`no ONNX code for ${dt}`);
}
