/**
 * Builds small ONNX models in tests: ModelProto bytes from a plain description (nodes,
 * initializers with raw data, inputs with fixed or symbolic dims, opset), encoded with
 * the same generated schema the importer decodes with.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DType, dtypeToOnnx } from '../../src/ir/dtype.js';
import { hostTensor, hostToBytes, numel } from '../../src/ir/host-tensor.js';
import { type IAttributeProto, type IGraphProto, type INodeProto, type ITensorProto, type IValueInfoProto, onnx } from '../../src/onnx/proto.js';

type IModelProto = NonNullable<Parameters<typeof onnx.ModelProto.create>[0]>;

/** A tensor with inline (raw) data, or data in an external file beside the model. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Inline values (row-major); default: 0, 1, 2, ... scaled by 0.01 for floats. */
  readonly values?: ArrayLike<number>;
  /** Point at external data instead of inlining the values. */
  readonly external?: { readonly location: string; readonly offset?: number };
}

/** A graph input or output; `shape` entries are sizes or symbolic names. */
export interface ValueSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly (number | string)[];
}

export type AttrSpec =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  | { readonly tensor: TensorSpec };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attrs?: Readonly<Record<string, AttrSpec>>;
}

export interface ModelSpec {
  readonly name?: string;
  readonly opset?: number;
  readonly irVersion?: number;
  readonly inputs: readonly ValueSpec[];
  /** Outputs; a bare name leaves the output's type unstated. */
  readonly outputs: readonly (ValueSpec | string)[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly TensorSpec[];
}

const FLOATS: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

export function tensorProto(t: TensorSpec): ITensorProto {
  const base: ITensorProto = { name: t.name, dataType: dtypeToOnnx(t.dtype), dims: [...t.dims] };
  if (t.external) {
    return {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: t.external.location },
        { key: 'offset', value: String(t.external.offset ?? 0) },
      ],
    };
  }
  const n = numel(t.dims);
  const values = t.values ?? Array.from({ length: n }, (_, i) => (FLOATS.has(t.dtype) ? i * 0.01 : i));
  return { ...base, rawData: hostToBytes(hostTensor(t.dtype, t.dims, values)) };
}

function valueInfo(v: ValueSpec | string): IValueInfoProto {
  if (typeof v === 'string') return { name: v };
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: dtypeToOnnx(v.dtype),
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: AttrSpec): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return { name, type: T.INT, i: a.int };
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  if ('ints' in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ('floats' in a) return { name, type: T.FLOATS, floats: [...a.floats] };
  if ('string' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.string) };
  return { name, type: T.TENSOR, t: tensorProto(a.tensor) };
}

function nodeProto(n: NodeSpec, i: number): INodeProto {
  return {
    name: n.name ?? `${n.op}_${i}`,
    opType: n.op,
    domain: n.domain ?? '',
    input: [...n.inputs],
    output: [...n.outputs],
    attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
  };
}

export function modelProto(spec: ModelSpec): IModelProto {
  const opset = spec.opset ?? 17;
  const graph: IGraphProto = {
    name: spec.name ?? 'test',
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    node: spec.nodes.map(nodeProto),
    initializer: (spec.initializers ?? []).map(tensorProto),
  };
  // IR version 7 for opsets up to 14, 8 up to 18, 9 beyond (what onnx.helper would pick).
  const irVersion = spec.irVersion ?? (opset <= 14 ? 7 : opset <= 18 ? 8 : 9);
  return { irVersion, producerName: 'autopar-tests', opsetImport: [{ domain: '', version: opset }], graph };
}

export function buildModel(spec: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(modelProto(spec))).finish();
}

/** A fresh temporary folder for one test file's outputs. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `autopar-${prefix}-`));
}

/** Writes a built model to `dir/name.onnx` and returns its path. */
export function writeModel(dir: string, name: string, spec: ModelSpec | Uint8Array): string {
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, spec instanceof Uint8Array ? spec : buildModel(spec));
  return file;
}
