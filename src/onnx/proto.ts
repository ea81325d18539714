/** The ONNX protobuf schema (generated static code shipped by onnx-proto). */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = ReturnType<typeof onnx.ModelProto.decode>;
export type ITensorProto = NonNullable<Parameters<typeof onnx.TensorProto.create>[0]>;
export type IAttributeProto = NonNullable<Parameters<typeof onnx.AttributeProto.create>[0]>;
export type IValueInfoProto = NonNullable<Parameters<typeof onnx.ValueInfoProto.create>[0]>;
export type IGraphProto = NonNullable<Parameters<typeof onnx.GraphProto.create>[0]>;
export type INodeProto = NonNullable<Parameters<typeof onnx.NodeProto.create>[0]>;

/** protobufjs gives int64 fields as Long objects or numbers. */
export type LongLike = number | { toNumber(): number };

export function toNum(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
