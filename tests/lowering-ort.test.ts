/**
 * tfjs lowerings that ONNX's conformance data (tests/fixtures/onnx-node) does not reach,
 * checked against onnxruntime on seeded random inputs: 3-D convolutions and pools with
 * groups, strides, dilations, pads and ceil_mode; conv2d with strides and dilations
 * together; MaxPool's Indices output with padding; ScatterND reductions with duplicate
 * indices; casts to float16 and bfloat16.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { DType } from '../src/ir/dtype.js';
import type { HostTensor } from '../src/ir/host-tensor.js';
import { importBytes } from '../src/onnx/import.js';
import { compareTensors } from '../src/reference/compare.js';
import { execute } from '../src/runtime/executor.js';
import { type AttrSpec, buildModel, type TensorSpec } from './helpers/onnx-builder.js';
import { Rng } from './helpers/random.js';

interface Case {
  readonly name: string;
  readonly op: string;
  readonly opset?: number;
  /** Shape of the graph input x (float32, uniform in [-1, 1)). */
  readonly x: readonly number[];
  /** Further inputs, as initializers (float32 random unless values are given). */
  readonly inits?: readonly { readonly name: string; readonly dtype?: DType; readonly dims: readonly number[]; readonly values?: readonly number[] }[];
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  readonly outputs?: readonly { readonly name: string; readonly dtype: DType }[];
  /** Round x to multiples of 1/4, so that windows hold ties. */
  readonly ties?: boolean;
  /** A second node applied to the (single) output, e.g. a cast back to float32. */
  readonly then?: { readonly op: string; readonly attrs: Readonly<Record<string, AttrSpec>> };
}

const ints = (...v: number[]): AttrSpec => ({ ints: v });
const int = (v: number): AttrSpec => ({ int: v });

/** ScatterND of `updates` into a [4, 3, 2] input at `indices` (its last dimension: the index depth). */
function scatterCase(reduction: 'none' | 'add' | 'mul' | 'max' | 'min', what: string, dims: readonly number[], values: readonly number[]): Case {
  const depth = dims[dims.length - 1] ?? 1;
  return {
    name: `ScatterND reduction '${reduction}', ${what}`,
    op: 'ScatterND',
    opset: 18,
    x: [4, 3, 2],
    inits: [
      { name: 'indices', dtype: 'int64', dims: [...dims], values: [...values] },
      { name: 'updates', dims: [...dims.slice(0, -1), ...[4, 3, 2].slice(depth)] },
    ],
    attrs: { reduction: { string: reduction } },
  };
}

const CASES: readonly Case[] = [
  {
    name: 'Conv 3-D, 2 groups, strides, dilations, asymmetric pads, bias',
    op: 'Conv',
    x: [2, 4, 6, 7, 5],
    inits: [
      { name: 'w', dims: [6, 2, 3, 2, 2] },
      { name: 'b', dims: [6] },
    ],
    attrs: { group: int(2), strides: ints(2, 1, 2), dilations: ints(1, 2, 1), pads: ints(1, 0, 1, 1, 1, 0) },
  },
  {
    name: 'Conv 3-D, strides and dilations on the same axes',
    op: 'Conv',
    x: [1, 3, 5, 6, 7],
    inits: [{ name: 'w', dims: [4, 3, 2, 3, 2] }],
    attrs: { strides: ints(2, 2, 2), dilations: ints(2, 1, 2) },
  },
  {
    name: 'Conv 2-D, strides and dilations on the same axes',
    op: 'Conv',
    x: [1, 3, 9, 10],
    inits: [{ name: 'w', dims: [4, 3, 3, 2] }],
    attrs: { strides: ints(2, 3), dilations: ints(2, 2), pads: ints(1, 0, 2, 1) },
  },
  {
    name: 'ConvTranspose 3-D, 2 groups, strides, dilations, pads, output_padding, bias',
    op: 'ConvTranspose',
    x: [2, 4, 3, 4, 3],
    inits: [
      { name: 'w', dims: [4, 3, 2, 3, 2] },
      { name: 'b', dims: [6] },
    ],
    attrs: { group: int(2), strides: ints(2, 1, 3), dilations: ints(1, 2, 1), pads: ints(1, 0, 0, 0, 1, 1), output_padding: ints(1, 0, 1) },
  },
  {
    name: 'ConvTranspose 3-D, SAME_UPPER, stride 2',
    op: 'ConvTranspose',
    x: [1, 2, 3, 3, 3],
    inits: [{ name: 'w', dims: [2, 3, 3, 3, 3] }],
    attrs: { strides: ints(2, 2, 2), auto_pad: { string: 'SAME_UPPER' } },
  },
  {
    name: 'MaxPool 3-D, strides, pads, ceil_mode',
    op: 'MaxPool',
    x: [1, 2, 7, 8, 9],
    attrs: { kernel_shape: ints(3, 2, 2), strides: ints(2, 1, 2), pads: ints(1, 0, 1, 1, 1, 0), ceil_mode: int(1) },
  },
  { name: 'MaxPool 3-D, dilations', op: 'MaxPool', x: [1, 2, 7, 8, 9], attrs: { kernel_shape: ints(2, 2, 2), dilations: ints(2, 1, 2) } },
  {
    name: 'AveragePool 3-D, count_include_pad',
    op: 'AveragePool',
    x: [1, 2, 7, 8, 9],
    attrs: { kernel_shape: ints(3, 2, 2), strides: ints(2, 1, 2), pads: ints(1, 0, 1, 1, 1, 0), count_include_pad: int(1) },
  },
  {
    name: 'AveragePool 3-D, ceil_mode',
    op: 'AveragePool',
    x: [1, 2, 7, 8, 9],
    attrs: { kernel_shape: ints(3, 2, 2), strides: ints(2, 1, 2), pads: ints(1, 0, 1, 1, 1, 0), ceil_mode: int(1) },
  },
  {
    name: 'MaxPool 2-D with Indices, pads, strides, ceil_mode, 2 images x 3 channels',
    op: 'MaxPool',
    x: [2, 3, 7, 8],
    attrs: { kernel_shape: ints(3, 2), strides: ints(2, 2), pads: ints(1, 0, 1, 1), ceil_mode: int(1) },
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'i', dtype: 'int64' },
    ],
  },
  {
    name: 'MaxPool 2-D with Indices, column-major (storage_order 1)',
    op: 'MaxPool',
    x: [2, 3, 6, 5],
    attrs: { kernel_shape: ints(2, 3), strides: ints(1, 2), pads: ints(0, 1, 1, 1), storage_order: int(1) },
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'i', dtype: 'int64' },
    ],
  },
  {
    name: 'MaxPool 2-D with Indices, dilations, ties',
    op: 'MaxPool',
    x: [1, 2, 8, 9],
    ties: true,
    attrs: { kernel_shape: ints(2, 3), dilations: ints(2, 2), pads: ints(1, 1, 0, 1) },
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'i', dtype: 'int64' },
    ],
  },
  {
    name: 'MaxPool 1-D with Indices',
    op: 'MaxPool',
    x: [2, 3, 11],
    attrs: { kernel_shape: ints(3), strides: ints(2), pads: ints(1, 1) },
    outputs: [
      { name: 'y', dtype: 'float32' },
      { name: 'i', dtype: 'int64' },
    ],
  },
  ...(['mul', 'max', 'min'] as const).map((r) => scatterCase(r, 'duplicate indices', [5, 1], [0, 2, 0, 3, 2])),
  // Negative indices count from the end (tf.scatterND alone would write out of bounds).
  ...(['none', 'add'] as const).map((r) => scatterCase(r, 'negative indices', [3, 2], [-1, 0, 1, -2, -4, 2])),
  { name: 'Cast to float16', op: 'Cast', x: [64], attrs: { to: int(10) }, outputs: [{ name: 'y', dtype: 'float16' }] },
  // onnxruntime-node returns no bfloat16 tensors: cast back to float32 inside the model.
  { name: 'Cast to bfloat16 and back', op: 'Cast', x: [64], attrs: { to: int(16) }, then: { op: 'Cast', attrs: { to: int(1) } } },
];

/** onnxruntime's output as a host tensor; float16 comes back as raw bits. */
function fromOrt(t: ort.Tensor, dtype: DType): HostTensor {
  const shape = [...t.dims];
  if (dtype === 'float16') {
    const bits = t.data;
    if (!(bits instanceof Uint16Array)) throw new Error(`${dtype} output is not a Uint16Array`);
    return { dtype, shape, data: Float32Array.from(bits, halfToFloat) };
  }
  const d = t.data;
  if (d instanceof Float32Array) return { dtype, shape, data: d };
  if (d instanceof BigInt64Array) return { dtype, shape, data: Float64Array.from(d, (v) => Number(v)) };
  throw new Error(`unexpected onnxruntime data for ${dtype}`);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 0x1f) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

describe('tfjs lowerings agree with onnxruntime where no conformance case reaches', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const rng = new Rng(20240607);
    const numel = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);
    const x = Float32Array.from({ length: numel(c.x) }, () => (c.ties ? Math.round(rng.uniform(-4, 4)) / 4 : rng.uniform(-1, 1)));
    const inits: TensorSpec[] = (c.inits ?? []).map((t) => ({
      name: t.name,
      dtype: t.dtype ?? 'float32',
      dims: t.dims,
      values: t.values ?? Array.from({ length: numel(t.dims) }, () => rng.uniform(-1, 1)),
    }));
    const outputs = c.outputs ?? [{ name: 'y', dtype: 'float32' as const }];
    const bytes = buildModel({
      opset: c.opset ?? 17,
      inputs: [{ name: 'x', dtype: 'float32', shape: c.x }],
      outputs: outputs.map((o) => o.name),
      initializers: inits,
      nodes: c.then
        ? [
            { op: c.op, inputs: ['x', ...inits.map((t) => t.name)], outputs: ['t'], attrs: c.attrs },
            { op: c.then.op, inputs: ['t'], outputs: outputs.map((o) => o.name), attrs: c.then.attrs },
          ]
        : [{ op: c.op, inputs: ['x', ...inits.map((t) => t.name)], outputs: outputs.map((o) => o.name), attrs: c.attrs }],
    });
    const session = await ort.InferenceSession.create(bytes);
    const want = await session.run({ x: new ort.Tensor('float32', x, [...c.x]) });
    const { graph } = importBytes(bytes, `${c.op}.onnx`);
    const got = await execute(graph, new Map([['x', { dtype: 'float32', shape: [...c.x], data: x }]]));
    for (const o of outputs) {
      const w = want[o.name];
      const g = got.outputs.get(o.name);
      if (!w || !g) throw new Error(`output ${o.name} missing`);
      const wt = fromOrt(w, o.dtype);
      expect(g.shape, `${o.name} shape`).toEqual(wt.shape);
      if (o.dtype === 'int64') expect(Array.from(g.data), `${o.name} values`).toEqual(Array.from(wt.data));
      // Casts must round exactly as onnxruntime does; other float32 results agree to 1e-5.
      else expect(compareTensors(g, wt).maxRelError, `${o.name} max relative error`).toBeLessThanOrEqual(c.op === 'Cast' ? 0 : 1e-5);
    }
  });
});
