/**
 * Writes ONNX graphs the way PyTorch's exporter lays them out: nodes named after the
 * module path (`/blocks.0/attn/MatMul`, outputs `<node>_output_0`), scalars and shape
 * vectors as Constant nodes, parameters as initializers whose data is external. The
 * external data is referenced (location, offset, length) and only written on request,
 * so a 175B-parameter graph is a few megabytes.
 */
import { SeededRandom } from './seeded-random.js';
import fs from 'node:fs';
import path from 'node:path';
import { AutoparError } from '../errors.js';
import { type DType, dtypeToOnnx } from '../ir/dtype.js';
import { hostTensor, hostToBytes, numel } from '../ir/host-tensor.js';
import { type IAttributeProto, type IGraphProto, type INodeProto, type ITensorProto, type IValueInfoProto, onnx } from '../onnx/proto.js';

export type Attr =
  | { readonly int: number }
  | { readonly ints: readonly number[] }
  | { readonly float: number }
  | { readonly string: string }
  | { readonly tensor: ITensorProto };

/** How a parameter is initialised when weights are written (GPT-2/torchvision style). */
export type Init = { readonly normal: number } | 'ones' | 'zeros';

export interface ParamRecord {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
  readonly offset: number;
}

export type Dim = number | string;

const T = onnx.AttributeProto.AttributeType;

function attribute(name: string, a: Attr): IAttributeProto {
  if ('int' in a) return { name, type: T.INT, i: a.int };
  if ('ints' in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  if ('string' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.string) };
  return { name, type: T.TENSOR, t: a.tensor };
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: dtypeToOnnx(dtype), shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

export class OnnxWriter {
  readonly opset: number;
  readonly weightsFile: string;
  private readonly nodes: INodeProto[] = [];
  private readonly inits: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly params: ParamRecord[] = [];
  private readonly scopes: string[] = [];
  private readonly used = new Map<string, number>();
  private offset = 0;

  /** `weightsFile`: the external data file's name, relative to the model's folder. */
  constructor(opset: number, weightsFile: string) {
    this.opset = opset;
    this.weightsFile = weightsFile;
  }

  /** Runs `body` inside a module scope (names get `/scope/...`, as torch.onnx does). */
  scope<R>(name: string, body: () => R): R {
    this.scopes.push(name);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  /** A parameter name inside the current module: `blocks.0.qkv.weight`. */
  paramName(leaf: string): string {
    return [...this.scopes, leaf].join('.');
  }

  /** `/a/b/Op`, `/a/b/Op_1`, ... : unique per scope and op type, like the exporter. */
  private nodeName(op: string): string {
    const base = `/${this.scopes.join('/')}${this.scopes.length ? '/' : ''}${op}`;
    const k = this.used.get(base) ?? 0;
    this.used.set(base, k + 1);
    return k === 0 ? base : `${base}_${k}`;
  }

  /** One node; returns its outputs' names. */
  node(op: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}, outputs = 1): string[] {
    const name = this.nodeName(op);
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    this.nodes.push({ name, opType: op, domain: '', input: [...inputs], output: outs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs;
  }

  /** A single-output node. */
  op(op: string, inputs: readonly string[], attrs: Readonly<Record<string, Attr>> = {}): string {
    return this.node(op, inputs, attrs)[0] ?? '';
  }

  private constant(dtype: DType, dims: readonly number[], values: readonly number[]): string {
    const tensor: ITensorProto = { dataType: dtypeToOnnx(dtype), dims: [...dims], rawData: hostToBytes(hostTensor(dtype, dims, values)) };
    return this.op('Constant', [], { value: { tensor } });
  }

  /** An int64 vector constant (shape arguments, axes). */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** An int64 scalar constant (indices, Range bounds). */
  int(value: number): string {
    return this.constant('int64', [], [value]);
  }

  /** A float32 scalar constant (scales, epsilons, -inf). */
  float(value: number): string {
    return this.constant('float32', [], [value]);
  }

  /** A float32 vector constant. */
  floats(values: readonly number[]): string {
    return this.constant('float32', [values.length], values);
  }

  input(name: string, dtype: DType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  output(name: string, dtype: DType, shape: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  /** Renames a node output to a graph output name (the exporter names outputs this way). */
  rename(value: string, to: string): string {
    for (const n of this.nodes) n.output = (n.output ?? []).map((o) => (o === value ? to : o));
    return to;
  }

  /** A float32 parameter: an initializer whose data lives in the external weights file. */
  param(name: string, shape: readonly number[], init: Init): string {
    const length = numel(shape) * 4;
    this.inits.push({
      name,
      dataType: dtypeToOnnx('float32'),
      dims: [...shape],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.weightsFile },
        { key: 'offset', value: String(this.offset) },
        { key: 'length', value: String(length) },
      ],
    });
    this.params.push({ name, shape, init, offset: this.offset });
    // 4 KiB alignment, as onnx.save_model(..., save_as_external_data=True) may align for mmap.
    this.offset += Math.ceil(length / 4096) * 4096;
    return name;
  }

  /** Parameters in file order, and the weights file's size. */
  parameters(): { readonly params: readonly ParamRecord[]; readonly bytes: number; readonly count: number } {
    return { params: this.params, bytes: this.offset, count: this.params.reduce((s, p) => s + numel(p.shape), 0) };
  }

  nodeCount(): number {
    return this.nodes.length;
  }

  encode(graphName: string, docString: string): Uint8Array {
    const graph: IGraphProto = { name: graphName, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs, docString };
    // IR 8 goes with opsets 15 to 18 (what torch.onnx writes for opset 17).
    const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'autopar examples', producerVersion: '0.1.0', opsetImport: [{ domain: '', version: this.opset }], graph });
    return onnx.ModelProto.encode(model).finish();
  }
}


/** Writes to `file` through a temporary name, renamed when complete (no half-written file). */
function writeAtomically(file: string, write: (tmp: string) => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    write(tmp);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (e instanceof AutoparError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new AutoparError('E_FILE', `${file}: cannot write: ${why}`);
  }
}

/** Random weights in the layout `param` recorded, streamed in chunks (never the whole file in memory). */
function writeWeights(file: string, params: readonly ParamRecord[], bytes: number, seed: number): void {
  writeAtomically(file, (tmp) => {
    const fd = fs.openSync(tmp, 'w');
    try {
      const rng = new SeededRandom(seed);
      const chunk = new Float32Array(1 << 16);
      for (const p of params) {
        let left = numel(p.shape);
        let pos = p.offset;
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          for (let i = 0; i < n; i++) chunk[i] = p.init === 'ones' ? 1 : p.init === 'zeros' ? 0 : rng.normal(p.init.normal);
          fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 4), 0, n * 4, pos);
          pos += n * 4;
          left -= n;
        }
      }
      // Padding after the last tensor, so the file is as long as the offsets say.
      if (bytes > 0) fs.ftruncateSync(fd, bytes);
    } finally {
      fs.closeSync(fd);
    }
  });
}

export interface SaveOptions {
  /** Write seeded random weights into the external data file; absent: graph only. */
  readonly seed?: number;
  readonly graphName: string;
  readonly docString: string;
}

export interface SaveResult {
  readonly file: string;
  readonly weightsFile: string;
  readonly weightsWritten: boolean;
  readonly modelBytes: number;
  readonly weightsBytes: number;
}

/** The external data file's name for a model file: `gpt.onnx` -> `gpt.weights.bin`. */
export function weightsFileFor(file: string): string {
  return `${path.basename(file).replace(/\.onnx$/i, '')}.weights.bin`;
}

export function save(w: OnnxWriter, file: string, opts: SaveOptions): SaveResult {
  const bytes = w.encode(opts.graphName, opts.docString);
  const { params, bytes: weightsBytes } = w.parameters();
  const weightsPath = path.join(path.dirname(file), w.weightsFile);
  // Weights first: a model file that exists always has the data it claims written, or none.
  if (opts.seed !== undefined) writeWeights(weightsPath, params, weightsBytes, opts.seed);
  writeAtomically(file, (tmp) => fs.writeFileSync(tmp, bytes));
  // A weights file left by an earlier --weights run of this path no longer matches the
  // graph: graph only means no weights file, so that executing fails naming it.
  if (opts.seed === undefined) fs.rmSync(weightsPath, { force: true });
  return { file, weightsFile: weightsPath, weightsWritten: opts.seed !== undefined, modelBytes: bytes.byteLength, weightsBytes };
}
